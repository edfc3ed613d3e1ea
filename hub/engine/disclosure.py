"""Information-disclosure requests (政府信息公开申请, 2019 regulation; DOMAIN.md §6).

- Answer within ``answer_days`` (20) working days, counted from the day after receipt.
- One extension (``max_extensions``) of at most ``max_extension_days`` (20) working days; more, or
  an extension after the due date, is an R9 card.
- A 补正 notice must go out within ``supplement_notice_days`` (7) working days of receipt (later is
  an R9 card); the clock stops while the applicant corrects, and the period restarts the day after
  the corrected request arrives.
- Third-party / other-agency consultation is not counted: a pause from its start to its end.

Cards are as for cases: R1 reminder, R2 overdue (with its 督办 deadline and escalation to R3).
"""

from __future__ import annotations

from datetime import date, datetime

from hub.engine.calendar import WorkCalendar
from hub.engine.cards import CardDecision
from hub.engine.clock import Due, Pause, Unit, due_date, reminder_date
from hub.engine.config import EngineConfig
from hub.engine.events import DisclosureEvent
from hub.engine.localtime import ONE_DAY, local_date, start_of
from hub.engine.rules import Pending, decide, late_report
from hub.engine.wording import title


class DisclosureState:
    """The clock of one request."""

    __slots__ = (
        "answered",
        "consult_since",
        "dept_code",
        "evidence",
        "extension_days",
        "extensions",
        "pauses",
        "received",
        "received_at",
        "request_id",
        "start",
        "supplement_since",
    )

    def __init__(self, request_id: str, dept_code: str) -> None:
        self.request_id = request_id
        self.dept_code = dept_code
        self.received: date | None = None
        self.received_at: datetime | None = None
        self.start: date | None = None
        self.pauses: list[Pause] = []
        self.consult_since: date | None = None
        self.supplement_since: date | None = None
        self.extension_days = 0
        self.extensions = 0
        self.answered: date | None = None
        self.evidence: list[str] = []

    @property
    def is_open(self) -> bool:
        """Received and not answered."""
        return self.received is not None and self.answered is None

    def apply(self, event: DisclosureEvent) -> None:
        """Fold one ``disclosure.*`` event into the state."""
        self.evidence.append(event.evidence)
        on = local_date(event.at)
        kind = event.type.split(".", 1)[1]
        if kind == "received":
            self.received, self.received_at, self.start = on, event.at, on
        elif kind == "supplement_requested" and self.supplement_since is None:
            self.supplement_since = on
        elif kind == "supplement_received" and self.supplement_since is not None:
            self.supplement_since = None
            self.start = max(self.start or on, on)  # the period restarts
        elif kind == "extended":
            self.extensions += 1
            self.extension_days += event.extension_days
        elif kind == "consult_started" and self.consult_since is None:
            self.consult_since = on
        elif kind == "consult_ended" and self.consult_since is not None:
            self.pauses.append(Pause(self.consult_since, max(on, self.consult_since)))
            self.consult_since = None
        elif kind == "answered":
            self.answered = on

    def all_pauses(self) -> list[Pause]:
        """Consultation pauses, plus the open 补正 and consultation pauses."""
        out = list(self.pauses)
        for since in (self.supplement_since, self.consult_since):
            if since is not None:
                out.append(Pause(since, None))
        return out

    def due(self, calendar: WorkCalendar, config: EngineConfig) -> Due | None:
        """The answer due date (None before receipt; ``Due(None, …)`` while paused)."""
        if self.start is None:
            return None
        days = config.disclosure.answer_days
        return due_date(calendar, self.start, days, Unit.G, self.all_pauses(), self.extension_days)


def check_disclosure_event(
    event: DisclosureEvent,
    state: DisclosureState | None,
    config: EngineConfig,
    calendar: WorkCalendar,
) -> list[CardDecision]:
    """Event rules for a request, against its state before the event."""
    subject = f"disclosure:{event.request_id}"
    th = config.for_case(None, event.dept_code)
    cfg = config.disclosure
    out: list[CardDecision | None] = [late_report(event, subject, th, config, event.dept_code)]
    kind = event.type.split(".", 1)[1]
    key = f"R9|{subject}|{event.evidence}"

    def r9(message: str, **details: object) -> None:
        out.append(decide(config, "R9", key, subject, event.at,
                          title("R9", details, event.at, subject, fallback=message),
                          evidence=(event.evidence,), dept_code=event.dept_code, details=details))  # fmt: skip

    if state is not None and state.received is not None:
        rid = event.request_id
        if kind == "supplement_requested":
            limit = due_date(calendar, state.received, cfg.supplement_notice_days, Unit.G).day
            if limit is not None and local_date(event.at) > limit:
                r9(f"信息公开申请 {rid} 的补正告知超过 {cfg.supplement_notice_days} 个工作日",
                   notice_deadline=limit.isoformat())  # fmt: skip
        if kind == "extended":
            count, total = state.extensions + 1, state.extension_days + event.extension_days
            due = state.due(calendar, config)
            if count > cfg.max_extensions or total > cfg.max_extension_days:
                r9(f"信息公开申请 {rid} 第 {count} 次延长，累计 {total} 个工作日，超过上限",
                   extensions=count, total=total)  # fmt: skip
            elif due is not None and due.day is not None and local_date(event.at) > due.day:
                r9(f"信息公开申请 {rid} 在到期日 {due.day} 之后才延长", due_date=due.day.isoformat())
    return [d for d in out if d is not None]


def disclosure_pending(
    state: DisclosureState, config: EngineConfig, calendar: WorkCalendar
) -> list[Pending]:
    """R1 and R2 moments of an open request."""
    if not state.is_open or state.start is None or state.received_at is None:
        return []
    due = state.due(calendar, config)
    if due is None or due.day is None:
        return []
    subject = f"disclosure:{state.request_id}"
    th = config.for_case(None, state.dept_code)
    evidence = tuple(state.evidence)
    details = {"due_date": due.day.isoformat(), "provisional": due.provisional}
    out: list[Pending] = []
    reminder = reminder_date(
        calendar, state.start, config.disclosure.answer_days, th.reminder_days, Unit.G,
        state.all_pauses(), state.extension_days,
    )  # fmt: skip
    if reminder is not None and config.rule("R1").enabled:
        moment = max(start_of(reminder), state.received_at)
        key = f"R1|{subject}|{due.day}"
        out.append(Pending(moment, key, lambda: decide(
            config, "R1", key, subject, moment, title("R1", details, moment, subject),
            evidence=evidence, dept_code=state.dept_code, details=details)))  # fmt: skip
    if config.rule("R2").enabled:
        moment2 = start_of(due.day + ONE_DAY)
        key2 = f"R2|{subject}|{due.day}"
        out.append(Pending(moment2, key2, lambda: decide(
            config, "R2", key2, subject, moment2, title("R2", details, moment2, subject),
            evidence=evidence, dept_code=state.dept_code, details=details)))  # fmt: skip
    return out
