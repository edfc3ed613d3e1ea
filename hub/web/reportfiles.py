"""The monthly report for the web: its data laid out in sections, and its PDF / Excel files.

:func:`sections` turns the provider's report (a JSON-ready mapping) into what the page shows:
figures (scalars), tables (lists of rows) and lists, in the report's own order, each titled from
the catalogue (``report.<key>``, columns ``report_col.<key>``) when the catalogue knows the key.

:func:`render_file` makes the download. The report module (``hub.reports``) owns the PDF and
Excel layouts; until it is installed the download answers 503 ``unavailable``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FORMATS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SKIP = frozenset({"month", "dept", "dept_name", "generated_at", "period"})
CHARTED = frozenset({"trend", "trend_months"})
"""Sections drawn as charts on the page (their tables stay available, folded)."""
FOLD_ROWS = 12


def is_rate(key: str) -> bool:
    """Figures shown as percentages (shares from 0 to 1)."""
    return key.endswith("rate") or key == "availability"


class ReportFilesUnavailable(Exception):
    """The report module that makes PDF / Excel files is not installed in this hub yet."""


@dataclass(slots=True)
class Section:
    """One block of the report page."""

    key: str
    kind: str  # "figures" | "table" | "list"
    figures: list[tuple[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)

    @property
    def folded(self) -> bool:
        """Long tables and charted series start folded."""
        return self.kind == "table" and (len(self.rows) > FOLD_ROWS or self.key in CHARTED)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows[:50]:
        for key, value in row.items():
            if _scalar(value):
                seen.setdefault(str(key), None)
    return list(seen)


def sections(report: Mapping[str, Any]) -> list[Section]:
    """The report's blocks in order: loose top-level figures first, then one block per key."""
    summary = Section("summary", "figures")
    out: list[Section] = []
    for key, value in report.items():
        if key in SKIP:
            continue
        if _scalar(value):
            summary.figures.append((key, value))
        elif isinstance(value, Mapping):
            flat = [(k, v) for k, v in value.items() if _scalar(v)]
            nested = [(k, v) for k, v in value.items() if not _scalar(v)]
            if flat:
                out.append(Section(key, "figures", figures=flat))
            for sub, sub_value in nested:
                out.extend(sections({f"{key}.{sub}": sub_value}))
        elif isinstance(value, Sequence) and value and all(isinstance(r, Mapping) for r in value):
            out.append(Section(key, "table", columns=_columns(value), rows=list(value)))
        elif isinstance(value, Sequence):
            out.append(Section(key, "list", items=list(value)))
    return ([summary] if summary.figures else []) + out


def chart_data(report: Mapping[str, Any]) -> dict[str, Any]:
    """The series the page charts: accepted / completed / on-time rate per day and per month."""
    out: dict[str, Any] = {}
    for key, label in (("trend", "day"), ("trend_months", "month")):
        rows = report.get(key)
        if isinstance(rows, Sequence) and rows and all(isinstance(r, Mapping) for r in rows):
            out[key] = {
                "x": [str(r.get(label, "")) for r in rows],
                "accepted": [r.get("accepted") for r in rows],
                "completed": [r.get("completed") for r in rows],
                "on_time_rate": [None if r.get("on_time_rate") is None else round(float(r["on_time_rate"]) * 100, 1)
                                 for r in rows],
            }
    return out


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
