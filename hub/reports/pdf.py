"""The monthly report as an A4 PDF (reportlab), its Chinese font embedded (:mod:`hub.reports.fonts`).

The same sections as the HTML page (:mod:`hub.reports.layout`): wide ones across the page, two
narrow ones side by side. The file's metadata names the report (``<城市> 行政效能电子监察 月报
YYYY-MM``) and the product (效能 Xiaoneng). Charts are reportlab graphics (:mod:`hub.reports.pdfcharts`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from hub.reports.fonts import FONT, register_font
from hub.reports.layout import (
    GRADE_MARKS,
    PRODUCT,
    Section,
    document_title,
    layout,
    period_line,
    summary_line,
    title_of,
)
from hub.reports.layout import Table as ReportTable
from hub.reports.pdfcharts import GRADE_FILL, GREY, RED, chart_drawing

GRID = colors.HexColor("#c9d1db")
HEAD_FILL = colors.HexColor("#eef1f5")
MARGIN = 14 * mm
WIDTH = A4[0] - 2 * MARGIN
GUTTER = 6 * mm
SMALL_COLUMNS = frozenset({"失分说明", "撤销原因"})


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=2, textColor=RED),
        "meta": ParagraphStyle("meta", parent=base, fontSize=8, textColor=GREY, spaceAfter=4),
        "summary": ParagraphStyle("summary", parent=base, fontSize=9, leading=13, backColor=colors.HexColor("#fbf3f2"),
                                  borderPadding=(4, 6, 4, 6), spaceBefore=4, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=3, textColor=RED),
        "caption": ParagraphStyle("caption", parent=base, fontSize=8, leading=11, spaceBefore=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5),
        "num": ParagraphStyle("num", parent=base, fontSize=7.5, leading=9.5, alignment=2),
        "small": ParagraphStyle("small", parent=base, fontSize=6.5, leading=8.2, textColor=colors.HexColor("#3b4754")),
        "head": ParagraphStyle("head", parent=base, fontSize=7.5, leading=9.5),
        "figure": ParagraphStyle("figure", parent=base, fontSize=7, leading=12, textColor=GREY),
        "note": ParagraphStyle("note", parent=base, fontSize=7, leading=9.5, textColor=GREY),
    }  # fmt: skip


def render_pdf(report: Mapping[str, Any]) -> bytes:
    """The report as PDF bytes (:class:`hub.reports.fonts.ReportFontMissing` without a Chinese font)."""
    font = register_font()
    styles = _styles(font)
    buffer = io.BytesIO()
    title = title_of(report)
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=document_title(report), author=PRODUCT,
                            creator=f"{PRODUCT} 月报", producer=PRODUCT, subject=title, lang="zh-CN",
                            initialFontName=font)  # fmt: skip
    story: list[Flowable] = [Paragraph(escape(title), styles["title"]),
                             Paragraph(escape(period_line(report)), styles["meta"])]  # fmt: skip
    summary = summary_line(report)
    if summary:
        story.append(Paragraph(escape(summary), styles["summary"]))
    waiting: Section | None = None
    for section in layout(report):
        if section.wide:
            if waiting is not None:
                story += _section(waiting, WIDTH, styles, font)
                waiting = None
            story += _section(section, WIDTH, styles, font)
        elif waiting is None:
            waiting = section
        else:
            story.append(_pair(waiting, section, styles, font))
            waiting = None
    if waiting is not None:
        story += _section(waiting, WIDTH, styles, font)

    def footer(canvas: Any, page: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.setFillColor(GREY)
        canvas.drawString(MARGIN, 7 * mm, f"{PRODUCT} · {title}")
        canvas.drawRightString(A4[0] - MARGIN, 7 * mm, f"第 {page.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _pair(left: Section, right: Section, styles: Mapping[str, ParagraphStyle], font: str) -> Flowable:
    """Two narrow sections side by side (each kept whole)."""
    half = (WIDTH - GUTTER) / 2
    table = Table([[_section(left, half, styles, font, False), "", _section(right, half, styles, font, False)]],
                  colWidths=[half, GUTTER, half])  # fmt: skip
    table.setStyle(_table_style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))  # fmt: skip
    return table


def _section(section: Section, width: float, styles: Mapping[str, ParagraphStyle], font: str,
             keep: bool = True) -> list[Flowable]:  # fmt: skip
    """The section's flowables; ``keep``: its title kept with what follows (not inside a table cell)."""
    head: Flowable = Paragraph(escape(section.title), styles["h2"])
    out: list[Flowable] = []
    if section.figures:
        out.append(_figures(section.figures, width, styles))
    if section.chart is not None:
        drawing = chart_drawing(section.chart, width, font)
        if drawing is not None:
            out += [drawing, Spacer(1, 3)]
    tables = section.tables
    if len(tables) == 2 and all(len(t.columns) <= 5 and len(t.rows) <= 12 for t in tables):
        half = (width - GUTTER) / 2
        row = Table([[_table(tables[0], half, styles), "", _table(tables[1], half, styles)]],
                    colWidths=[half, GUTTER, half])  # fmt: skip
        row.setStyle(_table_style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                 ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))  # fmt: skip
        out.append(row)
    else:
        for t in tables:
            out += _table(t, width, styles)
    if section.note:
        out.append(Paragraph(escape(section.note), styles["note"]))
    if not out:
        out.append(Paragraph("本月无数据", styles["note"]))
    return [KeepTogether([head, out[0]]), *out[1:]] if keep else [head, *out]


