"""The monthly report laid out once for every format: titled sections of figures, tables, charts.

:func:`layout` turns the report dict (:mod:`hub.reports.data`) into :class:`Section` s in the
order of DOMAIN.md §7; the HTML and PDF renderers only draw them (the Excel workbook keeps every
row, the page formats keep what a leader reads: long rankings are cut to their head and tail).
A section is ``wide`` (the full page width) or narrow (two narrow sections share a row). Labels
are Chinese (the report goes to the bureau's leaders); percentages and scores are formatted here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PRODUCT = "效能 Xiaoneng 行政效能电子监察"
FIGURE_LABELS: Mapping[str, Mapping[str, str]] = {
    "totals": {
        "accepted": "受理", "accepted_immediate": "其中即办件", "accepted_promised": "其中承诺件",
        "refused": "不予受理", "completed": "办结", "open_at_end": "月末在办", "overdue": "超期合计",
        "overdue_completed": "超期办结", "overdue_open": "月末超期未办结",
    },
    "rates": {"on_time_rate": "按时办结率", "early_rate": "提前办结率", "overdue_rate": "超期率",
              "judged_cases": "考核办件数"},
    "cards": {
        "standing": "黄牌+红牌（计入考核）", "yellow": "黄牌", "red": "红牌", "per_100_cases": "每百件受理",
        "raised": "本月发生", "historical": "其中历史补录", "needs_action": "待督办/整改", "upheld": "申诉维持",
        "rectified": "已整改", "recorded": "已办结·记录在案", "closed": "已办结", "appealed": "申诉中",
        "withdrawn_on_appeal": "申诉撤销", "reminders": "提醒（不计分）", "system_withdrawn": "系统撤销（另列）",
    },
    "complaints": {"received": "收到投诉", "accepted": "已受理", "answered": "已答复", "closed": "已办结",
                   "open": "未办结", "handled_on_time": "按时处理", "overdue": "超期", "substantiated": "属实"},
    "ratings": {"total": "评价总数", "satisfied_rate": "满意率（1–3 级）", "mean_level": "平均等级（1 最满意）",
                "bad": "差评（4、5 级）", "bad_rectified": "差评已整改", "rectification_rate": "差评整改率"},
    "disclosures": {"received": "收到申请", "answered": "已答复", "on_time": "按期答复", "overdue": "超期",
                    "open": "未答复"},
    "video": {"absences": "离岗次数", "absence_cards": "离岗预警", "queues": "排队过长"},
}  # fmt: skip
SECTION_TITLES = {
    "totals": "一、办件总量", "rates": "二、办件时效", "cards": "三、预警纠错", "trend": "四、办结按时率趋势",
    "departments": "五、部门绩效排名", "top": "六、先进与后进", "windows": "七、窗口排名", "staff": "八、人员排名",
    "complaints": "九、投诉处理", "ratings": "十、群众评价", "disclosures": "十一、政府信息公开申请",
    "video": "十二、视频巡查", "links": "十三、链路可用率",
}
PERCENT = frozenset({"on_time_rate", "early_rate", "overdue_rate", "satisfied_rate", "rectification_rate",
                     "availability"})  # fmt: skip
RANK_COLUMNS = (("rank", "名次"), ("name", "名称"), ("dept_name", "所属部门"), ("score", "得分"),
                ("grade", "等级"), ("interview", "约谈"), ("lost", "失分说明"))  # fmt: skip
DEPT_COLUMNS = (("rank", "名次"), ("name", "部门"), ("score", "得分"), ("grade", "等级"), ("accepted", "受理"),
                ("completed", "办结"), ("on_time_rate", "按时率"), ("yellow", "黄牌"), ("red", "红牌"),
                ("interview", "约谈"), ("lost", "失分说明"))  # fmt: skip
COMPLAINT_COLUMNS = (("name", "部门"), ("received", "收到"), ("handled_on_time", "按时处理"), ("overdue", "超期"),
                     ("substantiated", "属实"), ("open", "未办结"))  # fmt: skip
FLAGGED_COLUMNS = (("name", "人员"), ("dept_name", "部门"), ("substantiated", "属实投诉"), ("complaints", "投诉编号"))
DISCLOSURE_COLUMNS = (("name", "部门"), ("received", "收到申请"), ("on_time", "按期答复"), ("overdue", "超期"),
                      ("open", "未答复"))  # fmt: skip
PAGE_RANK_COLUMNS = RANK_COLUMNS[:6]
"""Windows and staff on the page: no lost-points column (the workbook has it)."""
HEAD_TAIL = 10
"""A page ranking longer than 2 × this shows its first and last this many rows."""
LEVELS = {"reminder": "提醒", "yellow": "黄牌", "red": "红牌"}
GRADE_MARKS = {"优秀": "good", "良好": "fair", "合格": "pass", "不合格": "fail"}


def fmt(key: str, value: Any) -> str:
    """A value as the report prints it."""
    if value is None:
        return "—"
    if key == "level" and value in LEVELS:
        return LEVELS[value]
    if isinstance(value, bool):
        return "是" if value else ""
    if key in PERCENT and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    if isinstance(value, int) and key not in ("rank", "level"):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1f}" if key == "score" else f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


@dataclass
class Chart:
    """Chart data: ``kind`` line | bars | hbars, category labels and one or more series; ``marks``
    (optional, one per label) classes the bars (a grade), ``value_min`` starts the value axis."""

    kind: str
    title: str
    labels: list[str]
    series: list[tuple[str, list[float | None]]]
    percent: bool = False
    marks: list[str] = field(default_factory=list)
    value_min: float = 0.0


@dataclass
class Table:
    """A captioned table of formatted cells; ``weights`` are relative column widths."""

    caption: str
    columns: list[str]
    rows: list[list[str]]
    weights: list[float] = field(default_factory=list)
    note: str = ""


@dataclass
class Section:
    """One titled block: ``figures`` (label, text), ``tables``, and/or a ``chart``."""

    key: str
    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    chart: Chart | None = None
    note: str = ""
    wide: bool = False


def scope_of(report: Mapping[str, Any]) -> str:
    """Whose report: the department's name, else the city's (``city``), else 全市."""
    return str(report.get("dept_name") or report.get("dept") or report.get("city") or "全市")


def title_of(report: Mapping[str, Any]) -> str:
    """The report's title line."""
    year, _, month = str(report.get("month", "")).partition("-")
    if not month.isdigit():
        return "行政效能电子监察月报"
    return f"{scope_of(report)}行政效能电子监察月报（{year}年{int(month)}月）"


