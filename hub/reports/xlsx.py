"""The monthly report as an Excel workbook (openpyxl): one sheet per part, numbers kept as numbers.

Sheets: 概况 (all figures), 趋势 (daily on-time rate with a line chart, six months), 部门排名 (with a
bar chart), 窗口排名, 人员排名, 预警纠错 (cards by rule), 群众评价 (distribution with a bar chart),
链路 (availability per hall). Rates are fractions formatted as percentages.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hub.reports.layout import (
    COMPLAINT_COLUMNS,
    DEPT_COLUMNS,
    DISCLOSURE_COLUMNS,
    FIGURE_LABELS,
    FLAGGED_COLUMNS,
    PERCENT,
    RANK_COLUMNS,
    SECTION_TITLES,
    period_line,
    title_of,
)

HEAD = Font(bold=True)
TITLE = Font(bold=True, size=14, color="B3261E")
FILL = PatternFill("solid", fgColor="EEF1F5")


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else ""
    return value


def _table(ws: Worksheet, top: int, rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> int:
    """Write a header and rows from ``top``; returns the last row written."""
    for j, (_key, label) in enumerate(columns, start=1):
        cell = ws.cell(top, j, label)
        cell.font, cell.fill = HEAD, FILL
    for i, row in enumerate(rows, start=top + 1):
        for j, (key, _label) in enumerate(columns, start=1):
            cell = ws.cell(i, j, _cell(row.get(key)))
            if key in PERCENT:
                cell.number_format = "0.0%"
            elif key == "score":
                cell.number_format = "0.0"
    return top + len(rows)


def _widths(ws: Worksheet, widths: Sequence[int]) -> None:
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width


def render_xlsx(report: Mapping[str, Any]) -> bytes:
    """The report as ``.xlsx`` bytes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "概况"
    ws["A1"] = title_of(report)
    ws["A1"].font = TITLE
    ws["A2"] = period_line(report)
    row = 4
    for key in ("totals", "rates", "cards", "complaints", "ratings", "disclosures", "video"):
        ws.cell(row, 1, SECTION_TITLES[key]).font = HEAD
        row += 1
        values = report.get(key) or {}
        for name, label in FIGURE_LABELS[key].items():
            if name not in values:
                continue
            ws.cell(row, 1, label)
            cell = ws.cell(row, 2, values[name])
            if name in PERCENT:
                cell.number_format = "0.0%"
            row += 1
        row += 1
    _widths(ws, (26, 14))

    trend = wb.create_sheet("趋势")
    days = report.get("trend") or []
    last = _table(trend, 1, days, (("day", "日期"), ("accepted", "受理"), ("completed", "办结"),
                                   ("on_time_rate", "办结按时率")))
    if days:
        chart = LineChart()
        chart.title, chart.y_axis.title, chart.height, chart.width = "每日办结按时率", "办结按时率", 8, 18
        chart.y_axis.number_format = "0%"
        chart.add_data(Reference(trend, min_col=4, min_row=1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(trend, min_col=1, min_row=2, max_row=last))
        trend.add_chart(chart, "F2")
    months = report.get("trend_months") or []
    _table(trend, last + 3, months, (("month", "月份"), ("accepted", "受理"), ("completed", "办结"),
                                     ("on_time_rate", "办结按时率")))
    _widths(trend, (12, 8, 8, 12))

    depts = wb.create_sheet("部门排名")
    rows = report.get("departments") or []
    last = _table(depts, 1, rows, DEPT_COLUMNS)
    if rows:
        chart = BarChart()
        chart.type, chart.title, chart.height, chart.width = "bar", "部门得分", max(7, len(rows) * 0.5), 16
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 100
        chart.add_data(Reference(depts, min_col=3, min_row=1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(depts, min_col=2, min_row=2, max_row=last))
        chart.x_axis.tickLblSkip = 1  # every department named, none skipped by the viewer
        chart.x_axis.scaling.orientation = "maxMin"  # rank 1 on top
        chart.x_axis.delete = chart.y_axis.delete = False
        chart.legend = None
        depts.add_chart(chart, "M2")
    _widths(depts, (6, 22, 8, 8, 8, 8, 9, 6, 6, 6, 60))

    for key, title in (("windows", "窗口排名"), ("staff", "人员排名")):
        sheet = wb.create_sheet(title)
        _table(sheet, 1, report.get(key) or [], RANK_COLUMNS)
        _widths(sheet, (6, 22, 20, 8, 8, 6, 60))

    matters = wb.create_sheet("投诉与信息公开")
    matters.cell(1, 1, "投诉：按被投诉部门").font = HEAD
    last = _table(matters, 2, report.get("complaints_by_dept") or [], COMPLAINT_COLUMNS)
    matters.cell(last + 2, 1, "本年度属实投诉两件及以上的人员").font = HEAD
    last = _table(matters, last + 3, report.get("complaints_flagged_staff") or [], FLAGGED_COLUMNS)
    matters.cell(last + 2, 1, "政府信息公开申请：按部门").font = HEAD
    _table(matters, last + 3, report.get("disclosures_by_dept") or [], DISCLOSURE_COLUMNS)
    _widths(matters, (22, 22, 10, 10, 10, 10))

    cards = wb.create_sheet("预警纠错")
    _table(cards, 1, report.get("cards_by_rule") or [], (("rule", "规则"), ("name", "名称"), ("level", "级别"),
                                                         ("count", "张数")))
    _widths(cards, (8, 26, 10, 8))
    withdrawn = report.get("withdrawals") or []
    if withdrawn:
        top = len(report.get("cards_by_rule") or []) + 4
        total = int((report.get("cards") or {}).get("system_withdrawn") or 0)
        caption = f"系统撤销 {total} 张（后到记录否定了预警，不计入考核；按发生时间倒序列出 {len(withdrawn)} 张）"
        cards.cell(top - 1, 1, caption).font = HEAD
        _table(cards, top, withdrawn, (("rule", "规则"), ("dept_name", "部门"), ("case_id", "办件"),
                                       ("moment", "发生时间"), ("reason", "撤销原因"), ("withdrawn_at", "撤销时间")))
        _widths(cards, (8, 26, 16, 18, 60, 18))

    ratings = wb.create_sheet("群众评价")
    dist = (report.get("ratings") or {}).get("distribution") or []
    last = _table(ratings, 1, dist, (("level", "等级"), ("label", "评价"), ("count", "数量")))
    if dist:
        chart = BarChart()
        chart.title, chart.height, chart.width = "评价等级分布", 7, 14
        chart.add_data(Reference(ratings, min_col=3, min_row=1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ratings, min_col=2, min_row=2, max_row=last))
        ratings.add_chart(chart, "E2")
    _widths(ratings, (6, 12, 8))

    links = wb.create_sheet("链路")
    _table(links, 1, report.get("links") or [], (("site_id", "大厅编号"), ("site_name", "大厅"), ("agents", "采集点"),
                                                 ("availability", "可用率"), ("samples", "采样")))
    _widths(links, (14, 24, 8, 10, 10))
    for sheet in wb.worksheets:
        sheet.freeze_panes = "A2" if sheet.title != "概况" else None
        for line in sheet.iter_rows(min_row=1, max_row=1):
            for cell in line:
                cell.alignment = Alignment(vertical="center")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
