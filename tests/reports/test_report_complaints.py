"""The monthly report's complaint and disclosure sections (DOMAIN.md §7): received, closed, overdue —
judged as the complaints block scores them —, per department, the staff flagged from their second
substantiated complaint of the year (DOMAIN.md §6), and the same figures on the page, in the PDF
and in the workbook."""

from __future__ import annotations

import io
import sqlite3
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from hub.engine.localtime import LOCAL_TZ
from hub.reports import render_html, render_pdf, render_xlsx
from hub.reports.data import build_report
from hub.supervision.schema import ensure_schema
from tests.support.required import need_tool

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=LOCAL_TZ)


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn)
    conn.executemany("INSERT INTO sup_names (kind, code, name, dept_code) VALUES (?, ?, ?, ?)", [
        ("dept", "D1", "市场监管局", None), ("dept", "D2", "自然资源局", None), ("staff", "S1", "李静", "D1")])
    conn.execute("INSERT INTO sup_daily (day, dept_code, metric, n) VALUES ('2026-11-02', 'D1', 'accepted', 1)")
    complaints: list[tuple[Any, ...]] = [
        # id, dept, staff, filed, accepted, answered, closed, substantiated, accept_due, answer_due
        ("T1", "D1", "S1", "2026-11-02", "2026-11-03", "2026-11-10", "2026-11-11", 1, "2026-11-09", "2026-11-24"),
        ("T2", "D1", "S1", "2026-11-02", "2026-11-12", "2026-11-20", "2026-11-23", 0, "2026-11-09", "2026-12-03"),
        ("T3", "D1", None, "2026-11-05", None, None, "2026-11-06", None, "2026-11-12", None),  # 不予受理 in time
        ("T4", "D2", "S9", "2026-11-10", "2026-11-11", None, None, None, "2026-11-17", "2026-12-02"),  # open, not due
        ("T5", "D1", "S1", "2026-03-02", "2026-03-03", "2026-03-10", "2026-03-11", 1, "2026-03-09", "2026-03-24"),
        ("T6", "D2", "S9", "2026-10-02", "2026-10-09", "2026-10-20", "2026-10-21", 1, "2026-10-16", "2026-10-30"),
    ]
    conn.executemany(
        "INSERT INTO complaints (complaint_id, target_dept, target_staff, filed_day, accepted_day, answered_day, "
        "closed_day, substantiated, accept_due, answer_due, active, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')", complaints)
    conn.executemany(
        "INSERT INTO disclosures (request_id, dept_code, received_day, due_date, answered_day, extensions, active, "
        "updated_at) VALUES (?, ?, ?, ?, ?, 0, 0, '')", [
            ("Q1", "D2", "2026-11-02", "2026-11-30", "2026-11-20"),
            ("Q2", "D2", "2026-11-03", "2026-11-27", "2026-12-01"),  # answered late
            ("Q3", "D2", "2026-11-04", "2026-11-20", None),  # open past its due date
            ("Q4", "D1", "2026-11-25", "2026-12-23", None),  # open, not yet due
        ])
    return conn


def test_complaint_and_disclosure_sections() -> None:
    conn = _db()
    report = build_report(conn, "2026-11", now=NOW)
    conn.close()
    assert report is not None
    assert report["complaints"] == {"received": 4, "accepted": 3, "answered": 2, "closed": 3, "open": 1,
                                    "handled_on_time": 2, "overdue": 1, "substantiated": 1}  # T2 accepted late
    by_dept = {r["code"]: r for r in report["complaints_by_dept"]}
    assert by_dept["D1"]["name"] == "市场监管局"
    assert (by_dept["D1"]["received"], by_dept["D1"]["handled_on_time"], by_dept["D1"]["overdue"]) == (3, 2, 1)
    assert (by_dept["D2"]["received"], by_dept["D2"]["overdue"], by_dept["D2"]["open"]) == (1, 0, 1)
    # S1: T5 (March) and T1 (November) substantiated → flagged; S9 has one (T6) → not
    assert report["complaints_flagged_staff"] == [{"code": "S1", "name": "李静", "dept_name": "市场监管局",
                                                   "substantiated": 2, "complaints": "T1、T5"}]
    assert report["disclosures"] == {"received": 4, "answered": 2, "on_time": 1, "overdue": 2, "open": 2}
    assert [(r["code"], r["received"], r["overdue"]) for r in report["disclosures_by_dept"]] == [
        ("D2", 3, 2), ("D1", 1, 0)]
    html = render_html(report).decode("utf-8")
    for needle in ("九、投诉处理", "按被投诉部门", "本年度属实投诉两件及以上的人员", "李静", "T1、T5",
                   "十一、政府信息公开申请", "按期答复", "自然资源局"):
        assert needle in html, needle
    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    cells = [[c for c in row if c is not None] for row in wb["投诉与信息公开"].iter_rows(values_only=True)]
    assert ["市场监管局", 3, 2, 1, 1, 0] in cells  # name, received, on time, overdue, 属实, open
    assert ["李静", "市场监管局", 2, "T1、T5"] in cells
    assert ["自然资源局", 3, 1, 2, 1] in cells
    summary = {row[0]: row[1] for row in wb["概况"].iter_rows(values_only=True) if row[0]}
    assert summary["收到投诉"] == 4 and summary["按时处理"] == 2 and summary["收到申请"] == 4


def test_the_pdf_carries_the_sections(tmp_path: Path) -> None:
    need_tool("pdftotext", "poppler-utils")
    conn = _db()
    report = build_report(conn, "2026-11", now=NOW)
    conn.close()
    assert report is not None
    path = tmp_path / "report.pdf"
    path.write_bytes(render_pdf(report))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    for needle in ("九、投诉处理", "按被投诉部门", "本年度属实投诉两件及以上的人员", "李静", "T1、T5",
                   "十一、政府信息公开申请", "自然资源局"):
        assert needle in text, needle


def test_a_month_without_complaints_reports_zeros() -> None:
    conn = _db()
    conn.execute("DELETE FROM complaints")
    conn.execute("DELETE FROM disclosures")
    report = build_report(conn, "2026-11", now=NOW)
    conn.close()
    assert report is not None
    assert report["complaints"]["received"] == 0 and report["complaints_by_dept"] == []
    assert report["complaints_flagged_staff"] == [] and report["disclosures"]["received"] == 0
    assert date.fromisoformat(report["period"]["end"]) == date(2026, 11, 30)


def test_the_english_page_translates_the_new_headings() -> None:
    from babel.support import Translations

    from hub.web.reportfiles import Words, sections

    catalogue = Translations.load(str(Path(__file__).resolve().parents[2] / "hub" / "web" / "translations"), ["en"])

    def text(key: str, **values: object) -> str:
        return str(catalogue.gettext(key)).format(**values) if values else str(catalogue.gettext(key))

    conn = _db()
    report = build_report(conn, "2026-11", now=NOW)
    conn.close()
    assert report is not None
    laid = {s.key: s for s in sections(report, Words(text, lambda key: catalogue.gettext(key) != key))}
    complaints = laid["complaints"]
    assert ("Handled on time", "2") in complaints.figures
    by_dept, flagged = complaints.tables
    assert by_dept.caption == "By department complained about"
    assert flagged.caption == "Staff with two or more substantiated complaints this year"
    assert flagged.columns == ["Staff member", "Department", "Substantiated", "Complaints"]
    (requests,) = laid["disclosures"].tables
    assert requests.caption == "By department" and "Answered on time" in requests.columns
