"""``xiaoneng-hub calendar load FILE --data DIR``: install a year's arrangement into a hub.

It replaces the engine's ``calendar load`` (which takes ``--calendar-dir``) by one that also
accepts the hub's data directory: the file goes to ``DIR/calendar/<year>.json``, where the
running hub's supervision service notices it within seconds and recomputes provisional deadlines.
"""

from __future__ import annotations

from pathlib import Path

import click

from hub.engine.clock_cli import build_calendar, check_arrangement, install_arrangement
from hub.supervision.service import CALENDAR_DIR
from shared.errors import ConfigError


@click.command("load")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="the hub's data directory (the file goes to DIR/calendar/)")
@click.option("--calendar-dir", envvar="XIAONENG_CALENDAR_DIR", type=click.Path(file_okay=False, path_type=Path),
              help="a calendar folder (instead of --data)")
def load_command(file: str, data_dir: Path | None, calendar_dir: Path | None) -> None:
    """Validate FILE (holiday-cn JSON) and install it as the hub's arrangement of its year."""
    if (data_dir is None) == (calendar_dir is None):
        raise click.UsageError("give either --data DIR (the hub's data directory) or --calendar-dir DIR")
    folder = calendar_dir if calendar_dir is not None else data_dir / CALENDAR_DIR  # type: ignore[operator]
    try:
        check = check_arrangement(file, build_calendar(directory=folder))
        target = install_arrangement(file, folder)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot install {file} into {folder}: {exc}") from None
    click.echo(f"installed {target} (year {check.arrangement.year}, {len(check.changed)} dates change); "
               "a running hub reloads it within seconds and recomputes provisional deadlines")
