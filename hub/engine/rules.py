"""Rules R1–R11 (预警纠错, DOMAIN.md §4): the catalogue, event rules and time rules of a case.

*Event rules* (R4–R9) look at an incoming event and the case state *before* it is applied and
return :class:`CardDecision` s. *Time rules* (R1–R3, R11, and the 督办 escalation) are expressed as
:class:`Pending` moments — "if nothing changes, at this moment this card is due" — which the
scheduler keeps; state changes recompute them. R10 lives in :mod:`hub.engine.windows`.

Card keys are deterministic (``rule|subject|detail``), so evaluating the same facts twice — after
a restart, or on a replayed event — yields the same key and the caller drops the duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from hub.engine.calendar import WorkCalendar
from hub.engine.cards import Card, CardDecision
from hub.engine.cases import CaseState, Deadlines, Rating
from hub.engine.clock import Due, Unit, due_date
from hub.engine.config import EngineConfig, Level, RuleSetting, Thresholds
from hub.engine.events import CaseEvent, Completed, Event, Refused, SupplementRequested, Suspended
from hub.engine.localtime import ONE_DAY, local_date, start_of
from hub.engine.wording import Context, title


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule's id (监察规则编号), name, default level, type and how it is evaluated."""

    id: str
    name: str
    level: Level
    rule_type: str  # 时效, 流程, 内容, 收费, 其他
    kind: str  # "event" or "time"


RULES: Mapping[str, RuleSpec] = {
    spec.id: spec
    for spec in (
        RuleSpec("R1", "提醒", Level.REMINDER, "时效", "time"),
        RuleSpec("R2", "超期", Level.YELLOW, "时效", "time"),
        RuleSpec("R3", "督办逾期/超法定时限", Level.RED, "时效", "time"),
        RuleSpec("R4", "违规收费", Level.RED, "收费", "event"),
        RuleSpec("R5", "不予受理/退回未说明理由", Level.YELLOW, "内容", "event"),
        RuleSpec("R6", "一次性告知", Level.YELLOW, "流程", "event"),
        RuleSpec("R7", "异常办结", Level.REMINDER, "流程", "event"),
        RuleSpec("R8", "体外循环/迟报", Level.YELLOW, "流程", "event"),
        RuleSpec("R9", "违规延长/违规挂起", Level.YELLOW, "流程", "event"),
        RuleSpec("R10", "离岗", Level.REMINDER, "其他", "time"),
        RuleSpec("R11", "差评未整改", Level.YELLOW, "其他", "time"),
    )
}


class Pending(NamedTuple):
    """A card that becomes due at ``moment`` unless the state changes first."""

    moment: datetime
    key: str
    make: Callable[[], CardDecision | None]


