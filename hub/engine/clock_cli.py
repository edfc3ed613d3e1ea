"""Thin click commands over the clock and the calendar (attached by ``hub.cli``).

``clock due``      one due date from options, or ``--jsonl``: one JSON object per stdin line
``calendar check`` validate ``holiday-cn`` files and show what they change
``calendar load``  validate a file and install it into the hub's calendar directory

The library functions (:func:`due_from_json`, :func:`check_arrangement`,
:func:`load_calendar_dir`, :func:`install_arrangement`) hold the logic; the commands only parse
options and print.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

import click

from hub.engine.arrangement import YearArrangement, load_arrangement
from hub.engine.calendar import WorkCalendar
from hub.engine.clock import Due, Pause, Unit, due_date
from hub.engine.localtime import parse_day
from shared.errors import ConfigError

JSONL_KEYS = frozenset({"accepted", "limit", "unit", "pauses", "extension"})


# -- library --------------------------------------------------------------------------------------


def build_calendar(files: Iterable[str | Path] = (), directory: str | Path | None = None) -> WorkCalendar:
    """The package calendar plus every ``*.json`` of ``directory`` and then ``files``."""
    arrangements: list[YearArrangement] = []
    if directory is not None:
        arrangements += load_calendar_dir(directory)
    arrangements += [load_arrangement(f) for f in files]
    return WorkCalendar(arrangements)


def load_calendar_dir(directory: str | Path) -> list[YearArrangement]:
    """Every ``*.json`` arrangement in ``directory`` (sorted by name); a missing folder is empty."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return [load_arrangement(p) for p in sorted(folder.glob("*.json"))]


def parse_pause(text: str) -> Pause:
    """``START:END`` (both included) or ``START:`` (still open)."""
    start, sep, end = text.partition(":")
    if not sep:
        raise ValueError(f"pause {text!r} must be START:END or START: (open), dates YYYY-MM-DD")
    first = parse_day(start, "pause start")
    last = parse_day(end, "pause end") if end else None
    if last is not None and last < first:
        raise ValueError(f"pause {text!r} ends before it starts")
    return Pause(first, last)


def due_from_json(calendar: WorkCalendar, obj: Any) -> Due:
    """Compute a due date from ``{"accepted", "limit", "unit"?, "pauses"?, "extension"?}``.

    Raises :class:`ValueError` or :class:`TypeError` with a message fit for an ``{"error": ...}``
    line.
    """
    if not isinstance(obj, dict):
        raise TypeError("each line must be a JSON object")
    unknown = sorted(set(obj) - JSONL_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; allowed: {sorted(JSONL_KEYS)}")
    if "accepted" not in obj or "limit" not in obj:
        raise ValueError("'accepted' and 'limit' are required")
    accepted = parse_day(obj["accepted"], "accepted")
    limit, extension = obj["limit"], obj.get("extension", 0)
    for name, value in (("limit", limit), ("extension", extension)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    unit = Unit.parse(obj.get("unit", "G"))
    raw = obj.get("pauses", [])
    if not isinstance(raw, list):
        raise TypeError("pauses must be a list of [start, end] pairs")
    pauses = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"pauses[{i}] must be [start, end] (end null while open)")
        start = parse_day(pair[0], f"pauses[{i}] start")
        end = None if pair[1] is None else parse_day(pair[1], f"pauses[{i}] end")
        if end is not None and end < start:
            raise ValueError(f"pauses[{i}] ends before it starts")
        pauses.append(Pause(start, end))
    return due_date(calendar, accepted, limit, unit, pauses, extension)


def run_jsonl(calendar: WorkCalendar, lines: Iterable[str], out: TextIO) -> tuple[int, int]:
    """One result line per input line; a bad line gives ``{"error": ...}``. Returns (ok, bad)."""
    ok = bad = 0
    for line in lines:
        line = line.rstrip("\r\n")
        try:
            if not line.strip():
                raise ValueError("empty line")
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"not JSON: {exc}") from None
            result: dict[str, object] = due_from_json(calendar, obj).to_json()
            ok += 1
        except (ValueError, TypeError) as exc:
            result = {"error": str(exc)}
            bad += 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return ok, bad


@dataclass(frozen=True)
class ArrangementCheck:
    """What loading a file would change: dates whose working status differs from now."""

    arrangement: YearArrangement
    holidays: int
    working_weekend_days: int
    changed: tuple[tuple[date, bool], ...]  # (date, is_working after loading)
    replaces: str

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.arrangement.source,
            "year": self.arrangement.year,
            "holidays": self.holidays,
            "working_weekend_days": self.working_weekend_days,
            "replaces": self.replaces,
            "changed": [{"date": d.isoformat(), "working": w} for d, w in self.changed],
        }


def check_arrangement(path: str | Path, current: WorkCalendar | None = None) -> ArrangementCheck:
    """Validate ``path`` (raises :class:`ConfigError`) and diff it against ``current``."""
    current = current or WorkCalendar()
    arrangement = load_arrangement(path)
    after = current.with_arrangement(arrangement)
    year = arrangement.year
    changed = []
    day = date(year - 1, 12, 1)
    while day <= date(year + 1, 1, 31):
        if after.is_workday(day) != current.is_workday(day):
            changed.append((day, after.is_workday(day)))
        day += timedelta(days=1)
    own = [e for e in arrangement.days if e.day.year == year]
    return ArrangementCheck(
        arrangement,
        holidays=sum(1 for e in own if e.off),
        working_weekend_days=sum(1 for e in own if not e.off),
        changed=tuple(changed),
        replaces=current.source_of(year),
    )