def document_title(report: Mapping[str, Any]) -> str:
    """The file's own title (PDF metadata): ``<城市> 行政效能电子监察 月报 YYYY-MM``."""
    return f"{scope_of(report)} 行政效能电子监察 月报 {report.get('month', '')}".strip()


def period_line(report: Mapping[str, Any]) -> str:
    """``统计期间 … 至 …；生成时间 …``."""
    period = report.get("period") or {}
    line = f"统计期间 {period.get('start', '')} 至 {period.get('end', '')}"
    made = str(report.get("generated_at") or "")
    return line + (f"；生成时间 {made[:16].replace('T', ' ')}" if made else "")


def summary_line(report: Mapping[str, Any]) -> str:
    """The month in one sentence, for the top of the report ('' when the report has no totals)."""
    totals, rates, cards = report.get("totals") or {}, report.get("rates") or {}, report.get("cards") or {}
    if not totals:
        return ""
    parts = [f"本月受理 {fmt('n', totals.get('accepted'))} 件，办结 {fmt('n', totals.get('completed'))} 件"]
    if rates.get("on_time_rate") is not None:
        parts.append(f"按时办结率 {fmt('on_time_rate', rates['on_time_rate'])}")
    if cards:
        parts.append(f"计入考核的黄牌 {fmt('n', cards.get('yellow', 0))} 张、红牌 {fmt('n', cards.get('red', 0))} 张"
                     + (f"（每百件受理 {fmt('n', cards['per_100_cases'])} 张）"
                        if cards.get("per_100_cases") is not None else ""))  # fmt: skip
    ratings = report.get("ratings") or {}
    if ratings.get("satisfied_rate") is not None:
        parts.append(f"群众满意率 {fmt('satisfied_rate', ratings['satisfied_rate'])}")
    depts = report.get("departments") or []
    if depts:
        grades: dict[str, int] = {}
        for d in depts:
            grades[str(d.get("grade"))] = grades.get(str(d.get("grade")), 0) + 1
        parts.append(f"{len(depts)} 个部门中" + "、".join(f"{g} {grades[g]} 个" for g in GRADE_MARKS if g in grades))
    return "，".join(parts) + "。"


