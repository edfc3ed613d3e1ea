"""The report's charts as reportlab drawings (line, bars, and the ranking's horizontal bars)."""

from __future__ import annotations

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from hub.reports.layout import Chart, nice_top

RED = colors.HexColor("#b3261e")
BLUE = colors.HexColor("#2f6db5")
GREY = colors.HexColor("#5b6775")
GRADE_FILL = {"good": colors.HexColor("#1e7b34"), "fair": BLUE, "pass": colors.HexColor("#c58a00"), "fail": RED}


def chart_drawing(chart: Chart, width: float, font: str) -> Drawing | None:
    """A drawing of ``chart`` ``width`` points wide (None when there is nothing to draw)."""
    values = [v for _, series in chart.series for v in series if v is not None]
    if not values or not chart.labels:
        return None
    if chart.kind == "hbars":
        return _hbars(chart, width, font)
    height = 150.0
    drawing = Drawing(width, height, initialFontName=font)  # not Helvetica: every font is embedded
    drawing.add(String(width / 2, height - 10, chart.title, fontName=font, fontSize=9, textAnchor="middle"))
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
        plot.barLabels.fontName = font
        plot.barLabels.fontSize = 6.5
        plot.barLabels.nudge = 6
    plot.x, plot.y, plot.width, plot.height = 34, 22, width - 44, height - 40
    plot.data = data
    every = max(1, -(-len(chart.labels) // 16))
    plot.categoryAxis.categoryNames = [label if i % every == 0 else "" for i, label in enumerate(chart.labels)]
    plot.categoryAxis.labels.fontName = font
    plot.categoryAxis.labels.fontSize = 6.5
    top = 100.0 if chart.percent else nice_top(max(values) * 1.08)
    low = chart.value_min * scale if chart.percent else 0.0
    plot.valueAxis.valueMin, plot.valueAxis.valueMax, plot.valueAxis.valueStep = low, top, (top - low) / 4
    plot.valueAxis.labels.fontName = font
    plot.valueAxis.labels.fontSize = 6.5
    plot.valueAxis.labelTextFormat = "%d%%" if chart.percent else "%d"
    plot.valueAxis.visibleGrid = 1
    plot.valueAxis.gridStrokeColor = colors.HexColor("#e1e6ec")
    drawing.add(plot)
    return drawing


def _hbars(chart: Chart, width: float, font: str) -> Drawing:
    """One labelled row per entity (all 20 departments are named), bars coloured by grade."""
    _, series = chart.series[0]
    n = len(chart.labels)
    row = 11.0
    height = 34 + row * n
    drawing = Drawing(width, height, initialFontName=font)  # not Helvetica: every font is embedded
    drawing.add(String(width / 2, height - 10, chart.title, fontName=font, fontSize=9, textAnchor="middle"))
    label_w = 8 + 7.2 * max(len(label) for label in chart.labels)
    plot = HorizontalBarChart()
    plot.x, plot.y, plot.width, plot.height = label_w, 14, width - label_w - 30, row * n
    plot.data = [tuple(v or 0.0 for v in reversed(series))]
    plot.categoryAxis.categoryNames = list(reversed(chart.labels))
    plot.categoryAxis.labels.fontName = font
    plot.categoryAxis.labels.fontSize = 7
    plot.categoryAxis.labels.boxAnchor = "e"
    plot.categoryAxis.labels.dx = -3
    plot.valueAxis.valueMin, plot.valueAxis.valueMax, plot.valueAxis.valueStep = 0, 100, 20
    plot.valueAxis.labels.fontName = font
    plot.valueAxis.labels.fontSize = 6.5
    plot.valueAxis.visibleGrid = 1
    plot.valueAxis.gridStrokeColor = colors.HexColor("#e1e6ec")
    plot.bars[0].fillColor = BLUE
    plot.bars.strokeColor = None
    marks = list(reversed(chart.marks)) if len(chart.marks) == n else []
    for i, mark in enumerate(marks):
        if mark in GRADE_FILL:
            plot.bars[(0, i)].fillColor = GRADE_FILL[mark]
    plot.barWidth = row * 0.6
    plot.barLabelFormat = "%.1f"
    plot.barLabels.fontName = font
    plot.barLabels.fontSize = 6.5
    plot.barLabels.boxAnchor = "w"
    plot.barLabels.dx = 3
    drawing.add(plot)
    return drawing