def install_arrangement(path: str | Path, directory: str | Path) -> Path:
    """Validate ``path`` and copy it to ``directory/<year>.json`` atomically; returns the target."""
    arrangement = load_arrangement(path)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{arrangement.year}.json"
    tmp = folder / f".{arrangement.year}.json.tmp"
    shutil.copyfile(path, tmp)
    os.replace(tmp, target)
    return target


# -- commands -------------------------------------------------------------------------------------


def _calendar_or_fail(files: Sequence[str], directory: str | None) -> WorkCalendar:
    try:
        return build_calendar(files, directory)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("clock")
def clock_group() -> None:
    """Statutory clock (时限计算): due dates on the official working-day calendar."""


@clock_group.command("due")
@click.option("--accepted", help="acceptance date YYYY-MM-DD (counting starts the next day)")
@click.option("--limit", type=click.IntRange(min=0), help="limit in days (0 = 即办件)")
@click.option("--unit", type=click.Choice(["G", "Z"], case_sensitive=False), default="G",
              show_default=True, help="G working days, Z natural days")
@click.option("--pause", "pauses", multiple=True, metavar="START:END",
              help="paused dates, both included; START: for a pause still open (repeatable)")
@click.option("--extension", type=click.IntRange(min=0), default=0, show_default=True,
              help="approved extension days (延长审批)")
@click.option("--calendar", "calendars", multiple=True, type=click.Path(dir_okay=False),
              help="holiday-cn JSON file of a year to load (repeatable)")
@click.option("--calendar-dir", type=click.Path(file_okay=False),
              help="folder of holiday-cn JSON files to load")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--jsonl", is_flag=True,
              help='read {"accepted","limit","unit","pauses","extension"} lines on stdin')
def due_command(
    accepted: str | None,
    limit: int | None,
    unit: str,
    pauses: tuple[str, ...],
    extension: int,
    calendars: tuple[str, ...],
    calendar_dir: str | None,
    as_json: bool,
    jsonl: bool,
) -> None:
    """The due date of a limit counted from an acceptance date (DOMAIN.md §3)."""
    calendar = _calendar_or_fail(calendars, calendar_dir)
    if jsonl:
        if accepted or limit is not None or pauses or extension:
            raise click.UsageError("--jsonl reads the cases from stdin; give no case options")
        run_jsonl(calendar, sys.stdin, sys.stdout)
        sys.stdout.flush()
        return
    if accepted is None or limit is None:
        raise click.UsageError("--accepted and --limit are required (or use --jsonl)")
    try:
        start = parse_day(accepted, "--accepted")
        parsed = [parse_pause(p) for p in pauses]
        due = due_date(calendar, start, limit, Unit.parse(unit), parsed, extension)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if as_json:
        click.echo(json.dumps(due.to_json()))
        return
    what = f"{limit}{'+' + str(extension) if extension else ''} {unit.upper()} after {start}"
    if due.day is None:
        click.echo(f"paused (暂停计时): no due date yet for {what}")
        return
    line = f"{due.day.isoformat()}  ({what})"
    if due.provisional:
        years = sorted(
            y for y in range(start.year, due.day.year + 1) if calendar.is_provisional_year(y)
        )
        line += f"  PROVISIONAL: no official calendar for {', '.join(map(str, years))}"
    click.echo(line)


@click.group("calendar")
def calendar_group() -> None:
    """Working-day calendar: check and load a year's arrangement (holiday-cn JSON)."""


@calendar_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--calendar-dir", type=click.Path(file_okay=False),
              help="compare against this folder's files as well as the package data")
@click.option("--json", "as_json", is_flag=True, help="print JSON lines")
def check_command(files: tuple[str, ...], calendar_dir: str | None, as_json: bool) -> None:
    """Validate holiday-cn FILES and show which dates they change; exit 1 on the first error."""
    current = _calendar_or_fail((), calendar_dir)
    for path in files:
        try:
            result = check_arrangement(path, current)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
            continue
        click.echo(
            f"{path}: OK, year {result.arrangement.year}: {result.holidays} holidays, "
            f"{result.working_weekend_days} working weekend days; replaces {result.replaces}"
        )
        for day, working in result.changed:
            click.echo(f"  {day} {day.strftime('%a')}: {'working' if working else 'off'}")


@calendar_group.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--calendar-dir", required=True, envvar="XIAONENG_CALENDAR_DIR",
              type=click.Path(file_okay=False), help="the hub's calendar folder")
def load_command(file: str, calendar_dir: str) -> None:
    """Validate FILE and install it as the hub's arrangement of its year."""
    try:
        check = check_arrangement(file, _calendar_or_fail((), calendar_dir))
        target = install_arrangement(file, calendar_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot install {file} into {calendar_dir}: {exc}") from None
    click.echo(
        f"installed {target} (year {check.arrangement.year}, {len(check.changed)} dates change); "
        "provisional deadlines are recomputed when the hub reloads its calendar"
    )


def main() -> None:  # pragma: no cover - manual use before hub.cli attaches the groups
    """``python -m hub.engine.clock_cli clock|calendar ...``."""

    @click.group()
    def root() -> None:
        """Clock and calendar commands."""

    root.add_command(clock_group)
    root.add_command(calendar_group)
    root(prog_name=os.path.basename(sys.argv[0]))


if __name__ == "__main__":  # pragma: no cover
    main()