def decide(
    config: EngineConfig,
    rule_id: str,
    key: str,
    subject: str,
    moment: datetime,
    message: str,
    *,
    case: CaseState | None = None,
    evidence: tuple[str, ...] = (),
    level: Level | None = None,
    escalates: str | None = None,
    case_id: str | None = None,
    dept_code: str | None = None,
    window_id: str | None = None,
    staff_id: str | None = None,
    item_code: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> CardDecision | None:
    """A decision for ``rule_id``, or None when the rule is switched off in the config.

    Who it concerns comes from the explicit arguments, else from ``case``; a ``case:<id>`` subject
    without a known case (R5 on a refusal, R8 on a case the engine never saw accepted) still names
    its case, so the card links to it."""
    setting = config.rule(rule_id)
    if case_id is None and case is None and subject.startswith("case:"):
        case_id = subject[len("case:"):] or None
    if not setting.enabled:
        return None
    spec = RULES[rule_id]
    return CardDecision(
        key=key,
        rule=rule_id,
        level=level or setting.level or spec.level,
        rule_type=spec.rule_type,
        subject=subject,
        moment=moment,
        message=message,
        evidence=evidence,
        case_id=case_id or (case.case_id if case else None),
        dept_code=dept_code or (case.dept_code if case else None),
        window_id=window_id or (case.window_id if case else None),
        staff_id=staff_id or (case.staff_id if case else None),
        item_code=item_code or (case.item_code if case else None),
        escalates=escalates,
        details=details or {},
    )


# -- event rules ----------------------------------------------------------------------------------


def late_report(
    event: Event,
    subject: str,
    th: Thresholds,
    config: EngineConfig,
    dept_code: str | None = None,
    case: CaseState | None = None,
) -> CardDecision | None:
    """R8 体外循环/迟报: the event was recorded more than ``report_delay_hours`` after it happened."""
    if event.reported_at is None:
        return None
    delay = event.reported_at - event.at
    if delay.total_seconds() <= th.report_delay_hours * 3600:
        return None
    hours = int(delay.total_seconds() // 3600)
    return decide(
        config, "R8", f"R8|{subject}|{event.evidence}", subject, event.at,
        title("R8", {"event": event.type, "delay_hours": hours, "reported_at": event.reported_at.isoformat()},
              event.at, subject),
        case=case, evidence=(event.evidence,), dept_code=dept_code,
        details={"event": event.type, "delay_hours": hours, "reported_at": event.reported_at.isoformat()},
    )  # fmt: skip


def check_case_event(
    event: CaseEvent,
    case: CaseState | None,
    config: EngineConfig,
    calendar: WorkCalendar,
) -> list[CardDecision]:
    """Event rules R4–R9 for ``event`` against ``case`` as it was before the event."""
    if case is not None and case.clock is not None:
        th = case.thresholds
    elif isinstance(event, Refused):
        th = config.for_case(event.item_code, event.dept_code)
    else:
        th = config.thresholds
    subject = f"case:{event.case_id}"
    evidence = (event.evidence,)
    out: list[CardDecision | None] = []

    def add(rule: str, message: str, details: dict[str, Any], *, key: str | None = None,
            **who: str | None) -> None:  # fmt: skip
        out.append(decide(
            config, rule, key or f"{rule}|{subject}|{event.evidence}", subject, event.at,
            title(rule, details, event.at, subject, fallback=message),
            case=case, evidence=evidence, details=details, **who,  # type: ignore[arg-type]
        ))  # fmt: skip

    # an event of a case not seen accepted has no case state: its department comes from the body
    body_dept = getattr(event, "dept_code", None)  # Accepted and Refused carry one
    dept = (case.dept_code if case is not None else None) or body_dept
    out.append(late_report(event, subject, th, config, dept_code=dept, case=case))

    if isinstance(event, Refused) and not event.reason:
        add("R5", f"办件 {event.case_id} 不予受理未说明理由", {"event": event.type},
            dept_code=event.dept_code, window_id=event.window_id, staff_id=event.staff_id)  # fmt: skip

    if isinstance(event, SupplementRequested):
        count = (case.supplement_requests if case else 0) + 1
        if count > th.max_supplement_requests:
            add("R6", f"办件 {event.case_id} 第 {count} 次补正告知，未一次性告知",
                {"requests": count}, key=f"R6|{subject}")  # fmt: skip

    if isinstance(event, Suspended):
        _check_suspension(event, case, th, calendar, add)

    if isinstance(event, Completed):
        _check_completion(event, case, th, add)
    return [d for d in out if d is not None]


def _check_suspension(
    event: Suspended,
    case: CaseState | None,
    th: Thresholds,
    calendar: WorkCalendar,
    add: Callable[..., None],
) -> None:
    if event.kind == 2:
        if not event.reason:
            add("R9", f"办件 {event.case_id} 挂起（特别程序）未说明理由", {"kind": 2})
        return
    clock = case.clock if case else None
    total = (clock.extension if clock else 0) + event.extension_days
    if total > th.max_extension_days:
        add("R9", f"办件 {event.case_id} 延长 {event.extension_days} 天，累计 {total} 天，"
            f"超过上限 {th.max_extension_days} 天",
            {"extension_days": event.extension_days, "total": total,
             "maximum": th.max_extension_days})  # fmt: skip
    if clock is not None:
        due = clock.due(calendar).day
        if due is not None and local_date(event.at) > due:
            add("R9", f"办件 {event.case_id} 在到期日 {due} 之后才申请延长",
                {"due_date": due.isoformat()}, key=f"R9|case:{event.case_id}|late:{event.evidence}")  # fmt: skip


def _check_completion(
    event: Completed, case: CaseState | None, th: Thresholds, add: Callable[..., None]
) -> None:
    cid = event.case_id
    if event.result_code in th.reason_required_codes and not event.reason:
        add("R5", f"办件 {cid} 办结结果 {event.result_code} 未说明理由",
            {"result_code": event.result_code})  # fmt: skip
    fee = event.fee_charged_fen
    if fee:
        standard = th.fee_standard_fen
        if standard is None and case is not None:
            standard = case.fee_standard_fen
        if th.no_fee or standard == 0:
            add("R4", f"办件 {cid} 为不收费事项，收取 {fee} 分", {"fee_fen": fee, "standard_fen": 0})
        elif standard is not None and fee > standard:
            add("R4", f"办件 {cid} 收费 {fee} 分，超过标准 {standard} 分",
                {"fee_fen": fee, "standard_fen": standard})  # fmt: skip
    accepted = case.accepted_at if case else None
    if accepted is None:
        add("R7", f"办件 {cid} 办结但没有受理记录", {"reason": "no_acceptance"})
    elif event.at < accepted:
        add("R7", f"办件 {cid} 办结时间早于受理时间", {"reason": "before_acceptance"})
    elif case is not None and case.case_kind == 2:
        minutes = (event.at - accepted).total_seconds() / 60
        if minutes < th.min_processing_minutes:
            add("R7", f"承诺件 {cid} 受理后 {minutes:.0f} 分钟即办结，需人工复核",
                {"reason": "too_fast", "minutes": round(minutes, 1)})  # fmt: skip


# -- time rules -----------------------------------------------------------------------------------


def case_pending(case: CaseState, config: EngineConfig, calendar: WorkCalendar) -> list[Pending]:
    """R1, R2, R3 (statutory) and R11 moments of a case (decisions are built only if fired)."""
    out: list[Pending] = []
    deadlines = case.deadlines(calendar)
    subject = f"case:{case.case_id}"
    clock = case.clock
    rules = config.rules
    if case.is_open and deadlines is not None and clock is not None and case.accepted_at:
        m = deadlines.moments()
        if m.overdue is not None:
            on = _enabled(rules, "R1")
            if on and m.reminder is not None and clock.promised.value > 0:
                moment = max(m.reminder, case.accepted_at)
                key = f"R1|{subject}|{m.due}"
                out.append(Pending(moment, key, partial(_due_card, config, "R1", key, moment, case, deadlines)))
            if _enabled(rules, "R2"):
                moment = m.overdue
                key = f"R2|{subject}|{m.due}"
                out.append(Pending(moment, key, partial(_due_card, config, "R2", key, moment, case, deadlines)))
        if m.statutory_overdue is not None and _enabled(rules, "R3"):
            moment = m.statutory_overdue
            key = f"R3|{subject}|statutory:{m.statutory}"
            out.append(Pending(moment, key, partial(_due_card, config, "R3", key, moment, case, deadlines)))
    if case.ratings and _enabled(rules, "R11"):
        th = case.thresholds
        for rating in case.ratings:
            if rating.level not in th.bad_rating_levels or rating.rectified_at is not None:
                continue
            limit = due_date(calendar, local_date(rating.at), th.rating_rectify_days, Unit.G)
            if limit.day is None:  # pragma: no cover - no pauses, always a date
                continue
            moment = start_of(limit.day + ONE_DAY)
            key = f"R11|{subject}|{rating.evidence}"
            out.append(Pending(moment, key, partial(_rating_card, config, key, moment, case, rating, limit)))
    return out


def _enabled(rules: Mapping[str, RuleSetting], rule_id: str) -> bool:
    setting = rules.get(rule_id)
    return setting is None or setting.enabled


def _due_card(
    config: EngineConfig, rule: str, key: str, moment: datetime, case: CaseState, dl: Deadlines
) -> CardDecision | None:
    cid, subject = case.case_id, f"case:{case.case_id}"
    evidence = tuple(case.evidence)
    if rule == "R3":
        sd = dl.statutory.day if dl.statutory else None
        sdetails = {"statutory_due_date": sd.isoformat() if sd else None,
                    "provisional": bool(dl.statutory and dl.statutory.provisional)}
        return decide(config, "R3", key, subject, moment,
                      title("R3", sdetails, moment, subject, fallback=f"办件 {cid} 超过法定时限"),
                      case=case, evidence=evidence, details=sdetails)  # fmt: skip
    due = dl.promised.day
    details = {"due_date": due.isoformat() if due else None, "provisional": dl.promised.provisional}
    message = title(rule, details, moment, subject, fallback=f"办件 {cid} 承诺办结日 {due}")
    return decide(config, rule, key, subject, moment, message, case=case, evidence=evidence,
                  details=details)  # fmt: skip


def _rating_card(
    config: EngineConfig, key: str, moment: datetime, case: CaseState, rating: Rating, limit: Due
) -> CardDecision | None:
    days = case.thresholds.rating_rectify_days
    return decide(
        config, "R11", key, f"case:{case.case_id}", moment,
        title("R11", {"level": rating.level, "deadline": limit.day.isoformat() if limit.day else None},
              moment, f"case:{case.case_id}", fallback=f"办件 {case.case_id} 的差评{days} 个工作日内未整改"),
        case=case, evidence=(*case.evidence[:1], rating.evidence),
        details={"level": rating.level, "deadline": limit.day.isoformat() if limit.day else None,
                 "provisional": limit.provisional},
    )  # fmt: skip


def escalation_pending(card: Card, still_applies: bool, config: EngineConfig) -> list[Pending]:
    """R3: the red card due when a yellow card's 督办 deadline passes without rectification.

    ``still_applies`` is whether the yellow card's condition still holds (for R2: the case is
    still open; for R11: the rating is still not rectified)."""
    if not (card.escalatable and still_applies and config.rule("R3").enabled):
        return []
    if card.deadline is None:  # pragma: no cover - escalatable implies a deadline
        return []
    deadline = card.deadline
    moment = start_of(deadline + ONE_DAY)
    key = f"R3|card:{card.card_id}"
    d = card.decision

    def make() -> CardDecision | None:
        return decide(
            config, "R3", key, d.subject, moment,
            title("R3", {"deadline": deadline.isoformat(), "escalates_rule": card.rule}, moment, d.subject,
                  Context(escalated_title=d.message)),
            evidence=d.evidence, escalates=card.card_id, case_id=d.case_id, dept_code=d.dept_code,
            window_id=d.window_id, staff_id=d.staff_id, item_code=d.item_code,
            details={"deadline": deadline.isoformat(), "escalates_rule": card.rule,
                     "case_id": d.case_id},
        )  # fmt: skip

    return [Pending(moment, key, make)]
