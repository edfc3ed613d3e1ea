"""One year's official working-day arrangement, in the public ``holiday-cn`` JSON shape.

A file looks like ``{"year": 2027, "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay":
true}, ...]}``: listed days with ``isOffDay: true`` are holidays, listed days with ``isOffDay:
false`` are weekend days declared working days (调休上班); every other day follows Monday–Friday.
A year's file may list a few days of the adjacent years (2023's 元旦 began on 2022-12-31).

Parsing is strict: anything unexpected is a :class:`ConfigError` that names the file and the entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from hub.engine.localtime import parse_day
from shared.errors import ConfigError

TOP_KEYS = frozenset({"year", "days", "papers", "$schema", "$id"})
DAY_KEYS = frozenset({"name", "date", "isOffDay"})


@dataclass(frozen=True, slots=True)
class DayEntry:
    """One listed day: a holiday (``off``) or a declared working day."""

    name: str
    day: date
    off: bool


@dataclass(frozen=True, slots=True)
class YearArrangement:
    """The arrangement of ``year`` and where it came from (a path or ``"chinese_calendar"``)."""

    year: int
    days: tuple[DayEntry, ...]
    source: str

    def to_json(self) -> dict[str, Any]:
        """The ``holiday-cn`` shaped object (round-trips through :func:`parse_arrangement`)."""
        return {
            "year": self.year,
            "days": [
                {"name": d.name, "date": d.day.isoformat(), "isOffDay": d.off} for d in self.days
            ],
        }


def parse_arrangement(text: str | bytes, source: str) -> YearArrangement:
    """Validate a ``holiday-cn`` JSON document; errors name ``source`` and the bad entry."""
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"{source}: not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: the top level must be an object with 'year' and 'days'")
    unknown = sorted(set(value) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; expected 'year' and 'days'")
    year = value.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
        raise ConfigError(f"{source}: 'year' must be an integer year, got {year!r}")
    days = value.get("days")
    if not isinstance(days, list):
        raise ConfigError(f"{source}: 'days' must be a list of {{name, date, isOffDay}} objects")
    entries: list[DayEntry] = []
    seen: dict[date, int] = {}
    for index, item in enumerate(days):
        where = f"{source}: days[{index}] {json.dumps(item, ensure_ascii=False)[:120]}"
        entry = _entry(item, where)
        if abs(entry.day.year - year) > 1:
            raise ConfigError(f"{where}: date {entry.day} is not in {year} or an adjacent year")
        if entry.day in seen:
            raise ConfigError(f"{where}: date {entry.day} already listed at days[{seen[entry.day]}]")
        seen[entry.day] = index
        entries.append(entry)
    if not any(e.day.year == year for e in entries):
        raise ConfigError(f"{source}: no day of {year} is listed; is this the right file?")
    return YearArrangement(year, tuple(sorted(entries, key=lambda e: e.day)), source)


def _entry(item: object, where: str) -> DayEntry:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: each day must be an object {{name, date, isOffDay}}")
    keys = set(item)
    if keys != DAY_KEYS:
        missing, extra = sorted(DAY_KEYS - keys), sorted(keys - DAY_KEYS)
        raise ConfigError(f"{where}: fields wrong: missing {missing}, unexpected {extra}")
    name, off = item["name"], item["isOffDay"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: 'name' must be a non-empty string")
    if not isinstance(off, bool):
        raise ConfigError(f"{where}: 'isOffDay' must be true or false, got {off!r}")
    try:
        day = parse_day(item["date"], "'date'")
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not off and day.weekday() < 5:
        # holiday-cn never lists a plain weekday as working; such a line is a typo for isOffDay.
        raise ConfigError(f"{where}: {day} is a weekday; only weekend days can be declared working")
    return DayEntry(name.strip(), day, off)


def load_arrangement(path: str | Path) -> YearArrangement:
    """Read and validate a ``holiday-cn`` file."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read ({exc.strerror or exc})") from None
    return parse_arrangement(data, source)
