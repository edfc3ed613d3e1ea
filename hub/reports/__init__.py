"""The monthly report (月报, DOMAIN.md §7): data, and its HTML, PDF and Excel files.

``build_report(conn, "2026-11", config, dept)`` (``hub.reports.data``) gives the report as a dict;
``render_html`` / ``render_pdf`` / ``render_xlsx`` turn that dict into file bytes (the web's
downloads call them by these names). The renderers import reportlab / openpyxl only when called.

=============  ======================================================================
``data``       the report as data, from aggregates and indexed reads
``cards``      the month's cards: standing ones counted, the system's withdrawals apart
``layout``     sections, labels and chart data shared by the page formats
``html``       a standalone Chinese HTML page (an A4-ish sheet) with inline SVG charts
``pdf``        reportlab, A4, the same layout; ``fonts``: the embedded WenQuanYi font
``pdfcharts``  the PDF's charts (reportlab graphics)
``xlsx``       openpyxl workbook, one sheet per part, openpyxl charts
``cli``        ``xiaoneng-hub report 2026-11 --data DIR --format pdf|xlsx|html -o FILE``
=============  ======================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORMATS = ("pdf", "xlsx", "html")


def render_html(report: Mapping[str, Any]) -> bytes:
    """The report as a standalone HTML page."""
    from hub.reports.html import render_html as render

    return render(report)


def render_pdf(report: Mapping[str, Any]) -> bytes:
    """The report as a PDF."""
    from hub.reports.pdf import render_pdf as render

    return render(report)


def render_xlsx(report: Mapping[str, Any]) -> bytes:
    """The report as an Excel workbook."""
    from hub.reports.xlsx import render_xlsx as render

    return render(report)


def render(fmt: str, report: Mapping[str, Any]) -> bytes:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    renderers = {"pdf": render_pdf, "xlsx": render_xlsx, "html": render_html}
    if fmt not in renderers:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return renderers[fmt](report)
