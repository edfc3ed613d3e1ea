"""The monthly report laid out once for every format: titled sections of figures, tables, charts.

:func:`layout` turns the report dict (:mod:`hub.reports.data`) into :class:`Section` s in the
order of DOMAIN.md §7; the HTML, PDF and Excel renderers only draw them. Labels are Chinese
(the report goes to the bureau's leaders); percentages and scores are formatted here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FIGURE_LABELS: Mapping[str, Mapping[str, str]] = {
    "totals": {
        "accepted": "受理", "accepted_immediate": "其中即办件", "accepted_promised": "其中承诺件",
        "refused": "不予受理", "completed": "办结", "open_at_end": "月末在办", "overdue": "超期合计",
        "overdue_completed": "超期办结", "overdue_open": "月末超期未办结",
    },
    "rates": {"on_time_rate": "按时办结率", "early_rate": "提前办结率", "overdue_rate": "超期率",
              "judged_cases": "考核办件数"},
    "cards": {
        "raised": "预警纠错合计", "reminder": "提醒", "yellow": "黄牌", "red": "红牌", "supervised": "督办下发",
        "appealed": "申诉", "upheld": "申诉维持", "withdrawn": "申诉撤销", "retracted": "系统撤销（后到记录否定）",
        "rectified": "已整改", "closed": "已办结", "still_open": "尚未办结",
    },
    "complaints": {"received": "收到投诉", "answered": "已答复", "closed": "已办结", "overdue": "超期",
                   "substantiated": "属实"},
    "ratings": {"total": "评价总数", "mean_level": "平均等级（1 最满意）", "satisfied_rate": "满意率",
                "bad": "差评", "bad_rectified": "差评已整改", "rectification_rate": "差评整改率"},
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


LEVELS = {"reminder": "提醒", "yellow": "黄牌", "red": "红牌"}


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
    if isinstance(value, float):
        return f"{value:.1f}" if key == "score" else f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


@dataclass
class Section:
    """One titled block: ``figures`` (label, text), a ``table``, and/or a ``chart``."""

    key: str
    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    chart: Chart | None = None
    note: str = ""


@dataclass
class Chart:
    """Chart data: ``kind`` line | bars | hbars, category labels and one or more series."""

    kind: str
    title: str
    labels: list[str]
    series: list[tuple[str, list[float | None]]]
    percent: bool = False


def title_of(report: Mapping[str, Any]) -> str:
    """The report's title line."""
    year, _, month = str(report.get("month", "")).partition("-")
    if not month.isdigit():
        return "行政效能电子监察月报"
    scope = report.get("dept_name") or report.get("dept") or "全市"
    return f"{scope}行政效能电子监察月报（{year}年{int(month)}月）"


def period_line(report: Mapping[str, Any]) -> str:
    """``统计期间 … 至 …；生成时间 …``."""
    period = report.get("period") or {}
    line = f"统计期间 {period.get('start', '')} 至 {period.get('end', '')}"
    return line + (f"；生成时间 {report['generated_at']}" if report.get("generated_at") else "")


def _figures(report: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    values = report.get(key) or {}
    return [(label, fmt(name, values.get(name))) for name, label in FIGURE_LABELS[key].items() if name in values]


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> tuple[list[str], list[list[str]]]:
    present = [(k, label) for k, label in columns if any(k in r for r in rows)] or list(columns)
    return [label for _, label in present], [[fmt(k, r.get(k)) for k, _ in present] for r in rows]


def ranking_chart(rows: Sequence[Mapping[str, Any]], title: str, limit: int = 20) -> Chart | None:
    """Bars of the scores of the first ``limit`` ranked rows."""
    if not rows:
        return None
    top = list(rows)[:limit]
    return Chart("hbars", title, [str(r.get("name")) for r in top],
                 [("得分", [float(r["score"]) if r.get("score") is not None else None for r in top])])


def layout(report: Mapping[str, Any]) -> list[Section]:
    """The report's sections in order (DOMAIN.md §7)."""
    out: list[Section] = []
    out.append(Section("totals", SECTION_TITLES["totals"], _figures(report, "totals")))
    out.append(Section("rates", SECTION_TITLES["rates"], _figures(report, "rates"),
                       note="按时办结率 = 按期及提前办结 ÷（本月办结 + 月末超期未办结）"))
    cards = Section("cards", SECTION_TITLES["cards"], _figures(report, "cards"))
    cards.columns, cards.rows = _table(report.get("cards_by_rule") or [],
                                       (("rule", "规则"), ("name", "名称"), ("level", "级别"), ("count", "张数")))
    out.append(cards)
    trend = report.get("trend") or []
    section = Section("trend", SECTION_TITLES["trend"])
    if trend:
        section.chart = Chart("line", "每日办结按时率", [str(t["day"])[5:] for t in trend],
                              [("办结按时率", [t.get("on_time_rate") for t in trend])], percent=True)
    months = report.get("trend_months") or []
    section.columns, section.rows = _table(months, (("month", "月份"), ("accepted", "受理"),
                                                    ("completed", "办结"), ("on_time_rate", "办结按时率")))
    section.note = "办结按时率 = 当日（当月）办结中按期及提前办结的比例"
    out.append(section)
    depts = report.get("departments") or []
    section = Section("departments", SECTION_TITLES["departments"], chart=ranking_chart(depts, "部门得分"))
    section.columns, section.rows = _table(depts, DEPT_COLUMNS)
    out.append(section)
    if report.get("top") or report.get("bottom"):
        section = Section("top", SECTION_TITLES["top"])
        rows = [{**r, "list": "前列"} for r in report.get("top") or []]
        rows += [{**r, "list": "后列"} for r in report.get("bottom") or []]
        section.columns, section.rows = _table(rows, (("list", "类别"), ("rank", "名次"), ("name", "部门"),
                                                      ("score", "得分"), ("grade", "等级")))
        out.append(section)
    for key in ("windows", "staff"):
        rows = report.get(key) or []
        section = Section(key, SECTION_TITLES[key])
        section.columns, section.rows = _table(rows, RANK_COLUMNS)
        out.append(section)
    out.append(Section("complaints", SECTION_TITLES["complaints"], _figures(report, "complaints")))
    ratings = Section("ratings", SECTION_TITLES["ratings"], _figures(report, "ratings"))
    dist = (report.get("ratings") or {}).get("distribution") or []
    if dist:
        ratings.chart = Chart("bars", "评价等级分布", [f"{d['level']} {d['label']}" for d in dist],
                              [("评价数", [float(d["count"]) for d in dist])])
    out.append(ratings)
    out.append(Section("disclosures", SECTION_TITLES["disclosures"], _figures(report, "disclosures")))
    out.append(Section("video", SECTION_TITLES["video"], _figures(report, "video")))
    links = Section("links", SECTION_TITLES["links"])
    links.columns, links.rows = _table(report.get("links") or [], (("site_name", "大厅"), ("agents", "采集点"),
                                                                   ("availability", "可用率"), ("samples", "采样")))
    if not links.rows:
        links.note = "本月无链路记录"
    out.append(links)
    return out
