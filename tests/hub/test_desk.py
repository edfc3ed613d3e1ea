"""The desk: records entered at the hub are signed, chained and stored through the real ingest decision,
verify with `xiaoneng-hub verify`, continue their chain after a restart, never fork under concurrent
submissions, and reach the supervision engine (an overdue complaint raises its card, no R8)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.desk import DESK_AGENT
from hub.desk.service import Desk, NewComplaint, NewRequest, Refused
from hub.service import BrokerLogin, IngestService
from hub.store import Store
from provisioning.hubkey import KEY_FILE, load_or_create_key
from provisioning.registry import Registry
from tests.supervision.helpers import Clock, at, query, service

LOGIN = BrokerLogin("127.0.0.1", 1, "hub", "unused")  # never connected: the desk needs no broker


@dataclass
class Hub:
    data: Path
    store: Store
    ingest: IngestService
    desk: Desk
    clock: Clock

    @property
    def db(self) -> Path:
        return self.data / "hub.sqlite"

    def conn(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db)

    def close(self) -> None:
        self.store.close()


def open_hub(data: Path, clock: Clock) -> Hub:
    data.mkdir(exist_ok=True)
    registry = Registry(data / "hub.sqlite")
    store = Store(data / "hub.sqlite")
    ingest = IngestService(store, registry.public_key, load_or_create_key(data / KEY_FILE), LOGIN,
                           clock=lambda: clock().timestamp())
    desk = Desk.open(data, ingest, store.head, clock)
    return Hub(data, store, ingest, desk, clock)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = open_hub(tmp_path / "data", Clock("2026-11-12T09:00"))
    seed_dept(h.db)
    yield h
    h.close()


def seed_dept(db: Path) -> None:
    """A department the hub knows by name (as if its records had arrived)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS sup_names (kind TEXT NOT NULL, code TEXT NOT NULL, name TEXT, "
                     "dept_code TEXT, PRIMARY KEY (kind, code)) WITHOUT ROWID")
        conn.execute("INSERT OR IGNORE INTO sup_names VALUES ('dept', 'D01', '市场监管局', NULL)")


def complaint(filed: str = "2026-11-02T09:00", **kw: object) -> NewComplaint:
    return NewComplaint(target_dept="D01", text="窗口人员态度恶劣", channel="letter", filed_at=at(filed), **kw)  # type: ignore[arg-type]


