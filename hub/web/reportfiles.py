"""The monthly report for the web: the report's own sheet on the page, and its files.

:func:`sheet` lays the provider's report (a JSON-ready mapping) out with the report module's
layout (:mod:`hub.reports.layout`, the sections of the PDF and HTML files) and renders it with the
HTML file's building blocks (:func:`hub.reports.html.render_fragment`): the page shows what the
leader prints. In English the titles, figure labels and column headings of the sections are
translated through the catalogue (``report_section.<key>``, ``report_col.<key>``); the report's
sentences (summary, notes, lost points, reasons) stay in Chinese, the language of the report.

:func:`render_file` makes a download. Until the report module is installed the download answers
503 ``unavailable``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from markupsafe import Markup

from hub.reports import html as report_html
from hub.reports import layout as report_layout

FORMATS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}
COLUMN_KEYS = {
    **{label: key for key, label in (*report_layout.RANK_COLUMNS, *report_layout.DEPT_COLUMNS)},
    "部门": "dept_name", "名称": "name", "规则": "rule", "级别": "level", "张数": "count", "月份": "month",
    "受理": "accepted", "办结": "completed", "办结按时率": "on_time_rate", "大厅": "site_name",
    "采集点": "agents", "可用率": "availability", "采样": "samples", "办件": "case_id", "发生时间": "moment",
    "撤销原因": "reason", "失分说明": "lost", "等级": "grade",
    # the complaint and disclosure tables (hub.reports.layout COMPLAINT_, FLAGGED_, DISCLOSURE_COLUMNS)
    "收到": "received", "按时处理": "handled_on_time", "超期": "overdue", "属实": "substantiated", "未办结": "open",
    "人员": "person", "属实投诉": "substantiated", "投诉编号": "complaint_ids", "收到申请": "received",
    "按期答复": "on_time", "未答复": "open",
}  # fmt: skip
"""A table heading of the layout (Chinese) → the ``report_col.<key>`` that translates it."""
GRADE_KEYS = {"优秀": "excellent", "良好": "good", "合格": "pass", "不合格": "fail"}
LEVEL_KEYS = {label: key for key, label in report_layout.LEVELS.items()}

NOTES = {
    "按时办结率 = 按期及提前办结 ÷（本月办结 + 月末超期未办结）": "report_note.rates",
    "办结按时率 = 当日（当月）办结中按期及提前办结的比例": "report_note.trend",
    "黄牌、红牌：本月发生且计入考核的张数（不含申诉中、已撤销）；失分说明按规则归并。": "report_note.departments",
    "黄牌、红牌按发生时间计入所属月份（含历史补录）；申诉中、已撤销的不计入考核；系统撤销的另列，不计入任何合计。":
        "report_note.cards",
    "本月无链路记录": "report_note.no_links",
    "按规则（计入考核的黄牌、红牌及提醒）": "report_note.by_rule",
    "近六个月": "report.trend_months",
    "前列": "report_note.top",
    "后列": "report_note.bottom",
    "每日办结按时率": "report_note.trend_chart",
    "部门得分": "report_note.departments_chart",
    "评价等级分布": "report.ratings.distribution",
    "是": "report_note.yes",
    "按发生时间倒序。": "report_note.withdrawals",
    "按被投诉部门": "report_note.complaints_by_dept",
    "本年度属实投诉两件及以上的人员": "report_note.complaints_flagged",
    "按部门": "report_note.by_dept",
}  # fmt: skip
"""The layout's fixed sentences (notes, captions, chart titles, cells) → their catalogue keys."""
PATTERNS = (
    (re.compile(r"^共 (?P<total>\d+) 名，列前 (?P<n>\d+) 名与后 \d+ 名；完整排名见 Excel 工作簿。$"),
     "report_note.head_tail"),
    (re.compile(r"^（中间 (?P<n>\d+) 名略）$"), "report_note.gap"),
    (re.compile(r"^系统撤销 (?P<n>\d+) 张（后到记录否定了预警，不计入考核）$"), "report_note.withdrawn"),
    (re.compile(r"^按发生时间倒序；另有 (?P<n>\d+) 张未列出。$"), "report_note.withdrawals_more"),
)  # fmt: skip
"""The layout's sentences with numbers in them → their catalogue keys (the numbers as placeholders)."""

Translate = Callable[..., str]
Has = Callable[[str], bool]


class ReportFilesUnavailable(Exception):
    """The report module that makes PDF / Excel files is not installed in this hub yet."""


@dataclass(frozen=True)
class Words:
    """A catalogue in one language: ``text(key, **values)`` and ``has(key)``."""

    text: Translate
    has: Has

    def key(self, key: str, fallback: str) -> str:
        return self.text(key) if self.has(key) else fallback

    def sentence(self, zh: str) -> str | None:
        """A fixed sentence of the layout in this language; None when the catalogue has no words for it."""
        if zh in NOTES and self.has(NOTES[zh]):
            return self.text(NOTES[zh])
        for pattern, key in PATTERNS:
            match = pattern.match(zh)
            if match and self.has(key):
                return self.text(key, **match.groupdict())
        return None


