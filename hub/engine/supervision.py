"""The supervision engine as one pure object: events and ticks in, cards out.

The hub's adapters drive it (no I/O, no threads, no wall clock here):

- **ingest** — for every verified record, :meth:`Supervision.ingest_record` (or :meth:`ingest` with
  an already parsed event) with the hub's current time. It applies the event, runs the event rules
  and reschedules the subject; it returns the *new* cards to store and publish.
- **tick** — every second or so (or when :meth:`next_wakeup` arrives), :meth:`tick` with the current
  time pops only the subjects whose moment has come and returns the new time-rule cards.
- **people** — :meth:`transition` applies a lifecycle action to a card and returns the new card.
- **restart** — build a new engine, :meth:`restore` the stored cards (so their keys count as raised),
  replay the stored events with :meth:`ingest`, then :meth:`tick` with the current time: cards due
  while the hub was down are raised once; none is raised twice.
- **new calendar data** — :meth:`set_calendar` recomputes provisional deadlines and returns the cards
  whose 督办 deadline moved.
- **contradicted cards** — a record that shows a time card's condition never held (a late 补正
  that moves the due date past the completion, a completion that arrives after an outage) retracts
  the card (:mod:`hub.engine.retraction`); :meth:`take_changed` hands the retracted cards to the
  adapter.

Duplicate records (same evidence hash for the same subject) are ignored, so at-least-once delivery
cannot double-count a 补正 request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from hub.engine import retraction
from hub.engine.calendar import WorkCalendar
from hub.engine.cards import FINAL, Action, Card, CardDecision, CardState, InvalidTransition
from hub.engine.cases import CaseState, Deadlines
from hub.engine.clock import Due, Unit, due_date
from hub.engine.complaints import ComplaintBook, ComplaintState, complaint_pending
from hub.engine.config import EngineConfig, Level, Thresholds
from hub.engine.disclosure import DisclosureState, check_disclosure_event, disclosure_pending
from hub.engine.events import (
    Accepted,
    CaseEvent,
    ComplaintEvent,
    DisclosureEvent,
    Event,
    Presence,
    parse_event,
)
from hub.engine.localtime import local_date
from hub.engine.matters import matter_closed
from hub.engine.rules import Pending, case_pending, check_case_event, escalation_pending, late_report
from hub.engine.scheduler import Scheduler
from hub.engine.windows import WindowState, window_pending
from hub.engine.wording import event_name
from hub.engine.wording import when as _minute

S = CardState
#: Rules decided from the passage of time (the others judge one record).
TIME_RULES = frozenset({"R1", "R2", "R3", "R10", "R11"})


@dataclass(frozen=True, slots=True)
class When:
    """The two times of one engine step — never one ``now`` for both (STYLE.md §12).

    ``hub_now`` is the hub's own clock: a new card's ``raised_at``, a system transition's time, the
    start of a 督办 deadline. ``as_of`` is the time the facts are judged at: time rules fire for
    moments up to it. They are equal in live operation; ``as_of`` is earlier while the hub holds
    a department whose agent is delivering a backfill or backlog (facts still on their way)."""

    hub_now: datetime
    as_of: datetime


@dataclass(frozen=True)
class CalendarUpdate:
    """What new calendar data changed: subjects whose deadlines moved, cards re-dated."""

    subjects: list[str]
    cards: list[Card]


class Supervision:
    """Cases, windows, requests, complaints, cards and the scheduler of one hub."""

    def __init__(self, config: EngineConfig | None = None, calendar: WorkCalendar | None = None):
        self.config = config or EngineConfig()
        self.calendar = calendar or WorkCalendar()
        self.cases: dict[str, CaseState] = {}
        self.windows: dict[str, WindowState] = {}
        self.disclosures: dict[str, DisclosureState] = {}
        self.complaints: dict[str, ComplaintState] = {}
        self.complaint_book = ComplaintBook()
        self.cards: dict[str, Card] = {}
        self.raised: set[str] = set()  # keys of every card ever raised (or restored)
        self.cards_of: dict[str, list[str]] = {}  # subject -> card ids
        self.scheduler = Scheduler()
        self._provisional: set[str] = set()  # subjects whose deadlines are provisional
        self._deadlines: dict[tuple[date, int], Due] = {}  # 督办 deadlines on self.calendar
        self._changed: list[Card] = []  # cards the engine itself changed (retracted) since taken
        self._replaying = False

    # -- ingest ---------------------------------------------------------------------------------

    def ingest_record(
        self,
        type_: str,
        body: Mapping[str, Any],
        evidence: str,
        hub_now: datetime,
        reported_at: datetime | None = None,
        as_of: datetime | None = None,
    ) -> list[Card]:
        """Parse a record's body (raises :class:`RecordError`) and :meth:`ingest` it."""
        event = parse_event(type_, body, evidence, reported_at)
        return [] if event is None else self.ingest(event, hub_now, as_of)

    def ingest(self, event: Event, hub_now: datetime, as_of: datetime | None = None) -> list[Card]:
        """Apply ``event``; return the new cards: time-rule cards the subject had earned before
        the event's own time (if no tick raised them yet), then the event rules' cards.

        ``hub_now`` is the hub's clock (a new card's ``raised_at``, its 督办 start); ``as_of`` the
        time facts are judged at (default ``hub_now``; earlier while the hub holds a department
        delivering a backlog) — see :class:`When`."""
        when = When(hub_now, hub_now if as_of is None else min(as_of, hub_now))
        if isinstance(event, CaseEvent):
            return self._case_event(event, when)
        if isinstance(event, Presence):
            return self._presence(event, when)
        if isinstance(event, DisclosureEvent):
            return self._disclosure(event, when)
        if isinstance(event, ComplaintEvent):
            return self._complaint(event, when)
        return []

    def _case_event(self, event: CaseEvent, when: When) -> list[Card]:
        case = self.cases.get(event.case_id)
        if case is not None and event.evidence in case.evidence:
            return []
        subject = f"case:{event.case_id}"
        caught = self._catch_up(subject, min(event.at, when.as_of), when.hub_now)
        decisions = check_case_event(event, case, self.config, self.calendar)
        if case is None:
            case = self.cases[event.case_id] = CaseState(event.case_id, self.config.thresholds)
        thresholds = None
        if isinstance(event, Accepted):
            thresholds = self.config.for_case(event.item_code, event.dept_code)
            if event.window_id:
                window = self.windows.get(event.window_id)
                if window is None:
                    window = self.windows[event.window_id] = WindowState(event.window_id)
                window.dept_code = event.dept_code
        case.apply(event, thresholds)
        return self._settle(subject, event, caught + self._register(decisions, when.hub_now), when)

    def _presence(self, event: Presence, when: When) -> list[Card]:
        caught = self._catch_up(f"window:{event.window_id}", min(event.at, when.as_of), when.hub_now)
        window = self.windows.get(event.window_id)
        if window is None:
            window = self.windows[event.window_id] = WindowState(event.window_id)
        changed = (
            window.absent(event.at, event.evidence)
            if event.absent
            else window.present(event.at, event.evidence)
        )
        if changed:
            self._retract_contradicted(f"window:{event.window_id}", event, when)
            self._reschedule(f"window:{event.window_id}")
        return caught

    def _disclosure(self, event: DisclosureEvent, when: When) -> list[Card]:
        state = self.disclosures.get(event.request_id)
        if state is not None and event.evidence in state.evidence:
            return []
        subject = f"disclosure:{event.request_id}"
        caught = self._catch_up(subject, min(event.at, when.as_of), when.hub_now)
        decisions = check_disclosure_event(event, state, self.config, self.calendar)
        if state is None:
            state = self.disclosures[event.request_id] = DisclosureState(
                event.request_id, event.dept_code
            )
        state.apply(event)
        return self._settle(subject, event, caught + self._register(decisions, when.hub_now), when)

    def _complaint(self, event: ComplaintEvent, when: When) -> list[Card]:
        state = self.complaints.get(event.complaint_id)
        if state is not None and event.evidence in state.evidence:
            return []
        subject = f"complaint:{event.complaint_id}"
        caught = self._catch_up(subject, min(event.at, when.as_of), when.hub_now)
        th = self.config.for_case(None, event.target_dept)
        decisions = [late_report(event, subject, th, self.config, event.target_dept)]
        if state is None:
            state = self.complaints[event.complaint_id] = ComplaintState(event.complaint_id)
        state.apply(event)
        self.complaint_book.record(state, local_date(event.at).year)
        cards = caught + self._register([d for d in decisions if d is not None], when.hub_now)
        return self._settle(subject, event, cards, when)

    def _settle(self, subject: str, event: Event, cards: list[Card], when: When) -> list[Card]:
        """After an event changed ``subject``: retract what it contradicts, close what its matter
        no longer needs (:meth:`_resolve`), reschedule the subject and its cards' escalations;
        returns the new cards as they stand after that."""
        self._retract_contradicted(subject, event, when)
        cards = self._resolve(subject, cards, when.hub_now)
        self._reschedule(subject)
        for card_id in self.cards_of.get(subject, ()):
            self._reschedule(f"card:{card_id}")
        return cards

    # -- matters already closed ---------------------------------------------------------------

    def _resolve(self, subject: str, fresh: list[Card], hub_now: datetime) -> list[Card]:
        """Close the subject's cards whose matter is closed (DOMAIN.md §4, 督办 and escalation).

        A card raised on a matter already closed (in this same step, or from history: its moment
        long before the hub raised it) is *closed as recorded*. A new reminder of a case already
        done is not raised at all (R1 is for the living). A time card the department was told of
        (notified, upheld) is rectified by the fact itself. A live card still waiting for the
        monitoring room (raised) stays theirs to follow up; it no longer escalates.
        Returns ``fresh`` (the cards raised by this step) in their resulting state; the other cards
        changed go to :meth:`take_changed`."""
        ids = self.cards_of.get(subject)
        if not ids:
            return fresh  # the usual event: a subject without cards (fresh ones are in cards_of)
        fresh_ids = {c.card_id for c in fresh}
        out: dict[str, Card | None] = {c.card_id: c for c in fresh}
        for card_id in list(ids):
            card = self.cards.get(card_id)
            if card is None or card.state not in (S.RAISED, S.NOTIFIED, S.UPHELD):
                continue
            if self._replaying and card_id not in fresh_ids:
                continue  # stored cards are as they were judged; a replay only rebuilds state
            closed = matter_closed(card, self.cases, self.disclosures, self.complaints)
            if closed is None:
                continue
            timely = card.decision.rule in TIME_RULES or card.decision.escalates is not None
            old = card.raised_at - card.decision.moment > self._delay(card.decision)
            if not timely and not old:
                continue  # a live event rule's card: the monitoring room follows it up
            done: Card | None
            if card.level is Level.REMINDER and card_id in fresh_ids:
                done = None  # a reminder of a case already done is not raised at all
            elif self._replaying:
                continue
            elif card.state is S.RAISED and (old or card_id in fresh_ids
                                             or card.level is Level.REMINDER):
                done = replace(card.apply(Action.RECORD, hub_now, retraction.SYSTEM, closed),
                               historical=old, deadline=None, deadline_provisional=False)
            elif timely:
                action = Action.CLOSE if card.level is Level.REMINDER else Action.RECTIFY
                done = card.apply(action, hub_now, retraction.SYSTEM, closed)
            else:
                continue
            if done is None:
                self.cards.pop(card_id, None)
                self.cards_of[subject].remove(card_id)
                self.scheduler.set(f"card:{card_id}", None)
            else:
                self.cards[card_id] = done
                if card_id not in fresh_ids:
                    self._changed.append(done)
                if done.state in FINAL and not done.recorded:
                    self.forget_card(card_id)  # recorded ones stay: a later fact may retract them
            if card_id in fresh_ids:
                out[card_id] = done
        return [c for c in out.values() if c is not None]

    def _delay(self, decision: CardDecision) -> timedelta:
        """The R8 delay of the card's case or department: older moments are history."""
        return timedelta(hours=self._thresholds_of(decision).report_delay_hours)

    # -- retraction ---------------------------------------------------------------------------

    @contextmanager
    def replaying(self) -> Iterator[None]:
        """Feed records that were judged once already (a restart's replay, a forgotten case read
        back from its timeline): the state is rebuilt, nothing is retracted — what those records
        retracted is stored, and a restored card must not be judged on a half-replayed subject."""
        self._replaying = True
        try:
            yield
        finally:
            self._replaying = False

    def _retract_contradicted(self, subject: str, event: Event, when: When) -> None:
        """Retract the subject's time cards that ``event`` (dated before their moment) shows
        never held, and the red cards escalating a retracted one."""
        ids = self.cards_of.get(subject)
        if not ids or self._replaying:
            return
        cards = [c for c in (self.cards.get(i) for i in ids)
                 if c is not None and (c.state not in FINAL or c.recorded)]
        retracted: dict[str, Card] = {}
        for card in sorted(cards, key=lambda c: c.decision.escalates is not None):
            d = card.decision
            if d.escalates is not None:
                kind, _, ident = subject.partition(":")
                reason = retraction.escalation_reason(
                    card, retracted.get(d.escalates) or self.cards.get(d.escalates),
                    self.cases.get(ident) if kind == "case" else None)
            elif d.rule not in ("R1", "R2", "R3", "R10", "R11"):
                continue  # event rules judge one record: a later one cannot contradict them
            elif event.type == "disclosure.extended" and event.at >= d.moment:
                continue  # an extension after the deadline (R9) does not undo the card
            else:  # an open subject is judged as of the facts' time, not before the card's moment
                reason = self._reason(subject, card, max(when.as_of, d.moment))
            if reason is None:
                continue
            note = f"系统撤销：{reason}（依据{event_name(event.type)}记录，发生于 {_minute(event.at)}）"
            done = card.apply(Action.RETRACT, when.hub_now, retraction.SYSTEM, note,
                              evidence=(event.evidence,))
            retracted[card.card_id] = done
            self.cards[card.card_id] = done
            self._changed.append(done)
            self.forget_card(card.card_id)

    def _reason(self, subject: str, card: Card, as_of: datetime) -> str | None:
        kind, _, ident = subject.partition(":")
        if kind == "case":
            case = self.cases.get(ident)
            return None if case is None else retraction.case_reason(card, case, self.calendar, as_of)
        if kind == "disclosure":
            state = self.disclosures.get(ident)
            return None if state is None else retraction.disclosure_reason(
                card, state, self.calendar, self.config, as_of)
        if kind == "complaint":
            cstate = self.complaints.get(ident)
            return None if cstate is None else retraction.complaint_reason(
                card, cstate, self.calendar, self.config, as_of)
        if kind == "window":
            window = self.windows.get(ident)
            return None if window is None else retraction.window_reason(
                card, window, self.calendar, self.config)
        return None

    def take_changed(self) -> list[Card]:
        """The cards the engine itself changed (retracted, closed as recorded, rectified by the
        fact) since the last call, for storing."""
        out, self._changed = self._changed, []
        return out

    # -- time -----------------------------------------------------------------------------------

    def tick(self, as_of: datetime, limit: int | None = None,
             hub_now: datetime | None = None) -> list[Card]:  # fmt: skip
        """Raise the time-rule cards due at ``as_of`` (the time facts are judged at); they are
        raised at ``hub_now`` (the hub's clock; default ``as_of``). Touches only subjects whose
        moment came."""
        raised_at = as_of if hub_now is None else max(hub_now, as_of)
        out: list[Card] = []
        for subject in self.scheduler.pop_due(as_of, limit):
            pending = self._pending(subject)
            out += self._fire(pending, as_of, raised_at)
            self._schedule(subject, pending, after=as_of)
        return out

    def _fire(self, pending: Iterable[Pending], until: datetime, hub_now: datetime) -> list[Card]:
        """Decide the pending cards whose moment is at or before ``until``; raise them at
        ``hub_now``. When ``until`` lies well behind the hub's clock (a held backlog, a record that
        arrived late) the facts reached the hub after the moment: no reminder is raised for it,
        reminders are for the living (DOMAIN.md §4); nor once the due date has passed at the hub's
        clock (an R2 is due instead). A live tick raises a reminder still worth sending."""
        decisions = []
        pending = pending if isinstance(pending, list) else list(pending)
        grace = timedelta(minutes=self.config.thresholds.reminder_grace_minutes)
        late = hub_now - until > grace  # judging facts that reached the hub after their time
        overdue = any(p.key.startswith("R2|") and p.moment <= hub_now for p in pending)
        raised = self.raised
        for p in pending:
            if p.moment <= until and p.key not in raised:
                if (late or overdue) and p.key.startswith("R1|"):
                    self.raised.add(p.key)  # never remind of a moment long gone, nor too late
                    continue
                decision = p.make()
                if decision is not None:
                    decisions.append(decision)
        return self._register(decisions, hub_now)

    def _catch_up(self, subject: str, until: datetime, hub_now: datetime) -> list[Card]:
        """Before an event changes a subject, raise what its time rules decided up to the
        event's own time: a record that arrives late (hub or link down) must not erase a card
        the subject earned before it happened."""
        scheduled = self.scheduler.timestamp_of(subject)
        if scheduled is None or scheduled > until.timestamp():
            return []
        return self._fire(self._pending(subject), until, hub_now)

    def next_wakeup(self) -> datetime | None:
        """The earliest moment a time rule may fire (the adapter can sleep until then)."""
        return self.scheduler.next_moment()

    def _pending(self, subject: str) -> list[Pending]:
        kind, _, ident = subject.partition(":")
        if kind == "case":
            case = self.cases.get(ident)
            if case is None:
                return []
            deadlines = case.deadlines(self.calendar)
            self._mark_provisional(subject, deadlines)
            return case_pending(case, self.config, self.calendar)
        if kind == "card":
            card = self.cards.get(ident)
            if card is None:
                return []
            return escalation_pending(card, self._still_applies(card), self.config)
        if kind == "window":
            window = self.windows.get(ident)
            return [] if window is None else window_pending(window, self.config, self.calendar)
        if kind == "disclosure":
            state = self.disclosures.get(ident)
            return [] if state is None else disclosure_pending(state, self.config, self.calendar)
        if kind == "complaint":
            cstate = self.complaints.get(ident)
            return [] if cstate is None else complaint_pending(cstate, self.config, self.calendar)
        return []

    def _mark_provisional(self, subject: str, deadlines: Deadlines | None) -> None:
        if deadlines is not None and deadlines.provisional:
            self._provisional.add(subject)
        else:
            self._provisional.discard(subject)

    def _still_applies(self, card: Card) -> bool:
        """Whether the condition behind a yellow card still holds (for its escalation)."""
        subject = card.decision.subject
        kind, _, ident = subject.partition(":")
        if card.rule == "R2":
            if kind == "case":
                case = self.cases.get(ident)
                return case is not None and case.is_open
            if kind == "disclosure":
                state = self.disclosures.get(ident)
                return state is not None and state.is_open
            if kind == "complaint":
                cstate = self.complaints.get(ident)
                if cstate is None or cstate.answered is not None or cstate.closed is not None:
                    return False
                return card.decision.details.get("stage") != "accept" or cstate.accepted is None
        if card.rule == "R11" and kind == "case":
            case = self.cases.get(ident)
            rating_evidence = card.decision.evidence[-1:]
            return case is not None and any(
                r.rectified_at is None for r in case.ratings if (r.evidence,) == rating_evidence
            )
        return True

    def _schedule(
        self, subject: str, pending: Iterable[Pending], after: datetime | None = None
    ) -> None:
        """Schedule ``subject`` at its earliest pending moment not yet raised (and, after a tick,
        later than that tick: what was due then was decided then)."""
        moments = [
            p.moment
            for p in pending
            if p.key not in self.raised and (after is None or p.moment > after)
        ]
        self.scheduler.set(subject, min(moments) if moments else None)

    def _reschedule(self, subject: str) -> None:
        self._schedule(subject, self._pending(subject))

    # -- cards ----------------------------------------------------------------------------------

    def _register(self, decisions: Iterable[CardDecision], hub_now: datetime) -> list[Card]:
        """Raise cards at the hub's clock: the 督办 deadline counts from the day the hub tells
        the department (``hub_now``), never from the moment (DOMAIN.md §4)."""
        out = []
        start = None
        for decision in decisions:
            if decision.key in self.raised:
                continue
            if start is None:
                start = local_date(hub_now)
            deadline, provisional = self._deadline(decision, start)
            card = Card.raise_(decision, hub_now, deadline, provisional)
            self._store(card)
            out.append(card)
        return out

    def _deadline(self, decision: CardDecision, start: date) -> tuple[date | None, bool]:
        """The 督办 deadline of a new yellow or red card (reminders have none)."""
        if decision.level is Level.REMINDER:
            return None, False
        days = self._thresholds_of(decision).supervision_days
        due = self._deadlines.get((start, days))
        if due is None:  # all cards of a tick share a start date: compute once
            due = self._deadlines[(start, days)] = due_date(self.calendar, start, days, Unit.G)
            if len(self._deadlines) > 4096:
                self._deadlines.clear()
        return due.day, due.provisional

    def _thresholds_of(self, decision: CardDecision) -> Thresholds:
        case = self.cases.get(decision.case_id or "")
        if case is not None:
            return case.thresholds
        return self.config.for_case(None, decision.dept_code)

    def _store(self, card: Card) -> None:
        self.cards[card.card_id] = card
        self.raised.add(card.key)
        ids = self.cards_of.setdefault(card.decision.subject, [])
        if card.card_id not in ids:
            ids.append(card.card_id)
        subject = f"card:{card.card_id}"
        if card.escalatable or subject in self.scheduler:
            self._reschedule(subject)

    def restore(self, cards: Iterable[Card]) -> None:
        """Load stored cards after a restart (before replaying events): their keys count as
        raised, and yellow cards resume their escalation clock."""
        for card in cards:
            self._store(card)

    def transition(
        self, card_id: str, action: Action, at: datetime, actor: str = "", note: str = ""
    ) -> Card:
        """Apply a lifecycle action (raises :class:`InvalidTransition`); on uphold the 督办
        deadline restarts from the decision date."""
        card = self.cards.get(card_id)
        if card is None:
            raise KeyError(f"no card {card_id!r}")
        deadline, provisional = None, False
        if action is Action.UPHOLD:
            deadline, provisional = self._deadline(card.decision, local_date(at))
        card = card.apply(action, at, actor, note, deadline, provisional)
        self.cards[card_id] = card
        self._reschedule(f"card:{card_id}")
        return card

    def forget_card(self, card_id: str) -> None:
        """Drop a final (closed or withdrawn) card from memory; its key stays raised so the same
        card is never raised again."""
        card = self.cards.get(card_id)
        if card is None:
            return
        if card.state not in FINAL:
            raise InvalidTransition(f"card {card_id} is {card.state}: only final cards can go")
        del self.cards[card_id]
        ids = self.cards_of.get(card.decision.subject, [])
        if card_id in ids:
            ids.remove(card_id)
        self.scheduler.set(f"card:{card_id}", None)

    def forget(self, case_id: str) -> None:
        """Drop a case's state (e.g. completed with no pending rule); its open cards stay, its
        final ones (kept for a late fact to retract) go."""
        for card_id in list(self.cards_of.get(f"case:{case_id}", ())):
            card = self.cards.get(card_id)
            if card is not None and card.state in FINAL:
                self.forget_card(card_id)
        self.cases.pop(case_id, None)
        self.scheduler.set(f"case:{case_id}", None)
        self._provisional.discard(f"case:{case_id}")

    # -- calendar -------------------------------------------------------------------------------

    def set_calendar(self, calendar: WorkCalendar) -> CalendarUpdate:
        """Switch to new calendar data and recompute what it affects: provisional deadlines when
        a new year arrives, every deadline when an already covered year is corrected. Returns
        the subjects whose deadlines moved and the cards whose 督办 deadline moved."""
        old = self.calendar
        self.calendar = calendar
        self._deadlines.clear()
        subjects = []
        changed = old.changed_years(calendar)
        if all(old.is_provisional_year(y) for y in changed):
            touched = set(self._provisional)  # only fallback years got data: the usual case
            touched |= {f"case:{cid}" for cid, c in self.cases.items() if c.ratings}
        else:  # a covered year was corrected: any deadline may move
            touched = {f"case:{cid}" for cid in self.cases}
        touched |= {f"window:{w}" for w in self.windows}
        touched |= {f"disclosure:{r}" for r in self.disclosures}
        touched |= {f"complaint:{c}" for c in self.complaints}
        for subject in sorted(touched):
            before = self.scheduler.moment_of(subject)
            if subject.startswith("case:"):
                case = self.cases.get(subject[5:])
                if case is not None:
                    was = case.deadlines(old)
                    self._reschedule(subject)
                    if was != case.deadlines(calendar):
                        subjects.append(subject)
                    continue
            self._reschedule(subject)
            if self.scheduler.moment_of(subject) != before:
                subjects.append(subject)
        cards = []
        for card in list(self.cards.values()):
            if card.deadline is None or not (
                card.deadline_provisional or card.deadline.year in changed
            ):
                continue
            upheld = [t.at for t in card.history if t.action is Action.UPHOLD]
            start = local_date(upheld[-1] if upheld else card.raised_at)
            days = self._thresholds_of(card.decision).supervision_days
            due = due_date(calendar, start, days, Unit.G)
            updated = replace(card, deadline=due.day, deadline_provisional=due.provisional)
            if updated != card:
                self.cards[card.card_id] = updated
                cards.append(updated)
            self._reschedule(f"card:{card.card_id}")
        return CalendarUpdate(subjects, cards)

    # -- questions ------------------------------------------------------------------------------

    def deadlines(self, case_id: str) -> Deadlines | None:
        """A case's promised/statutory due dates and reminder date on the current calendar."""
        case = self.cases.get(case_id)
        return None if case is None else case.deadlines(self.calendar)

    def provisional_subjects(self) -> frozenset[str]:
        """Subjects whose deadlines rest on a year without official calendar data."""
        return frozenset(self._provisional)