def verify(data: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", "--data", str(data)])
    return result.exit_code, result.output


def test_desk_records_are_signed_chained_ledgered_and_verify(hub: Hub) -> None:
    with closing(hub.conn()) as conn:
        first = hub.desk.register_complaint(conn, complaint(), "mon")
        hub.desk.complaint_step(conn, first.ident, "accepted", at("2026-11-03T10:00"), "mon")
        req = hub.desk.register_request(conn, NewRequest("D01", "公开某项目批复", "web", at("2026-11-05T09:00")), "mon")
    hub.ingest.checkpoint()
    assert first.ident == "TS-20261102-001" and req.ident == "GK-20261105-001"
    rows = query(hub.db, "SELECT agent_id, stream_id, seq, type FROM records ORDER BY id")
    assert [(r[0], r[2], r[3]) for r in rows] == [(DESK_AGENT, 1, "complaint.filed"),
                                                  (DESK_AGENT, 2, "complaint.accepted"),
                                                  (DESK_AGENT, 3, "disclosure.received")]
    assert query(hub.db, "SELECT COUNT(*) FROM quarantine") == [(0,)]
    code, out = verify(hub.data)
    assert code == 0 and "校验通过" in out and "records 3" in out
    # the registry holds the desk's key like an agent's; the agent is of the bureau's site
    agent = Registry(hub.db).agent(DESK_AGENT)
    assert agent is not None and agent.site_id == "hub-bureau" and agent.active


def test_tampering_with_a_desk_record_is_named_by_verify(hub: Hub) -> None:
    with closing(hub.conn()) as conn:
        hub.desk.register_complaint(conn, complaint(), "mon")
    hub.ingest.checkpoint()
    with closing(hub.conn()) as conn, conn:
        raw = conn.execute("SELECT raw FROM records WHERE id = 1").fetchone()[0]
        altered = bytes(raw).replace("态度恶劣".encode(), "态度很好".encode())
        conn.execute("UPDATE records SET raw = ? WHERE id = 1", (altered,))
    code, out = verify(hub.data)
    assert code == 1 and "FAILED" in out


def test_a_restart_continues_the_desk_chain(tmp_path: Path) -> None:
    clock = Clock("2026-11-12T09:00")
    first = open_hub(tmp_path / "data", clock)
    seed_dept(first.db)
    with closing(first.conn()) as conn:
        one = first.desk.register_complaint(conn, complaint(), "mon")
    stream = first.desk.stream.stream_id
    first.close()
    again = open_hub(tmp_path / "data", clock)
    try:
        assert again.desk.stream.stream_id == stream
        with closing(again.conn()) as conn:
            step = again.desk.complaint_step(conn, one.ident, "accepted", at("2026-11-03T10:00"), "mon")
        assert (step.record.stream, step.record.seq) == (stream, 2)
        assert query(again.db, "SELECT COUNT(DISTINCT stream_id), MAX(seq) FROM records") == [(1, 2)]
        assert query(again.db, "SELECT COUNT(*) FROM quarantine") == [(0,)]
        again.ingest.checkpoint()
        assert verify(again.data)[0] == 0
    finally:
        again.close()


def test_concurrent_submissions_do_not_fork_the_chain(hub: Hub) -> None:
    errors: list[BaseException] = []

    def register(n: int) -> None:
        try:
            with closing(hub.conn()) as conn:
                for i in range(8):
                    hub.desk.register_complaint(conn, complaint(complaint_id=f"C{n}-{i}"), f"user{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    seqs = [s for (s,) in query(hub.db, "SELECT seq FROM records ORDER BY id")]
    assert seqs == list(range(1, 17))
    assert query(hub.db, "SELECT COUNT(*) FROM quarantine") == [(0,)]
    hub.ingest.checkpoint()
    assert verify(hub.data)[0] == 0


def test_the_same_step_twice_at_once_stores_one_record(hub: Hub) -> None:
    with closing(hub.conn()) as conn:
        c = hub.desk.register_complaint(conn, complaint(), "mon")
    outcomes: list[str] = []

    def accept() -> None:
        with closing(hub.conn()) as conn:
            try:
                hub.desk.complaint_step(conn, c.ident, "accepted", at("2026-11-03T10:00"), "mon")
                outcomes.append("stored")
            except Refused as exc:
                outcomes.append(exc.key)

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["desk.error.order", "stored"]


def test_refusals_name_the_problem(hub: Hub) -> None:
    with closing(hub.conn()) as conn:
        with pytest.raises(Refused) as unknown:
            hub.desk.register_complaint(conn, NewComplaint("D99", "x", "letter", at("2026-11-02T09:00")), "mon")
        assert unknown.value.key == "desk.error.unknown_dept" and "D99" in unknown.value.detail
        with pytest.raises(Refused) as future:
            hub.desk.register_complaint(conn, complaint("2026-11-13T09:00"), "mon")
        assert future.value.key == "desk.error.future"
        c = hub.desk.register_complaint(conn, complaint(), "mon")
        with pytest.raises(Refused) as order:
            hub.desk.complaint_step(conn, c.ident, "answered", at("2026-11-03T10:00"), "mon")
        assert order.value.key == "desk.error.order"
        with pytest.raises(Refused) as before:
            hub.desk.complaint_step(conn, c.ident, "accepted", at("2026-11-01T10:00"), "mon")
        assert before.value.key == "desk.error.before_previous"
        with pytest.raises(Refused) as taken:
            hub.desk.register_complaint(conn, complaint(complaint_id=c.ident), "mon")
        assert taken.value.key == "desk.error.exists"
    assert query(hub.db, "SELECT COUNT(*) FROM records") == [(1,)]


def test_an_overdue_desk_complaint_raises_its_card_and_no_late_report(hub: Hub) -> None:
    """Filed on Monday 11-02 (entered ten days later): acceptance was due in 5 working days (11-09);
    at 11-12 the engine raises R2 on it. The desk's typing delay is not a department's late report."""
    svc = service(hub.db, hub.clock)
    try:
        with closing(hub.conn()) as conn:
            c = hub.desk.register_complaint(conn, complaint(), "mon")
            r = hub.desk.register_request(conn, NewRequest("D01", "公开", "visit", at("2026-11-11T09:00")), "mon")
        svc.step()
        cards = query(hub.db, "SELECT rule, subject, dept_code FROM cards ORDER BY rule")
        assert cards == [("R2", f"complaint:{c.ident}", "D01")]
        assert query(hub.db, "SELECT accept_due, active FROM complaints") == [("2026-11-09", 1)]
        assert query(hub.db, "SELECT request_id, due_date FROM disclosures") == [(r.ident, "2026-12-09")]
        with closing(hub.conn()) as conn:  # accepted and answered: the record follows, the list knows it
            hub.desk.complaint_step(conn, c.ident, "accepted", at("2026-11-12T08:00"), "mon")
        svc.step()
        assert query(hub.db, "SELECT accepted_day FROM complaints") == [("2026-11-12",)]
    finally:
        svc.stop()


def test_desk_records_beyond_the_supervision_cursor_are_read_from_the_store(hub: Hub) -> None:
    from hub.desk import queries

    with closing(hub.conn()) as conn:
        c = hub.desk.register_complaint(conn, complaint(), "mon")
        facts, events = queries.complaint_facts(conn, c.ident)
    assert facts.filed and facts.target_dept == "D01" and facts.next_steps() == ["accepted", "closed"]
    assert [e["type"] for e in events] == ["complaint.filed"] and events[0]["verified"] and events[0]["desk"]
    assert events[0]["body"]["entered_by"] == "mon"
    assert datetime.fromisoformat(events[0]["at"]) == at("2026-11-02T09:00")


def test_days_left_agree_with_the_engines_clock() -> None:
    """The lists' "days left" from a stored due date equal DOMAIN.md §3's count from the start date,
    on every day from the start to well past the due date (2026: National Day, 调休 Saturday 10-10)."""
    from datetime import timedelta

    from hub.desk.queries import remaining
    from hub.engine.calendar import WorkCalendar
    from hub.engine.clock import Unit, due_date, remaining_days

    cal = WorkCalendar()
    for start in (at("2026-09-24").date(), at("2026-09-26").date(), at("2026-11-02").date()):
        for limit, unit in ((5, Unit.G), (20, Unit.G), (15, Unit.Z)):
            due = due_date(cal, start, limit, unit).day
            assert due is not None
            for offset in range(0, 45):
                today = start + timedelta(days=offset)
                assert remaining(cal, start, due, today, unit) == remaining_days(cal, start, limit, today, unit), (
                    start, limit, unit, today)


def test_the_desk_is_not_a_link_to_watch(hub: Hub) -> None:
    """The desk never connects to the broker: the links page and the halls panel do not list it as an
    agent that never came online (the devices page lists it with its key)."""
    from hub.web.queries import links

    with closing(hub.conn()) as conn:
        hub.desk.register_complaint(conn, complaint(), "mon")
        conn.row_factory = sqlite3.Row
        assert links.summary(conn)["total"] == 0 and links.sites_summary(conn) == []
        assert links.get_link(conn, DESK_AGENT, now=datetime.now().astimezone()) is None
    assert query(hub.db, "SELECT site_id FROM agents WHERE agent_id = 'hub-desk'") == [("hub-bureau",)]


def test_xiaoneng_hub_agents_does_not_list_the_desk(hub: Hub) -> None:
    with closing(hub.conn()) as conn:
        hub.desk.register_complaint(conn, complaint(), "mon")
    result = CliRunner().invoke(main, ["agents", "--data", str(hub.data), "--json"])
    assert result.exit_code == 0 and DESK_AGENT not in result.output
