"""The monthly report as one standalone HTML page (UTF-8, Chinese, inline CSS and SVG charts).

No script, no external file: it opens offline on any intranet machine. On screen it is a sheet
about as wide as an A4 page in landscape, sections two to a row where they are narrow; printed it
is A4 with the same layout (``@page``), sections kept whole where they fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from hub.reports.layout import (
    GRADE_MARKS,
    PRODUCT,
    Chart,
    Section,
    Table,
    layout,
    nice_top,
    period_line,
    summary_line,
    title_of,
)

CSS = """
@page{size:A4;margin:12mm 10mm}
*{box-sizing:border-box}
html{background:#e9edf2}
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;
margin:24px auto;max-width:1080px;padding:32px 40px;background:#fff;color:#1d2733;line-height:1.45;font-size:14px;
box-shadow:0 1px 6px rgba(0,0,0,.15)}
header{border-bottom:3px solid #b3261e;margin-bottom:14px}
h1{font-size:24px;margin:0 0 4px;color:#b3261e;letter-spacing:.04em}
.meta{color:#5b6775;margin:0 0 8px;font-size:13px}
.summary{background:#fbf3f2;border-left:4px solid #b3261e;padding:8px 12px;margin:0 0 12px}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:6px 28px}
section{break-inside:avoid;min-width:0}
section.wide{grid-column:1/-1;break-inside:auto}
h2{font-size:17px;margin:14px 0 6px;color:#b3261e;border-bottom:1px solid #ecd3d1;padding-bottom:2px;
break-after:avoid}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:6px}
section.wide .figures{grid-template-columns:repeat(auto-fill,minmax(128px,1fr))}
.figure{border:1px solid #d5dbe3;border-radius:4px;padding:4px 8px;font-size:12px;color:#5b6775}
.figure b{display:block;font-size:18px;color:#1d2733;font-variant-numeric:tabular-nums}
.tables{display:flex;flex-wrap:wrap;gap:4px 24px}
.tables>div{flex:1 1 340px;min-width:0}.tables>div.broad{flex:2 1 480px}
.caption{font-weight:bold;font-size:13px;margin:8px 0 2px}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:12.5px}
th,td{border:1px solid #d5dbe3;padding:2px 5px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef1f5;font-weight:bold}
thead{display:table-header-group}tr{break-inside:avoid}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.small{font-size:11px;color:#3b4754}
td.g-good{color:#1e7b34;font-weight:bold}td.g-fair{color:#2f6db5;font-weight:bold}
td.g-pass{color:#8a6100}td.g-fail{color:#b3261e;font-weight:bold}
.note{color:#5b6775;font-size:12px;margin:4px 0}
svg{display:block;width:100%;height:auto;margin:4px 0}
footer{margin-top:18px;border-top:1px solid #d5dbe3;color:#5b6775;font-size:12px;padding-top:4px}
@media print{html{background:#fff}body{margin:0;max-width:none;padding:0;box-shadow:none;font-size:11px}
h1{font-size:20px}.figure b{font-size:15px}table{font-size:10px}td.small{font-size:9px}}
"""
GRADE_FILL = {"good": "#1e7b34", "fair": "#2f6db5", "pass": "#c58a00", "fail": "#b3261e", "": "#2f6db5"}
SMALL_COLUMNS = frozenset({"失分说明", "撤销原因"})
WIDE_W, NARROW_W = 980, 480


def render_html(report: Mapping[str, Any]) -> bytes:
    """The report as a standalone HTML page (bytes, UTF-8)."""
    title = title_of(report)
    parts = [
        "<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="{escape(PRODUCT)}">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        render_fragment(report),
        f"<footer>{escape(PRODUCT)} · {escape(title)}</footer></body></html>",
    ]  # fmt: skip
    return "\n".join(parts).encode("utf-8")


def render_fragment(
    report: Mapping[str, Any], sections: Sequence[Section] | None = None, *,
    title: str | None = None, meta: str | None = None, summary: str | None = None,
) -> str:  # fmt: skip
    """The sheet without its document: header, summary line and the sections' grid (``sections``,
    default :func:`layout` of ``report``; ``title``, ``meta``, ``summary`` replace the report's own
    lines, e.g. in another language). No script and no inline style, so a page under a strict CSP
    (the hub's web UI) can embed it and bring the stylesheet itself."""
    title = title_of(report) if title is None else title
    summary = summary_line(report) if summary is None else summary
    meta = period_line(report) if meta is None else meta
    parts = [f"<header><h1>{escape(title)}</h1>", f'<p class="meta">{escape(meta)}</p></header>']
    if summary:
        parts.append(f'<p class="summary">{escape(summary)}</p>')
    parts.append('<div class="grid">')
    parts += [_section(section) for section in (layout(report) if sections is None else sections)]
    parts.append("</div>")
    return "\n".join(parts)


def _section(section: Section) -> str:
    css = ' class="wide"' if section.wide else ""
    out = [f'<section id="{section.key}"{css}><h2>{escape(section.title)}</h2>']
    if section.figures:
        out.append('<div class="figures">' + "".join(
            f'<div class="figure">{escape(label)}<b>{escape(value)}</b></div>' for label, value in section.figures
        ) + "</div>")  # fmt: skip
    if section.chart is not None:
        out.append(svg_chart(section.chart, WIDE_W if section.wide else NARROW_W))
    if section.tables:
        out.append('<div class="tables">' + "".join(_table(t) for t in section.tables) + "</div>")
    if section.note:
        out.append(f'<p class="note">{escape(section.note)}</p>')
    if not (section.figures or section.chart or section.tables or section.note):
        out.append('<p class="note">本月无数据</p>')
    out.append("</section>")
    return "\n".join(out)


def _table(t: Table) -> str:
    total = sum(t.weights) or 1.0
    cols = "".join(f'<col width="{w * 100 / total:.1f}%">' for w in t.weights)  # an attribute: no inline style
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(f"<td{_class(c, v)}>{escape(v)}</td>" for c, v in zip(t.columns, row, strict=True)) + "</tr>"
        for row in t.rows
    )  # fmt: skip
    caption = f'<p class="caption">{escape(t.caption)}</p>' if t.caption else ""
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    css = ' class="broad"' if len(t.columns) >= 5 else ""
    return (f"<div{css}>{caption}<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>{note}</div>")


def _class(column: str, value: str) -> str:
    if column in SMALL_COLUMNS:
        return ' class="small"'
    if value in GRADE_MARKS:
        return f' class="g-{GRADE_MARKS[value]}"'
    text = value.rstrip("%").replace(",", "")
    return ' class="num"' if text.replace(".", "", 1).lstrip("-").isdigit() else ""


def svg_chart(chart: Chart, width: int = WIDE_W) -> str:
    """An inline SVG line, bar or horizontal-bar chart ``width`` units wide (it scales to its box)."""
    values = [v for _, series in chart.series for v in series if v is not None]
    if not values or not chart.labels:
        return ""
    if chart.kind == "hbars":
        return _hbars(chart, width)
    height = 240
    top = 1.0 if chart.percent else nice_top(max(values) * 1.08)
    low = chart.value_min if chart.percent else 0.0
    left, bottom, plot_w, plot_h = 46, 30, width - 60, height - 58
    n = len(chart.labels)
    step = plot_w / max(n, 1)

    def y_of(v: float) -> float:
        return 22 + plot_h * (1 - (max(v, low) - low) / ((top - low) or 1.0))

    items = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(chart.title)}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="12">',
             f'<text x="{width / 2}" y="14" text-anchor="middle" font-size="13" font-weight="bold">'
             f"{escape(chart.title)}</text>"]  # fmt: skip
    for i in range(5):
        value = top - (top - low) * i / 4
        y = y_of(value)
        label = f"{value * 100:.0f}%" if chart.percent else f"{value:,.0f}"
        items.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e1e6ec"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    every = max(1, -(-n // 16))
    for i, label in enumerate(chart.labels):
        if i % every == 0:
            x = left + step * (i + 0.5)
            items.append(f'<text x="{x:.1f}" y="{height - bottom + 20}" text-anchor="middle">{escape(label)}</text>')
    _name, series = chart.series[0]
    if chart.kind == "line":
        points = [(left + step * (i + 0.5), y_of(v)) for i, v in enumerate(series) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        items.append(f'<polyline fill="none" stroke="#b3261e" stroke-width="2" points="{path}"/>')
        items += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#b3261e"/>' for x, y in points]
    else:
        for i, v in enumerate(series):
            if v is None:
                continue
            y = y_of(v)
            x = left + step * i + step * 0.2
            items.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.6:.1f}" height="{22 + plot_h - y:.1f}" '
                         f'fill="#2f6db5"><title>{escape(chart.labels[i])}: {v:g}</title></rect>'
                         f'<text x="{x + step * 0.3:.1f}" y="{y - 3:.1f}" text-anchor="middle">{v:,.0f}</text>')
    items.append("</svg>")
    return "".join(items)


def _hbars(chart: Chart, width: int) -> str:
    """Every label on its own row (a ranking of 20 departments shows 20 names), bars by grade."""
    _name, series = chart.series[0]
    n = len(chart.labels)
    row = 19
    height = 44 + row * n
    left = 14 + 13 * max((len(label) for label in chart.labels), default=4)
    plot = width - left - 50
    marks = chart.marks or [""] * n
    items = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(chart.title)}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="12">',
             f'<text x="{width / 2}" y="14" text-anchor="middle" font-size="13" font-weight="bold">'
             f"{escape(chart.title)}</text>"]  # fmt: skip
    for tick in range(0, 101, 20):
        x = left + plot * tick / 100
        items.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="22" y2="{height - 18}" stroke="#e1e6ec"/>'
                     f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle" fill="#5b6775">{tick}</text>')
    for i, (label, value) in enumerate(zip(chart.labels, series, strict=True)):
        y = 24 + row * i
        v = value or 0.0
        fill = GRADE_FILL.get(marks[i] if i < len(marks) else "", GRADE_FILL[""])
        items.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{plot * min(v, 100) / 100:.1f}" height="{row - 6}" '
                     f'fill="{fill}"><title>{escape(label)}: {v:.1f}</title></rect>'
                     f'<text x="{left + plot * min(v, 100) / 100 + 4:.1f}" y="{y + 13}">{v:.1f}</text>')
    items.append("</svg>")
    return "".join(items)
