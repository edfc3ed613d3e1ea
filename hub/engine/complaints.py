"""Complaints (投诉, DOMAIN.md §6): acceptance and answer clocks, substantiated-complaint flags.

- Decide acceptance within ``accept_days`` (5) working days of filing; answer within
  ``answer_days`` of ``answer_unit`` (default 15 G) of acceptance. Missing either is an R2 card
  against the complaint's target department (with the usual 督办 deadline and escalation).
- A substantiated complaint counts against the department (scoring) and, from the
  ``staff_flag_from``-th (2nd) of a calendar year, flags the staff member (:class:`ComplaintBook`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import partial

from hub.engine.calendar import WorkCalendar
from hub.engine.clock import Due, Unit, due_date
from hub.engine.config import EngineConfig
from hub.engine.events import ComplaintEvent
from hub.engine.localtime import ONE_DAY, local_date, start_of
from hub.engine.rules import Pending, decide
from hub.engine.wording import title


class ComplaintState:
    """The clocks of one complaint."""

    __slots__ = (
        "accepted",
        "answered",
        "case_id",
        "closed",
        "complaint_id",
        "evidence",
        "filed",
        "filed_at",
        "substantiated",
        "target_dept",
        "target_staff",
    )

    def __init__(self, complaint_id: str) -> None:
        self.complaint_id = complaint_id
        self.target_dept: str | None = None
        self.target_staff: str | None = None
        self.case_id: str | None = None
        self.filed: date | None = None
        self.filed_at: datetime | None = None
        self.accepted: date | None = None
        self.answered: date | None = None
        self.closed: date | None = None
        self.substantiated: bool | None = None
        self.evidence: list[str] = []

    def apply(self, event: ComplaintEvent) -> None:
        """Fold one ``complaint.*`` event into the state."""
        self.evidence.append(event.evidence)
        self.target_dept = event.target_dept or self.target_dept
        self.target_staff = event.target_staff or self.target_staff
        self.case_id = event.case_id or self.case_id
        if event.substantiated is not None:
            self.substantiated = event.substantiated
        on = local_date(event.at)
        kind = event.type.split(".", 1)[1]
        if kind == "filed":
            self.filed, self.filed_at = on, event.at
        elif kind == "accepted":
            self.accepted = on
        elif kind == "answered":
            self.answered = on
        elif kind == "closed":
            self.closed = on

    def accept_due(self, calendar: WorkCalendar, config: EngineConfig) -> Due | None:
        """When acceptance must be decided."""
        if self.filed is None:
            return None
        return due_date(calendar, self.filed, config.complaints.accept_days, Unit.G)

    def answer_due(self, calendar: WorkCalendar, config: EngineConfig) -> Due | None:
        """When the answer is due (after acceptance)."""
        if self.accepted is None:
            return None
        cfg = config.complaints
        return due_date(calendar, self.accepted, cfg.answer_days, Unit(cfg.answer_unit))

    def answered_on_time(self, calendar: WorkCalendar, config: EngineConfig) -> bool | None:
        """True/False once answered; None while unanswered."""
        due = self.answer_due(calendar, config)
        if self.answered is None or due is None or due.day is None:
            return None
        return self.answered <= due.day

    def handled_on_time(self, calendar: WorkCalendar, config: EngineConfig, today: date) -> bool | None:
        """Whether the complaint was handled in time, as the complaints block scores it (see
        :func:`handled_on_time`); ``today`` is the end of the period judged."""
        accept = self.accept_due(calendar, config)
        answer = self.answer_due(calendar, config)
        return handled_on_time(self.accepted, self.answered, self.closed,
                               accept.day if accept else None, answer.day if answer else None, today)


def handled_on_time(
    accepted: date | None, answered: date | None, closed: date | None,
    accept_due: date | None, answer_due: date | None, today: date,
) -> bool | None:
    """A complaint handled in time (DOMAIN.md §6, the complaints block of §5): its acceptance
    decided by ``accept_due`` and its answer given by ``answer_due``.

    False once either limit was missed (acceptance decided late, answer late, or still undecided /
    unanswered after its due date ``today``); True once answered in time, or closed without
    acceptance (不予受理) within the acceptance limit; None while nothing is due yet.
    """
    decided = min((d for d in (accepted, answered, closed) if d is not None), default=None)
    if accept_due is not None:
        if decided is not None and decided > accept_due:
            return False
        if decided is None:
            return False if accept_due < today else None
    if accepted is None and answered is None:
        return True if closed is not None else None
    if answer_due is None:
        return None
    if answered is not None:
        return answered <= answer_due
    if closed is not None:  # closed without an answer record: judged by the closing
        return closed <= answer_due
    return False if answer_due < today else None


def complaint_pending(
    state: ComplaintState, config: EngineConfig, calendar: WorkCalendar
) -> list[Pending]:
    """R2 moments: acceptance not decided in time, answer not given in time."""
    if not config.rule("R2").enabled or state.closed is not None:
        return []
    subject, cid = f"complaint:{state.complaint_id}", state.complaint_id
    if state.accepted is None and state.answered is None:
        stage, due, word = "accept", state.accept_due(calendar, config), "受理"
    elif state.answered is None:
        stage, due, word = "answer", state.answer_due(calendar, config), "答复"
    else:
        return []
    if due is None or due.day is None:
        return []
    moment = start_of(due.day + ONE_DAY)
    key = f"R2|{subject}|{stage}:{due.day}"
    details = {"stage": stage, "due_date": due.day.isoformat(), "provisional": due.provisional}
    make = partial(
        decide, config, "R2", key, subject, moment,
        title("R2", details, moment, subject, fallback=f"投诉 {cid} 未在期限（{due.day}）内{word}"),
        evidence=tuple(state.evidence), dept_code=state.target_dept, staff_id=state.target_staff,
        details=details,
    )  # fmt: skip
    return [Pending(moment, key, make)]


class ComplaintBook:
    """Substantiated complaints per staff member and year; flags from the n-th."""

    __slots__ = ("_by_staff",)

    def __init__(self) -> None:
        self._by_staff: dict[tuple[str, int], set[str]] = {}

    def record(self, state: ComplaintState, year: int) -> None:
        """Count ``state`` if substantiated and aimed at a staff member."""
        if state.substantiated and state.target_staff:
            self._by_staff.setdefault((state.target_staff, year), set()).add(state.complaint_id)

    def flagged(self, year: int, config: EngineConfig) -> Mapping[str, tuple[str, ...]]:
        """Staff flagged in ``year``: {staff_id: complaint ids}."""
        threshold = config.complaints.staff_flag_from
        return {
            staff: tuple(sorted(ids))
            for (staff, y), ids in sorted(self._by_staff.items())
            if y == year and len(ids) >= threshold
        }
