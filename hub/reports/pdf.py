"""The monthly report as a PDF (reportlab): Chinese text in the CID font ``STSong-Light``.

reportlab cannot embed the CFF-outline Noto CJK fonts; its built-in Adobe-GB1 CID font works
without embedding — the viewer supplies the glyphs (every Chinese PDF reader has them; poppler
maps it to Noto CJK) and the text stays extractable (``pdftotext`` gives the department names
back). Charts are reportlab graphics drawn with the same font.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from hub.reports.layout import Chart, Section, layout, period_line, title_of

FONT = "STSong-Light"
RED = colors.HexColor("#b3261e")
BLUE = colors.HexColor("#2f6db5")
GRID = colors.HexColor("#c9d1db")
WIDTH = A4[0] - 30 * mm


def _font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=4, textColor=RED),
        "meta": ParagraphStyle("meta", parent=base, textColor=colors.HexColor("#5b6775")),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4,
                             textColor=RED),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5),
        "figure": ParagraphStyle("figure", parent=base, fontSize=7.5, leading=13),
        "note": ParagraphStyle("note", parent=base, fontSize=8, textColor=colors.HexColor("#5b6775")),
    }


def render_pdf(report: Mapping[str, Any]) -> bytes:
    """The report as PDF bytes."""
    _font()
    styles = _styles()
    buffer = io.BytesIO()
    title = title_of(report)
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=title, author="小能 行政效能电子监察",
                            subject=f"月报 {report.get('month', '')}")  # fmt: skip
    story: list[Flowable] = [
        Paragraph(escape(title), styles["title"]),
        Paragraph(escape(period_line(report)), styles["meta"]),
    ]  # fmt: skip
    for section in layout(report):
        story += _section(section, styles)
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def _footer(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 8)
    canvas.setFillColor(colors.HexColor("#5b6775"))
    canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"第 {doc.page} 页")
    canvas.restoreState()


def _section(section: Section, styles: Mapping[str, ParagraphStyle]) -> list[Flowable]:
    head: list[Flowable] = [Paragraph(escape(section.title), styles["h2"])]
    out: list[Flowable] = []
    if section.figures:
        cells = [Paragraph(f'{escape(label)}<br/><font size="11">{escape(value)}</font>', styles["figure"])
                 for label, value in section.figures]
        per_row = 6
        rows = [cells[i:i + per_row] + [""] * (per_row - len(cells[i:i + per_row]))
                for i in range(0, len(cells), per_row)]
        table = Table(rows, colWidths=[WIDTH / per_row] * per_row)
        table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.5, GRID), ("INNERGRID", (0, 0), (-1, -1), 0.3, GRID),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        out.append(table)
    if section.chart is not None:
        drawing = chart_drawing(section.chart)
        if drawing is not None:
            out += [Spacer(1, 4), drawing]
    if section.rows:
        data = [[Paragraph(escape(c), styles["cell"]) for c in section.columns]]
        data += [[Paragraph(escape(v), styles["cell"]) for v in row] for row in section.rows]
        widths = _widths(section.columns)
        table = Table(data, colWidths=widths, repeatRows=1)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.3, GRID), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]))  # fmt: skip
        out += [Spacer(1, 4), table]
    if section.note:
        out.append(Paragraph(escape(section.note), styles["note"]))
    if not out:
        out.append(Paragraph("本月无数据", styles["note"]))
    first = 1 if isinstance(out[0], Spacer) and len(out) > 1 else 0
    return [KeepTogether(head + out[: first + 1]), *out[first + 1:]]


def _widths(columns: list[str]) -> list[float]:
    wide = {"失分说明": 3.6, "名称": 1.8, "部门": 1.8, "所属部门": 1.6, "等级": 1.3, "按时率": 1.2, "大厅": 2.5}
    weights = [wide.get(c, 1.0) for c in columns]
    total = sum(weights)
    return [WIDTH * w / total for w in weights]


def chart_drawing(chart: Chart) -> Drawing | None:
    """A reportlab drawing of ``chart`` (None when there is nothing to draw)."""
    values = [v for _, series in chart.series for v in series if v is not None]
    if not values:
        return None
    if chart.kind == "hbars":
        return _hbars(chart)
    height = 70 * mm
    drawing = Drawing(WIDTH, height)
    drawing.add(String(WIDTH / 2, height - 10, chart.title, fontName=FONT, fontSize=10, textAnchor="middle"))
    scale = 100.0 if chart.percent else 1.0
    data = [tuple(None if v is None else v * scale for v in series) for _, series in chart.series]
    plot: HorizontalLineChart | VerticalBarChart
    if chart.kind == "line":
        plot = HorizontalLineChart()
        plot.lines[0].strokeColor = RED
        plot.lines[0].strokeWidth = 1.5
        plot.joinedLines = 1
    else:
        plot = VerticalBarChart()
        plot.bars[0].fillColor = BLUE
        plot.barLabelFormat = "%d"
        plot.barLabels.fontName = FONT
        plot.barLabels.fontSize = 7
        plot.barLabels.nudge = 6
    plot.x, plot.y, plot.width, plot.height = 30, 25, WIDTH - 45, height - 45
    plot.data = data
    plot.categoryAxis.categoryNames = chart.labels
    plot.categoryAxis.labels.fontName = FONT
    plot.categoryAxis.labels.fontSize = 6.5
    if len(chart.labels) > 16:
        plot.categoryAxis.labels.angle = 45
        plot.categoryAxis.labels.boxAnchor = "ne"
    plot.valueAxis.valueMin = 0
    plot.valueAxis.valueMax = 100 if chart.percent else max(values) * 1.15 + 1
    plot.valueAxis.labels.fontName = FONT
    plot.valueAxis.labels.fontSize = 7
    if chart.percent:
        plot.valueAxis.labelTextFormat = "%d%%"
    drawing.add(plot)
    return drawing


def _hbars(chart: Chart) -> Drawing:
    _, series = chart.series[0]
    n = len(chart.labels)
    height = 30 + 11 * n
    drawing = Drawing(WIDTH, height)
    drawing.add(String(WIDTH / 2, height - 10, chart.title, fontName=FONT, fontSize=10, textAnchor="middle"))
    plot = HorizontalBarChart()
    plot.x, plot.y, plot.width, plot.height = 110, 10, WIDTH - 140, height - 25
    plot.data = [tuple(v or 0.0 for v in reversed(series))]
    plot.categoryAxis.categoryNames = list(reversed(chart.labels))
    plot.categoryAxis.labels.fontName = FONT
    plot.categoryAxis.labels.fontSize = 7
    plot.valueAxis.valueMin = 0
    plot.valueAxis.valueMax = 100
    plot.valueAxis.labels.fontName = FONT
    plot.valueAxis.labels.fontSize = 7
    plot.bars[0].fillColor = BLUE
    plot.barLabelFormat = "%.1f"
    plot.barLabels.fontName = FONT
    plot.barLabels.fontSize = 6.5
    plot.barLabels.boxAnchor = "w"
    plot.barLabels.dx = 3
    drawing.add(plot)
    return drawing