def _figures(figures: list[tuple[str, str]], width: float, styles: Mapping[str, ParagraphStyle]) -> Flowable:
    per_row = max(3, int(width // (30 * mm)))
    cells: list[Any] = [Paragraph(f'{escape(label)}<br/><font size="10.5" color="#1d2733">{escape(value)}</font>',
                                  styles["figure"]) for label, value in figures]  # fmt: skip
    rows = [cells[i:i + per_row] + [""] * (per_row - len(cells[i:i + per_row])) for i in range(0, len(cells), per_row)]
    table = Table(rows, colWidths=[width / per_row] * per_row)
    table.setStyle(_table_style([("BOX", (0, 0), (-1, -1), 0.5, GRID), ("INNERGRID", (0, 0), (-1, -1), 0.3, GRID),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))  # fmt: skip
    return table


def _table(t: ReportTable, width: float, styles: Mapping[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = []
    if t.caption:
        out.append(Paragraph(escape(t.caption), styles["caption"]))
    data: list[list[Any]] = [[Paragraph(escape(c), styles["head"]) for c in t.columns]]
    for row in t.rows:
        cells = []
        for column, value in zip(t.columns, row, strict=True):
            text = escape(value)
            if value in GRADE_MARKS:
                text = f'<font color="{"#" + GRADE_FILL[GRADE_MARKS[value]].hexval()[2:]}">{text}</font>'
            cells.append(Paragraph(text, styles[_style(column, value)]))
        data.append(cells)
    total = sum(t.weights) or 1.0
    table = Table(data, colWidths=[width * w / total for w in t.weights], repeatRows=1)
    style = [("GRID", (0, 0), (-1, -1), 0.3, GRID), ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
             ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 1.2),
             ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5), ("LEFTPADDING", (0, 0), (-1, -1), 3),
             ("RIGHTPADDING", (0, 0), (-1, -1), 3)]  # fmt: skip
    table.setStyle(_table_style(style))
    out.append(table)
    if t.note:
        out.append(Paragraph(escape(t.note), styles["note"]))
    return out


def _table_style(commands: list[Any]) -> TableStyle:
    """A table style in the report's font (a table's own default, Helvetica, is never embedded)."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


def _style(column: str, value: str) -> str:
    if column in SMALL_COLUMNS:
        return "small"
    text = value.rstrip("%").replace(",", "")
    return "num" if text.replace(".", "", 1).lstrip("-").isdigit() else "cell"
