"""The report counts standing cards of the month only, and lists the system's withdrawals apart.

On the supervision tests' month (D01 市场监管局 with case D's yellow card), three more cases of
D02 税务局 go overdue on 2026-11-09 and get their R2 yellow cards at 11-12 09:00:
F's completion then arrives three days late (the system withdraws F's card, 系统撤销), G's card is
appealed (pending: not counted), H's card is appealed and upheld (counted, and counted as upheld).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hub.reports import render_html, render_pdf, render_xlsx
from hub.reports.data import build_report
from tests.supervision.conftest import Month


def _report(month: Month, **kwargs: Any) -> dict[str, Any]:
    conn = sqlite3.connect(month.db)
    try:
        report = build_report(conn, "2026-11", now=month.clock(), **kwargs)
    finally:
        conn.close()
    assert report is not None
    return report


def _card(month: Month, case_id: str) -> str:
    conn = sqlite3.connect(month.db)
    try:
        (card_id,) = conn.execute("SELECT card_id FROM cards WHERE case_id = ? AND rule = 'R2'", (case_id,)).fetchone()
    finally:
        conn.close()
    return str(card_id)


def _three_cards(month: Month) -> None:
    for case_id in "FGH":
        month.feed.accept(case_id, "2026-11-02T11:30", dept="D02", dept_name="税务局", window="W02", staff="S02",
                          item="I02", item_name="税务登记")
    month.feed.flush()
    month.clock.set("2026-11-12T09:00:05")
    month.service.step()
    month.feed.complete("F", "2026-11-09T15:00")  # on its due date, reported three days late
    month.feed.flush()
    month.clock.set("2026-11-12T09:00:10")
    month.service.step()
    now = month.clock()
    notes = {"notify": "", "appeal": "材料齐全，系统时限计算有误", "uphold": "核查属实，维持黄牌"}
    for case_id, actions in (("G", ("notify", "appeal")), ("H", ("notify", "appeal", "uphold"))):
        card_id = _card(month, case_id)
        for action in actions:
            month.service.act(card_id, action, "monitor1", notes[action], now)


def test_standing_cards_only_and_withdrawals_apart(month: Month) -> None:
    _three_cards(month)
    report = _report(month)
    cards = report["cards"]
    assert (cards["yellow"], cards["red"], cards["standing"]) == (2, 0, 2)  # D and H
    assert (cards["appealed"], cards["upheld"], cards["withdrawn_on_appeal"], cards["system_withdrawn"]) == (1, 1, 0, 1)
    assert cards["raised"] == 3  # D, G, H: the system's withdrawal is not a card raised in the month
    assert cards["standing"] <= report["totals"]["accepted"]
    assert [(r["rule"], r["level"], r["count"]) for r in report["cards_by_rule"] if r["level"] != "reminder"] == [
        ("R2", "yellow", 2)]
    (withdrawn,) = report["withdrawals"]
    assert withdrawn["case_id"] == "F" and withdrawn["dept_name"] == "税务局" and "未超期" in withdrawn["reason"]
    assert withdrawn["moment"].startswith("2026-11-") and "T" not in withdrawn["moment"]
    depts = {d["name"]: (d["yellow"], d["red"]) for d in report["departments"]}
    assert depts == {"税务局": (1, 0), "市场监管局": (1, 0)}
    d02 = _report(month, dept="D02")["cards"]
    assert (d02["yellow"], d02["appealed"], d02["system_withdrawn"]) == (1, 1, 1)

    html = render_html(report).decode()
    assert "系统撤销 1 张" in html and "未超期" in html and "<b>2</b>" in html
    summary = {r[0]: r[1] for r in render_xlsx_rows(report) if r[0]}
    assert summary["黄牌"] == 2 and summary["系统撤销（另列）"] == 1
    assert render_pdf(report).startswith(b"%PDF")


def render_xlsx_rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    cards = [row for row in wb["预警纠错"].iter_rows(values_only=True)]
    assert any(row[0] == "R2" and row[2] == "未超期" for row in cards) is False  # the reason is in its own column
    assert any("未超期" in str(cell) for row in cards for cell in row)
    return list(wb["概况"].iter_rows(values_only=True))


def test_historical_cards_count_in_their_own_month(month: Month) -> None:
    """A card flagged historical (imported history) counts in the month of its moment like any other."""
    conn = sqlite3.connect(month.db)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(cards)")}
        if "historical" not in columns:  # a store from before the flag: the JSON carries it
            conn.execute("UPDATE cards SET json = json_set(json, '$.historical', json('true')) "
                         "WHERE case_id = 'D' AND rule = 'R2'")  # fmt: skip
        else:
            conn.execute("UPDATE cards SET historical = 1 WHERE case_id = 'D' AND rule = 'R2'")
        conn.commit()
    finally:
        conn.close()
    cards = _report(month)["cards"]
    assert (cards["yellow"], cards["standing"], cards["historical"]) == (1, 1, 1)
