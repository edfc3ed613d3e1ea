"""The monthly report's files, checked for content: PDF text, workbook cells, page figures."""

from __future__ import annotations

import io
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from hub.cli import main
from hub.engine.config import EngineConfig
from hub.engine.scoring import Period, score_entities
from hub.reports import render_html, render_pdf, render_xlsx
from hub.reports.data import build_report
from hub.supervision.facts import load_facts
from tests.supervision.conftest import Month
from tests.support.required import need_tool


@pytest.fixture
def report(month: Month) -> dict[str, Any]:
    conn = sqlite3.connect(month.db)
    try:
        data = build_report(conn, "2026-11", now=month.clock())
    finally:
        conn.close()
    assert data is not None
    return data


def test_report_data(report: dict[str, Any], month: Month) -> None:
    conn = sqlite3.connect(month.db)
    try:
        facts = load_facts(conn, Period.parse("2026-11"))
    finally:
        conn.close()
    scores = {s.entity: (s.score, s.grade) for s in score_entities(facts, "department", EngineConfig().scoring)}
    assert report["totals"] == {"accepted": 5, "accepted_immediate": 0, "accepted_promised": 5, "refused": 0,
                                "completed": 5, "open_at_end": 0, "overdue": 1, "overdue_completed": 1,
                                "overdue_open": 0}
    assert report["rates"] == {"on_time_rate": 0.8, "early_rate": 0.6, "overdue_rate": 0.2, "judged_cases": 5}
    cards = report["cards"]
    assert (cards["yellow"], cards["red"], cards["standing"], cards["reminders"]) == (1, 0, 1, 1)
    assert cards["system_withdrawn"] == 0 and report["withdrawals"] == [] and cards["per_100_cases"] == 20.0
    depts = report["departments"]
    assert [(d["name"], d["yellow"], d["red"]) for d in depts] == [("税务局", 0, 0), ("市场监管局", 1, 0)]
    assert [(d["rank"], d["name"], d["score"], d["grade"]) for d in report["departments"]] == [
        (1, "税务局", *scores["D02"]), (2, "市场监管局", *scores["D01"])]  # the engine's scoring, as it stands
    assert scores["D02"] == (100.0, "优秀") and "R2" in report["departments"][1]["lost"]
    assert [t["day"] for t in report["trend"]][:2] == ["2026-11-02", "2026-11-03"]
    assert report["ratings"]["distribution"][4] == {"level": 5, "label": "非常不满意", "count": 1}


def test_pdf_renders_chinese_that_can_be_extracted(report: dict[str, Any], tmp_path: Path) -> None:
    need_tool("pdftotext", "poppler-utils")
    path = tmp_path / "report.pdf"
    path.write_bytes(render_pdf(report))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for needle in ("行政效能电子监察月报（2026年11月）", "市场监管局", "税务局", "按时办结率", "80.0%", "部门得分",
                   "评价等级分布", f"{report['departments'][1]['score']:.1f}", "合格", "优秀", "系统撤销"):
        assert needle in text, needle
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert rows and all("WenQuanYi" in row[0] for row in rows), fonts  # no Helvetica, no STSong-Light
    assert all(row[-5:-3] == ["yes", "yes"] for row in rows), fonts  # emb, sub: every font embedded
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Title:           全市 行政效能电子监察 月报 2026-11" in info, info
    assert "Author:          效能 Xiaoneng 行政效能电子监察" in info and "Creator:         效能 Xiaoneng" in info
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
                   check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 5000  # a drawn page, not a blank one


def test_workbook_sheets_cells_and_charts(report: dict[str, Any]) -> None:
    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    assert wb.sheetnames == ["概况", "趋势", "部门排名", "窗口排名", "人员排名", "投诉与信息公开", "预警纠错",
                             "群众评价", "链路"]
    summary = {row[0]: row[1] for row in wb["概况"].iter_rows(min_row=1, values_only=True) if row[0]}
    assert summary["受理"] == 5 and summary["超期合计"] == 1 and summary["按时办结率"] == 0.8
    assert wb["概况"]["A1"].value == "全市行政效能电子监察月报（2026年11月）"
    ranking = wb["部门排名"]
    assert [c.value for c in ranking[1]][:4] == ["名次", "部门", "得分", "等级"]
    assert [c.value for c in ranking[2]][:4] == [1, "税务局", 100.0, "优秀"]
    second = report["departments"][1]
    assert [c.value for c in ranking[3]][:4] == [2, "市场监管局", second["score"], second["grade"]]
    assert ranking._charts[0].x_axis.tickLblSkip == 1  # every department named on the chart
    assert len(ranking._charts) == 1 and len(wb["趋势"]._charts) == 1 and len(wb["群众评价"]._charts) == 1
    assert wb["趋势"]["D2"].number_format == "0.0%"


def test_html_page_is_standalone_with_figures(report: dict[str, Any]) -> None:
    html = render_html(report).decode("utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in html
    for needle in ("市场监管局", "税务局", "<b>80.0%</b>", "<b>5</b>", "<svg", "每日办结按时率", "评价等级分布"):
        assert needle in html, needle
    assert "<script" not in html and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_report_command(month: Month, tmp_path: Path) -> None:
    data = month.db.parent
    runner = CliRunner()
    out = tmp_path / "r.xlsx"
    result = runner.invoke(main, ["report", "2026-11", "--data", str(data), "--format", "xlsx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "受理 5" in result.output and load_workbook(out)["部门排名"]["B2"].value == "税务局"
    out = tmp_path / "r.html"
    result = runner.invoke(main, ["report", "2026-11", "--data", str(data), "--format", "html", "-o", str(out),
                                  "--dept", "D02"])
    assert result.exit_code == 0 and "税务局行政效能电子监察月报" in out.read_text(encoding="utf-8")
    out = tmp_path / "r.pdf"
    result = runner.invoke(main, ["report", "2026-11", "--data", str(data), "-o", str(out), "--city", "示范市"])
    assert result.exit_code == 0 and out.read_bytes().startswith(b"%PDF"), result.output
    assert runner.invoke(main, ["report", "2026-13", "--data", str(data), "-o", str(out)]).exit_code == 2
    result = runner.invoke(main, ["report", "2026-05", "--data", str(data), "-o", str(out)])
    assert result.exit_code == 1 and "no supervision data" in result.output
    assert runner.invoke(main, ["report", "2026-11", "--data", str(tmp_path / "none"), "-o", str(out)]).exit_code == 1


def test_renderers_accept_a_partial_report() -> None:
    """The web may hand any provider's report to the renderers: missing parts are left out."""
    assert render_pdf({"month": "2026-11"}).startswith(b"%PDF")
    assert render_xlsx({"month": "2026-11"}).startswith(b"PK")
    assert "全市行政效能电子监察月报（2026年11月）" in render_html({"month": "2026-11"}).decode()