def _figures(report: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    values = report.get(key) or {}
    return [(label, fmt(name, values.get(name))) for name, label in FIGURE_LABELS[key].items() if name in values]


def table(caption: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]],
          weights: Mapping[str, float] | None = None, note: str = "") -> Table:  # fmt: skip
    """A :class:`Table` of ``rows``; columns no row has are left out."""
    present = [(k, label) for k, label in columns if any(k in r for r in rows)] or list(columns)
    return Table(caption, [label for _, label in present], [[fmt(k, r.get(k)) for k, _ in present] for r in rows],
                 [(weights or {}).get(k, 1.0) for k, _ in present], note)  # fmt: skip


def head_and_tail(rows: Sequence[Mapping[str, Any]], n: int = HEAD_TAIL) -> tuple[list[Mapping[str, Any]], str]:
    """A long ranking cut to its first and last ``n`` rows, and the note that says so."""
    if len(rows) <= 2 * n:
        return list(rows), ""
    gap = {k: "" for k in rows[0]} | {"rank": "…", "name": f"（中间 {len(rows) - 2 * n} 名略）"}
    return [*rows[:n], gap, *rows[-n:]], f"共 {len(rows)} 名，列前 {n} 名与后 {n} 名；完整排名见 Excel 工作簿。"


def ranking_chart(rows: Sequence[Mapping[str, Any]], title: str) -> Chart | None:
    """Horizontal bars of every ranked row's score, best first, each bar marked with its grade."""
    if not rows:
        return None
    return Chart("hbars", title, [str(r.get("name")) for r in rows],
                 [("得分", [float(r["score"]) if r.get("score") is not None else None for r in rows])],
                 marks=[GRADE_MARKS.get(str(r.get("grade")), "") for r in rows])  # fmt: skip


def _trend_min(values: Sequence[float | None]) -> float:
    """Start a rate axis (four steps up to 100 %) below the lowest value, so that a month of 90–98 %
    is not a flat line at the top: 80 %, 60 %, 20 % or 0."""
    present = [v for v in values if v is not None]
    lowest = min(present) if present else 0.0
    return next((low for low in (0.8, 0.6, 0.2) if lowest >= low + 0.02), 0.0)


def nice_top(value: float, steps: int = 4) -> float:
    """The smallest round axis maximum ≥ ``value`` that ``steps`` whole ticks divide evenly (1, 2, 2.5, 5 × 10ⁿ)."""
    if value <= 0:
        return float(steps)
    raw = value / steps
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return max(step, 1.0) * steps  # counts: whole steps


