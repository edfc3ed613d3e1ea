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
from hub.reports import render_html, render_pdf, render_xlsx
from hub.reports.data import build_report
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


def test_report_data(report: dict[str, Any]) -> None:
    assert report["totals"] == {"accepted": 5, "accepted_immediate": 0, "accepted_promised": 5, "refused": 0,
                                "completed": 5, "open_at_end": 0, "overdue": 1, "overdue_completed": 1,
                                "overdue_open": 0}
    assert report["rates"] == {"on_time_rate": 0.8, "early_rate": 0.6, "overdue_rate": 0.2, "judged_cases": 5}
    assert report["cards"]["yellow"] == 1 and report["cards"]["reminder"] == 2 and report["cards"]["red"] == 0
    assert [(d["name"], d["score"], d["grade"]) for d in report["departments"]] == [
        ("税务局", 100.0, "优秀"), ("市场监管局", 74.5, "合格")]
    assert "黄牌 R2（-3）" in report["departments"][1]["lost"]
    assert [t["day"] for t in report["trend"]][:2] == ["2026-11-02", "2026-11-03"]
    assert report["ratings"]["distribution"][4] == {"level": 5, "label": "非常不满意", "count": 1}


def test_pdf_renders_chinese_that_can_be_extracted(report: dict[str, Any], tmp_path: Path) -> None:
    need_tool("pdftotext", "poppler-utils")
    path = tmp_path / "report.pdf"
    path.write_bytes(render_pdf(report))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for needle in ("行政效能电子监察月报（2026年11月）", "市场监管局", "税务局", "按时办结率", "80.0%", "部门得分",
                   "评价等级分布", "74.5", "合格", "优秀"):
        assert needle in text, needle
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "STSong-Light" in fonts
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
                   check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 5000  # a drawn page, not a blank one


def test_workbook_sheets_cells_and_charts(report: dict[str, Any]) -> None:
    wb = load_workbook(io.BytesIO(render_xlsx(report)))
    assert wb.sheetnames == ["概况", "趋势", "部门排名", "窗口排名", "人员排名", "预警纠错", "群众评价", "链路"]
    summary = {row[0]: row[1] for row in wb["概况"].iter_rows(min_row=1, values_only=True) if row[0]}
    assert summary["受理"] == 5 and summary["超期合计"] == 1 and summary["按时办结率"] == 0.8
    assert wb["概况"]["A1"].value == "全市行政效能电子监察月报（2026年11月）"
    ranking = wb["部门排名"]
    assert [c.value for c in ranking[1]][:4] == ["名次", "部门", "得分", "等级"]
    assert [c.value for c in ranking[2]][:4] == [1, "税务局", 100.0, "优秀"]
    assert [c.value for c in ranking[3]][:4] == [2, "市场监管局", 74.5, "合格"]
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
    assert runner.invoke(main, ["report", "2026-13", "--data", str(data), "-o", str(out)]).exit_code == 2
    result = runner.invoke(main, ["report", "2026-05", "--data", str(data), "-o", str(out)])
    assert result.exit_code == 1 and "no supervision data" in result.output
    assert runner.invoke(main, ["report", "2026-11", "--data", str(tmp_path / "none"), "-o", str(out)]).exit_code == 1


def test_renderers_accept_a_partial_report() -> None:
    """The web may hand any provider's report to the renderers: missing parts are left out."""
    assert render_pdf({"month": "2026-11"}).startswith(b"%PDF")
    assert render_xlsx({"month": "2026-11"}).startswith(b"PK")
    assert "全市行政效能电子监察月报（2026年11月）" in render_html({"month": "2026-11"}).decode()
