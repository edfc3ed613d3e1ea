"""Window names reach the hub's screens: an acceptance record that names its window
(``window_name``, signed with the record) makes the board, the case and card pages, the window
ranking and the video wall's tile label say "1号窗口（综合受理）" where they said "W01"."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hub.store import Store
from hub.supervision.queries import SupervisionProvider
from hub.web.blueprints.video import _names, label
from hub.web.pagination import PageRequest
from tests.supervision.helpers import Clock, Feed, service

NAME = "1号窗口（市场监管·综合受理）"


def test_the_name_an_acceptance_gives_its_window_is_shown_for_the_id(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    store = Store(db)
    feed = Feed(store)
    clock = Clock("2026-11-02T09:00")
    svc = service(db, clock)
    provider = SupervisionProvider(svc, clock=clock, cache_s=0, background=False)
    feed.accept("A", "2026-11-02T10:00", window_name=NAME)
    feed.accept("B", "2026-11-02T10:10")  # a record without the name keeps the name known
    feed.accept("C", "2026-11-02T10:20", window="W09")  # a window nobody named: its id
    feed.flush()
    clock.set("2026-11-02T10:30")
    svc.step()
    for case_id in "ABC":
        feed.complete(case_id, "2026-11-10T10:00")  # due 11-09: late, an R2 card each
    clock.set("2026-11-10T08:00")
    svc.step()
    feed.flush()
    clock.set("2026-11-10T10:05")
    svc.step()
    conn = sqlite3.connect(db)
    try:
        page = provider.cases(conn, {}, None, PageRequest(1, 10))
        assert {c["case_id"]: c["window_name"] for c in page.items} == {"A": NAME, "B": NAME, "C": None}
        case = provider.case(conn, "B", None)
        assert case is not None and case["window_name"] == NAME
        cards = provider.alerts(conn, {"level": "yellow"}, None, PageRequest(1, 10)).items
        card = provider.card(conn, next(c["card_id"] for c in cards if c["case_id"] == "A"), None)
        assert card is not None and card["window_name"] == NAME
        ranking = provider.rankings(conn, "2026-11", "window", None)
        assert {r["code"]: r["name"] for r in ranking} == {"W01": NAME, "W09": "W09"}
        cam = {"hall_id": "H1", "camera_id": "cam1", "windows": ["W01", "W09"]}
        assert label(cam, *_names(conn, {"W01", "W09"}))["label"] == f"市场监管局 · {NAME}、W09"
    finally:
        conn.close()
    svc.stop()
    store.close()
