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


#: Tables the supervision derives from the stored records (rebuilt by ``rejudge``).
DERIVED_TABLES = ("cases", "cases_fts", "case_events", "sup_subject_events", "case_ratings", "complaints",
                  "disclosures", "sup_daily", "sup_status", "sup_errors")  # fmt: skip


def rejudge_store(database: Path) -> tuple[int, int]:
    """Reset the supervision of a stopped hub's store so that its next start judges every stored
    record again under the current rules (DOMAIN.md §4 as revised: history closed as recorded,
    督办 from the hub's date, no retroactive reminder). The records and ledger are untouched;
    cards a person acted on are kept as they are (with their audit rows), every other card is
    decided again. Returns (cards kept, cards removed)."""
    from hub.supervision.schema import connect, ensure_schema

    conn = connect(database)
    try:
        ensure_schema(conn)
        with conn:
            kept = conn.execute(
                "SELECT COUNT(*) FROM cards WHERE card_id IN "
                "(SELECT card_id FROM card_actions WHERE actor != 'system')").fetchone()[0]
            removed = conn.execute(
                "DELETE FROM cards WHERE card_id NOT IN "
                "(SELECT card_id FROM card_actions WHERE actor != 'system')").rowcount
            conn.execute("DELETE FROM card_actions WHERE card_id NOT IN (SELECT card_id FROM cards)")
            for table in DERIVED_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("DELETE FROM sup_state")
    finally:
        conn.close()
    return int(kept), int(removed)


@click.command("rejudge")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="the (stopped) hub's data directory")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def rejudge_command(data_dir: Path, yes: bool) -> None:
    """Bring a store written by an older hub to today's card rules: the next start judges every
    stored record again (like a first import), keeping cards people acted on. Stop the hub first."""
    from provisioning.broker_files import running_broker_pid

    database = data_dir / "hub.sqlite"
    if not database.exists():
        raise click.ClickException(f"no hub store at {database}")
    if running_broker_pid(data_dir / "broker" / "mosquitto.pid") is not None:
        raise click.ClickException("the hub in this data directory is running: stop it first "
                                   "(systemctl stop xiaoneng-hub, or Ctrl-C)")
    if not yes:
        click.confirm(f"re-judge every record of {database}? cards nobody acted on are decided anew", abort=True)
    kept, removed = rejudge_store(database)
    click.echo(f"重新研判已就绪 / ready to re-judge: {removed} cards will be decided again, {kept} cards "
               "people acted on are kept; start the hub to judge the stored records (watch 历史导入完成)")
