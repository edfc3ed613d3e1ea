"""hub.engine stays pure: no I/O libraries, no threads, no wall clock (STYLE.md §1, §3)."""

from __future__ import annotations

import ast
from pathlib import Path

from hub.engine.cards import Action, CardState, InvalidTransition
from tests.engine.helpers import Driver, at, d

ENGINE = Path(__file__).resolve().parents[2] / "hub" / "engine"
FORBIDDEN_MODULES = {"sqlite3", "sqlite_utils", "flask", "paho", "socket", "threading", "asyncio",
                     "subprocess", "cv2", "aiortc", "time", "requests", "urllib"}  # fmt: skip
WALL_CLOCK = {"now", "today", "utcnow", "time", "monotonic", "perf_counter"}
# File reading/writing is allowed only in the thin loaders named here.
IO_ALLOWED = {"arrangement.py", "config.py", "clock_cli.py"}


def test_no_forbidden_imports_and_no_wall_clock() -> None:
    for path in sorted(ENGINE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            else:
                names = []
            assert not set(names) & FORBIDDEN_MODULES, f"{path.name} imports {names}"
            if isinstance(node, ast.Attribute) and node.attr in WALL_CLOCK:
                base = node.value
                owner = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
                assert owner not in {"datetime", "date", "time"}, f"{path.name}: {owner}.{node.attr}"
            if isinstance(node, ast.Name) and node.id == "open" and path.name not in IO_ALLOWED:
                raise AssertionError(f"{path.name} opens files")
            if isinstance(node, ast.Attribute) and node.attr in {"read_text", "read_bytes", "write_text"}:
                assert path.name in IO_ALLOWED, f"{path.name} does file I/O"


def test_corrected_acceptance_keeps_the_clock_timeline() -> None:
    drv = Driver()
    drv.accept()
    drv.case("suspended", when="2026-09-28T10:00", kind=2, reason="检测")
    drv.case("resumed", when="2026-09-29T10:00")
    drv.accept(limit=6)  # the department corrected the promised limit
    deadlines = drv.sup.deadlines("C1")
    # 6 G with 09-28..09-29 paused: 09-30, 10-08, 10-09, 10-10, 10-12, 10-13.
    assert deadlines is not None and deadlines.promised.day == d("2026-10-13")


def test_forgetting_cases_and_final_cards() -> None:
    drv = Driver()
    drv.accept(statutory=None)
    drv.tick("2026-10-09")
    (card,) = drv.tick("2026-10-10")
    try:
        drv.sup.forget_card(card.card_id)
    except InvalidTransition:
        pass
    else:
        raise AssertionError("an open card was forgotten")
    sup = drv.sup
    sup.transition(card.card_id, Action.RECTIFY, at("2026-10-12"))
    sup.transition(card.card_id, Action.CLOSE, at("2026-10-13"))
    assert sup.cards[card.card_id].state is CardState.CLOSED
    sup.forget_card(card.card_id)
    sup.forget("C1")
    assert card.card_id not in sup.cards and "C1" not in sup.cases
    assert card.key in sup.raised and drv.tick("2026-12-31") == []
