"""``xiaoneng-hub report``: the monthly report of a hub's data directory as a file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from hub.reports import FORMATS, render
from hub.reports.data import build_report
from hub.supervision.service import engine_config
from shared.errors import ConfigError, XiaonengError


@click.command("report")
@click.argument("month")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="the hub's data directory")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="pdf", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="file to write")
@click.option("--dept", default=None, help="one department's report (its code)")
@click.option("--city", default=None, help="the city's name in the title and the PDF metadata (default 全市)")
def report_command(month: str, data_dir: Path, fmt: str, output: Path, dept: str | None, city: str | None) -> None:
    """月报 / The monthly report MONTH (YYYY-MM) as PDF, Excel or HTML."""
    path = data_dir / "hub.sqlite"
    if not path.exists():
        raise click.ClickException(f"{path} does not exist: is --data the hub's data directory?")
    try:
        config = engine_config(data_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.execute("PRAGMA busy_timeout=10000")
    try:
        report = build_report(conn, month, config, dept, city=city)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="MONTH") from None
    finally:
        conn.close()
    if report is None:
        raise click.ClickException(f"no supervision data for {month} in {path}")
    try:
        data = render(fmt, report)
    except XiaonengError as exc:  # e.g. no embeddable Chinese font for the PDF: says which package
        raise click.ClickException(str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    totals = report["totals"]
    click.echo(f"{output}: {fmt}, {len(data)} bytes — {month}: 受理 {totals['accepted']}, "
               f"办结 {totals['completed']}, 超期 {totals['overdue']}")