def sections(report: Mapping[str, Any], words: Words | None = None) -> list[report_layout.Section]:
    """The report's sections as the files lay them out; with ``words`` (another language), their
    titles, labels, headings and fixed sentences in that language (an unknown sentence is left out)."""
    laid = report_layout.layout(report)
    return laid if words is None else [_translated(s, words) for s in laid]


def _translated(section: report_layout.Section, words: Words) -> report_layout.Section:
    labels = {zh: key for key, zh in report_layout.FIGURE_LABELS.get(section.key, {}).items()}
    figures = [(words.key(f"report_col.{labels[zh]}", zh) if zh in labels else zh, value)
               for zh, value in section.figures]  # fmt: skip
    tables = []
    for t in section.tables:
        columns = [words.key(f"report_col.{COLUMN_KEYS[c]}", c) if c in COLUMN_KEYS else c for c in t.columns]
        rows = [[_cell(c, v, words) for c, v in zip(t.columns, row, strict=True)] for row in t.rows]
        if "规则" in t.columns and "名称" in t.columns:  # a rule's name as the catalogue words it
            rule, name = t.columns.index("规则"), t.columns.index("名称")
            rows = [[words.key(f"rule.{r[rule]}", v) if i == name else v for i, v in enumerate(r)] for r in rows]
        caption = (words.sentence(t.caption) or t.caption) if t.caption else ""
        tables.append(replace(t, caption=caption, columns=columns, rows=rows,
                              note=(words.sentence(t.note) or "") if t.note else ""))  # fmt: skip
    chart = section.chart
    if chart is not None:
        chart = replace(chart, title=words.sentence(chart.title) or "")
    note = (words.sentence(section.note) or "") if section.note else ""
    if not (figures or tables or chart or note):
        note = words.key("reports.no_data", "")
    return replace(section, title=words.key(f"report_section.{section.key}", section.title), figures=figures,
                   tables=tables, chart=chart, note=note)  # fmt: skip


def _cell(column: str, value: str, words: Words) -> str:
    if value in GRADE_KEYS and column in ("等级", "等次"):
        return words.key(f"grade.{GRADE_KEYS[value]}", value)
    if value in LEVEL_KEYS and column == "级别":
        return words.key(f"level.{LEVEL_KEYS[value]}", value)
    if value in NOTES or value.startswith("（中间"):
        return words.sentence(value) or value
    return value


def sheet(report: Mapping[str, Any], words: Words | None = None) -> Markup:
    """The report's sheet as HTML for the page: no script, no inline style (the page's CSP);
    the page's stylesheet ``css/report.css`` draws it. With ``words``, in that language."""
    if words is None:
        return Markup(report_html.render_fragment(report))  # noqa: S704 - the renderer escapes every value
    period = report.get("period") or {}
    made = str(report.get("generated_at") or "")
    meta = words.text("reports.sheet_period", start=period.get("start", ""), end=period.get("end", ""))
    if made:
        meta += words.text("reports.sheet_generated", at=made[:16].replace("T", " "))
    scope = report.get("dept_name") or report.get("dept") or report.get("city") or words.text("reports.city")
    totals, rates = report.get("totals") or {}, report.get("rates") or {}
    summary = words.text(
        "reports.sheet_summary", accepted=report_layout.fmt("n", totals.get("accepted")),
        completed=report_layout.fmt("n", totals.get("completed")),
        on_time=report_layout.fmt("on_time_rate", rates.get("on_time_rate")),
    ) if totals else ""  # fmt: skip
    return Markup(report_html.render_fragment(  # noqa: S704 - the renderer escapes every value
        report, sections(report, words), title=words.text("reports.sheet_title", scope=scope,
                                                          month=report.get("month", "")),
        meta=meta, summary=summary))  # fmt: skip


def _module() -> Any:
    try:
        return importlib.import_module("hub.reports")
    except ImportError:
        return None


def available_formats() -> list[str]:
    """The file formats this hub can make now (empty until ``hub.reports`` is installed)."""
    module = _module()
    return [f for f in FORMATS if module is not None and callable(getattr(module, f"render_{f}", None))]


def render_file(fmt: str, month: str, report: Mapping[str, Any]) -> bytes:
    """The report as a ``fmt`` file; :class:`ReportFilesUnavailable` when it cannot be made here."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    module = _module()
    render = getattr(module, f"render_{fmt}", None) if module is not None else None
    if render is None:
        raise ReportFilesUnavailable(f"the report module (hub.reports) cannot make {fmt} files yet")
    data = render(report)
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"hub.reports.render_{fmt} returned {type(data).__name__}, not bytes")
    return bytes(data)
