"""The monthly report as one standalone HTML page (UTF-8, Chinese, inline CSS and SVG charts).

No script, no external file: it opens offline on any intranet machine, and prints as it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from hub.reports.layout import Chart, Section, layout, period_line, title_of

CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;margin:2em auto;
max-width:1100px;color:#1d2733;line-height:1.5}
h1{font-size:1.6em;border-bottom:3px solid #b3261e;padding-bottom:.3em}h2{font-size:1.2em;margin-top:1.6em;
color:#b3261e}.meta{color:#5b6775}.figures{display:flex;flex-wrap:wrap;gap:.6em}.figure{border:1px solid #d5dbe3;
border-radius:6px;padding:.4em .8em;min-width:8em}.figure b{display:block;font-size:1.3em}table{border-collapse:
collapse;width:100%;margin:.6em 0;font-size:.92em}th,td{border:1px solid #d5dbe3;padding:.25em .5em;text-align:left}
th{background:#f2f4f7}td.num{text-align:right}.note{color:#5b6775;font-size:.9em}svg{max-width:100%;height:auto}
@media print{body{margin:0}h2{page-break-after:avoid}}
"""
W, H = 760, 260


def render_html(report: Mapping[str, Any]) -> bytes:
    """The report as a standalone HTML page (bytes, UTF-8)."""
    title = title_of(report)
    parts = [
        "<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(period_line(report))}</p>',
    ]  # fmt: skip
    for section in layout(report):
        parts.append(_section(section))
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")


def _section(section: Section) -> str:
    out = [f'<section id="{section.key}"><h2>{escape(section.title)}</h2>']
    if section.figures:
        out.append('<div class="figures">' + "".join(
            f'<div class="figure">{escape(label)}<b>{escape(value)}</b></div>' for label, value in section.figures
        ) + "</div>")  # fmt: skip
    if section.chart is not None:
        out.append(svg_chart(section.chart))
    if section.rows:
        head = "".join(f"<th>{escape(c)}</th>" for c in section.columns)
        body = "".join(
            "<tr>" + "".join(f'<td{_num(v)}>{escape(v)}</td>' for v in row) + "</tr>" for row in section.rows
        )  # fmt: skip
        out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    if section.note:
        out.append(f'<p class="note">{escape(section.note)}</p>')
    out.append("</section>")
    return "\n".join(out)


def _num(value: str) -> str:
    text = value.rstrip("%")
    return ' class="num"' if text.replace(".", "", 1).lstrip("-").isdigit() else ""


def svg_chart(chart: Chart) -> str:
    """An inline SVG line, bar or horizontal-bar chart."""
    values = [v for _, series in chart.series for v in series if v is not None]
    if not values or not chart.labels:
        return ""
    if chart.kind == "hbars":
        return _hbars(chart)
    top = 1.0 if chart.percent else max(max(values), 1.0) * 1.1
    left, bottom, plot_w, plot_h = 50, 30, W - 70, H - 60
    n = len(chart.labels)
    step = plot_w / max(n, 1)
    items = [f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{escape(chart.title)}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="11">',
             f'<text x="{W / 2}" y="14" text-anchor="middle" font-size="13">{escape(chart.title)}</text>']
    for i in range(5):
        y = 20 + plot_h * i / 4
        value = top * (1 - i / 4)
        label = f"{value * 100:.0f}%" if chart.percent else f"{value:.0f}"
        items.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e1e6ec"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    every = max(1, n // 15)
    for i, label in enumerate(chart.labels):
        if i % every == 0:
            x = left + step * (i + 0.5)
            items.append(f'<text x="{x:.1f}" y="{H - bottom + 24}" text-anchor="middle">{escape(label)}</text>')
    name, series = chart.series[0]
    if chart.kind == "line":
        points = [f"{left + step * (i + 0.5):.1f},{20 + plot_h * (1 - v / top):.1f}"
                  for i, v in enumerate(series) if v is not None]
        items.append(f'<polyline fill="none" stroke="#b3261e" stroke-width="2" points="{" ".join(points)}"/>')
        items += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" fill="#b3261e"/>' for p in points]
    else:
        for i, v in enumerate(series):
            if v is None:
                continue
            h = plot_h * v / top
            x = left + step * i + step * 0.15
            items.append(f'<rect x="{x:.1f}" y="{20 + plot_h - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
                         f'fill="#2f6db5"><title>{escape(chart.labels[i])}: {v:g}</title></rect>'
                         f'<text x="{x + step * 0.35:.1f}" y="{20 + plot_h - h - 3:.1f}" '
                         f'text-anchor="middle">{v:g}</text>')
    items.append("</svg>")
    return "".join(items)


def _hbars(chart: Chart) -> str:
    name, series = chart.series[0]
    n = len(chart.labels)
    row = 20
    height = 30 + row * n
    left, width = 170, W - 230
    items = [f'<svg viewBox="0 0 {W} {height}" role="img" aria-label="{escape(chart.title)}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="11">',
             f'<text x="{W / 2}" y="14" text-anchor="middle" font-size="13">{escape(chart.title)}</text>']
    for i, (label, value) in enumerate(zip(chart.labels, series, strict=True)):
        y = 24 + row * i
        v = value or 0.0
        items.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 2}" width="{width * v / 100:.1f}" height="{row - 6}" '
                     f'fill="#2f6db5"/><text x="{left + width * v / 100 + 4:.1f}" y="{y + 13}">{v:.1f}</text>')
    items.append("</svg>")
    return "".join(items)