def layout(report: Mapping[str, Any]) -> list[Section]:
    """The report's sections in order (DOMAIN.md §7)."""
    out: list[Section] = [
        Section("totals", SECTION_TITLES["totals"], _figures(report, "totals")),
        Section("rates", SECTION_TITLES["rates"], _figures(report, "rates"),
                note="按时办结率 = 按期及提前办结 ÷（本月办结 + 月末超期未办结）"),
    ]  # fmt: skip
    out.append(_cards(report))
    trend = report.get("trend") or []
    section = Section("trend", SECTION_TITLES["trend"], wide=True)
    if trend:
        rates = [t.get("on_time_rate") for t in trend]
        section.chart = Chart("line", "每日办结按时率", [str(t["day"])[5:] for t in trend], [("办结按时率", rates)],
                              percent=True, value_min=_trend_min(rates))  # fmt: skip
    months = report.get("trend_months") or []
    if months:
        section.tables.append(table("近六个月", months, (("month", "月份"), ("accepted", "受理"),
                                                        ("completed", "办结"), ("on_time_rate", "办结按时率"))))
    section.note = "办结按时率 = 当日（当月）办结中按期及提前办结的比例"
    out.append(section)
    depts = report.get("departments") or []
    section = Section("departments", SECTION_TITLES["departments"], chart=ranking_chart(depts, "部门得分"), wide=True)
    if depts:
        section.tables.append(table("", depts, DEPT_COLUMNS, {"rank": 0.8, "name": 2.4, "lost": 9.0, "grade": 1.2,
                                                              "on_time_rate": 1.3, "interview": 0.8}))  # fmt: skip
        section.note = "黄牌、红牌：本月发生且计入考核的张数（不含申诉中、已撤销）；失分说明按规则归并。"
    out.append(section)
    if report.get("top") or report.get("bottom"):
        section = Section("top", SECTION_TITLES["top"], wide=True)
        for caption, key in (("前列", "top"), ("后列", "bottom")):
            if report.get(key):
                section.tables.append(table(caption, report[key], (("rank", "名次"), ("name", "部门"),
                                                                   ("score", "得分"), ("grade", "等级"))))
        out.append(section)
    for key in ("windows", "staff"):
        rows, note = head_and_tail(report.get(key) or [])
        section = Section(key, SECTION_TITLES[key], note=note)
        if rows:
            section.tables.append(table("", rows, PAGE_RANK_COLUMNS, {"name": 2.2, "dept_name": 2.2}))
        out.append(section)
    complaints = Section("complaints", SECTION_TITLES["complaints"], _figures(report, "complaints"))
    if report.get("complaints_by_dept"):
        complaints.tables.append(table("按被投诉部门", report["complaints_by_dept"], COMPLAINT_COLUMNS,
                                       {"name": 2.4}))
    if report.get("complaints_flagged_staff"):
        complaints.tables.append(table("本年度属实投诉两件及以上的人员", report["complaints_flagged_staff"],
                                       FLAGGED_COLUMNS, {"name": 1.2, "dept_name": 2.2, "complaints": 3.0}))
    out.append(complaints)
    ratings = Section("ratings", SECTION_TITLES["ratings"], _figures(report, "ratings"))
    dist = (report.get("ratings") or {}).get("distribution") or []
    if dist:
        ratings.chart = Chart("bars", "评价等级分布", [f"{d['level']} {d['label']}" for d in dist],
                              [("评价数", [float(d["count"]) for d in dist])])
    out.append(ratings)
    disclosures = Section("disclosures", SECTION_TITLES["disclosures"], _figures(report, "disclosures"))
    if report.get("disclosures_by_dept"):
        disclosures.tables.append(table("按部门", report["disclosures_by_dept"], DISCLOSURE_COLUMNS, {"name": 2.4}))
    out.append(disclosures)
    out.append(Section("video", SECTION_TITLES["video"], _figures(report, "video")))
    links = Section("links", SECTION_TITLES["links"], wide=True)
    if report.get("links"):
        links.tables.append(table("", report["links"], (("site_name", "大厅"), ("agents", "采集点"),
                                                        ("availability", "可用率"), ("samples", "采样")),
                                  {"site_name": 3.0}))  # fmt: skip
    else:
        links.note = "本月无链路记录"
    out.append(links)
    return out


def _cards(report: Mapping[str, Any]) -> Section:
    cards = report.get("cards") or {}
    section = Section("cards", SECTION_TITLES["cards"], _figures(report, "cards"), wide=True)
    rules = report.get("cards_by_rule") or []
    if rules:
        section.tables.append(table("按规则（计入考核的黄牌、红牌及提醒）", rules,
                                    (("rule", "规则"), ("name", "名称"), ("level", "级别"), ("count", "张数")),
                                    {"name": 3.0}))  # fmt: skip
    withdrawn = report.get("withdrawals") or []
    total = int(cards.get("system_withdrawn") or 0)
    if withdrawn:
        more = f"；另有 {total - len(withdrawn)} 张未列出" if total > len(withdrawn) else ""
        section.tables.append(table(
            f"系统撤销 {total} 张（后到记录否定了预警，不计入考核）", withdrawn,
            (("rule", "规则"), ("dept_name", "部门"), ("case_id", "办件"), ("moment", "发生时间"),
             ("reason", "撤销原因")), {"dept_name": 1.6, "case_id": 1.8, "moment": 1.6, "reason": 4.0},
            note=f"按发生时间倒序{more}。"))  # fmt: skip
    section.note = ("黄牌、红牌按发生时间计入所属月份（含历史补录）；申诉中、已撤销的不计入考核；"
                    "系统撤销的另列，不计入任何合计。")  # fmt: skip
    return section
