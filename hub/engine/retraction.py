"""Retraction of time cards that a later-arriving record contradicts (系统撤销).

A time rule decides from the *absence* of a record: "not completed by the due date", "nobody back
at the window within 15 minutes". A record can reach the hub after the moment it describes — an
agent back from an outage, the first import of a department's history (trigger capture reads each
changed row's *current* state, so a case's completion can arrive before the 补正 that paused its
clock), a fact typed in late by staff. When such a record shows that a raised time card's
condition never held, the engine retracts the card: state ``withdrawn``, actor ``system``, the
record's hash as evidence and the reason in words.

Two limits keep this from becoming a way to erase cards:

- a card is judged on the facts dated before its moment: an extension granted after the due date
  (R9's business) does not move the due date a card was decided on, and a completion after that
  due date leaves the card standing (for disclosures: an extension dated after the card's moment);
- the late entry itself is judged by R8 (体外循环/迟报) like any other record.

The functions here are pure: they say *why* a card no longer holds (a reason) or ``None``.
"""

from __future__ import annotations

from datetime import date, datetime

from hub.engine.calendar import WorkCalendar
from hub.engine.cards import Card, CardState
from hub.engine.cases import CaseState
from hub.engine.complaints import ComplaintState
from hub.engine.config import EngineConfig
from hub.engine.disclosure import DisclosureState
from hub.engine.localtime import ONE_DAY, local_date, start_of
from hub.engine.windows import WindowState, threshold_moment
from hub.engine.wording import plain, when

SYSTEM = "system"


def _when(end: datetime | date | None, now: datetime) -> str:
    if end is None:
        return f"至今（{local_date(now)}）尚未到期"
    day = local_date(end) if isinstance(end, datetime) else end
    return f"已于 {day} 办结/答复，未超期"


def case_reason(card: Card, case: CaseState, calendar: WorkCalendar, now: datetime) -> str | None:
    """Why a case's time card (R1, R2, statutory R3, R11) no longer holds, or None if it does."""
    clock, accepted = case.clock, case.accepted_at
    if clock is None or accepted is None:
        return None  # acceptance not (re)known: nothing to judge by
    d = card.decision
    end = case.completed_at
    until = end if end is not None else now
    if d.rule == "R11":
        evidence = d.key.split("|", 2)[2]
        for rating in case.ratings:
            if rating.evidence == evidence and rating.rectified_at is not None:
                if rating.rectified_at < d.moment:
                    return f"差评已于 {local_date(rating.rectified_at)} 整改，未超过整改期限"
        return None
    known = local_date(d.moment)  # an extension granted on or after this day cannot undo the card
    if d.rule == "R1":
        if clock.promised.value <= 0:
            return "即办件没有到期提醒"
        reminder = clock.reminder(calendar, case.thresholds.reminder_days, known)
        if reminder is None:
            return "计时已暂停（补正或特别程序），尚未到提醒日"
        if max(start_of(reminder), accepted) <= until:
            return None
        return f"按后到记录，提醒日应为 {reminder}；办件{_when(end, now)}"
    if d.rule == "R2":
        due, what = clock.due(calendar, known), "承诺办结日"
    elif d.rule == "R3" and "|statutory:" in d.key:
        statutory = clock.statutory_due(calendar, known)
        if statutory is None:
            return None
        due, what = statutory, "法定办结日"
    else:
        return None
    if due.day is None:
        return f"计时已暂停（补正或特别程序），尚未到{what}"
    if start_of(due.day + ONE_DAY) <= until:
        return None
    return f"按后到记录，{what}应为 {due.day}；办件{_when(end, now)}"


def escalation_reason(card: Card, basis: Card | None, case: CaseState | None) -> str | None:
    """Why a red escalation card (R3 of an unrectified yellow card) no longer holds."""
    d = card.decision
    if basis is not None and basis.state is CardState.WITHDRAWN:
        return f"被升级的黄牌『{plain(basis.decision.message)}』已撤销"
    if case is None:
        return None
    escalated = d.details.get("escalates_rule")
    if escalated == "R2" and case.completed_at is not None and case.completed_at < d.moment:
        return f"办件已于 {local_date(case.completed_at)} 办结，督办期限内已纠正"
    if escalated == "R11" and basis is not None:
        evidence = basis.decision.key.split("|", 2)[2]
        for rating in case.ratings:
            if rating.evidence == evidence and rating.rectified_at is not None:
                if rating.rectified_at < d.moment:
                    return f"差评已于 {local_date(rating.rectified_at)} 整改，督办期限内已纠正"
    return None


def _day_reason(due: date | None, done: date | None, now: datetime, what: str) -> str | None:
    """A date-based deadline: holds if still open past ``moment`` or done after ``due``."""
    if due is None:
        return f"计时已暂停，尚未到{what}"
    if done is None:
        return None if start_of(due + ONE_DAY) <= now else f"按后到记录，{what}为 {due}，尚未到期"
    if done > due:
        return None
    return f"按后到记录，{what}为 {due}，已于 {done} 完成，未超期"


def disclosure_reason(card: Card, state: DisclosureState, calendar: WorkCalendar,
                      config: EngineConfig, now: datetime) -> str | None:  # fmt: skip
    """Why an information-disclosure R1/R2 card no longer holds."""
    due = state.due(calendar, config)
    if due is None:
        return None
    rule = card.decision.rule
    if rule == "R2":
        return _day_reason(due.day, state.answered, now, "答复期限")
    if rule == "R1" and state.answered is not None and due.day is not None:
        if start_of(state.answered) < card.decision.moment:
            return f"已于 {state.answered} 答复，在提醒日之前"
    return None


def complaint_reason(card: Card, state: ComplaintState, calendar: WorkCalendar,
                     config: EngineConfig, now: datetime) -> str | None:  # fmt: skip
    """Why a complaint R2 card (acceptance or answer not in time) no longer holds."""
    if card.decision.rule != "R2":
        return None
    stage = card.decision.details.get("stage")
    if stage == "accept":  # decided: accepted, answered, or closed without acceptance (不予受理)
        done = min((d for d in (state.accepted, state.answered, state.closed) if d is not None), default=None)
        due = state.accept_due(calendar, config)
        return _day_reason(due.day if due else None, done, now, "受理期限")
    if stage == "answer":
        due = state.answer_due(calendar, config)
        if due is None:
            return None
        done = min((d for d in (state.answered, state.closed) if d is not None), default=None)
        return _day_reason(due.day, done, now, "答复期限")
    return None


def window_reason(card: Card, window: WindowState, calendar: WorkCalendar,
                  config: EngineConfig) -> str | None:  # fmt: skip
    """Why an R10 absence card no longer holds: the absence ended before the threshold."""
    if card.decision.rule != "R10":
        return None
    since = card.decision.details.get("absent_since")
    th = config.for_case(None, window.dept_code)
    for absence in window.absences:
        if absence.start.isoformat() != since or absence.end is None:
            continue
        if threshold_moment(absence.start, absence.end, th.absence_minutes, th.office_hours,
                            calendar) is None:  # fmt: skip
            return f"窗口人员已于 {when(absence.end)} 回到岗位，离岗未超过 {th.absence_minutes} 分钟"
    return None
