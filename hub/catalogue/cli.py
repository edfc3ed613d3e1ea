"""``xiaoneng-hub catalogue import|export|show|sample``: the item catalogue from the command line.

``import FILE --data DIR`` validates a CSV / Excel file and writes it as the next version (the
audit log records the import as user ``cli``); ``export --format csv|xlsx -o FILE``; ``show``
lists the current version (or ``--version N``, ``--history``); ``sample -o FILE`` writes the
simulator's catalogue for the demo.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from pathlib import Path

import click

from hub.catalogue import store
from hub.catalogue.files import FORMATS, format_of, read_file, write_file
from hub.catalogue.model import CatalogueError


def _data_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                        help="the hub's data directory")(f)


def _open(data_dir: Path, *, create: bool = False) -> sqlite3.Connection:
    from hub.runtime import DB_FILE
    from hub.supervision.schema import connect

    path = data_dir / DB_FILE
    if not path.exists() and not create:
        raise click.ClickException(f"{path} does not exist: is --data the hub's data directory?")
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    store.ensure_schema(conn)
    return conn


@click.group("catalogue")
def catalogue_group() -> None:
    """事项目录 / the item catalogue: import, export, show, sample."""


@catalogue_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_data_option
@click.option("--note", default="", help="a note kept with the new version")
def import_command(file: Path, data_dir: Path, note: str) -> None:
    """Validate FILE (.csv or .xlsx) and make it the current catalogue version."""
    from hub.auth.audit import audit
    from hub.auth.clock import iso, utcnow
    from hub.auth.schema import ensure_schema as ensure_auth

    try:
        new_items = read_file(file.name, file.read_bytes())
    except CatalogueError as exc:
        raise click.ClickException(f"{file}:\n{exc}") from None
    conn = _open(data_dir, create=True)
    try:
        ensure_auth(conn)
        version = store.save_version(conn, new_items, username="cli", source="import",
                                     note=note or file.name, at=iso(utcnow()))  # fmt: skip
        audit(conn, "cli", "catalogue.import", f"v{version.version}",
              {"file": file.name, "items": len(new_items), "note": note})  # fmt: skip
    finally:
        conn.close()
    click.echo(f"imported {len(new_items)} items from {file} as catalogue version {version.version}")


@catalogue_group.command("export")
@_data_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="file format (default: from the file name)")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", type=int, default=None, help="an older version (default: current)")
def export_command(data_dir: Path, fmt: str | None, output: Path, version: int | None) -> None:
    """Write the current (or an older) catalogue version to a CSV or Excel file."""
    try:
        fmt = fmt or format_of(output.name)
    except CatalogueError as exc:
        raise click.UsageError(f"{exc} (or give --format)") from None
    conn = _open(data_dir)
    try:
        chosen = store.current_version(conn) if version is None else store.get_version(conn, version)
        if chosen is None:
            raise click.ClickException("no such catalogue version: import a catalogue first "
                                       "(xiaoneng-hub catalogue import FILE --data DIR)")
        found = store.items(conn, chosen.version)
    finally:
        conn.close()
    output.write_bytes(write_file(found, fmt))
    click.echo(f"wrote {len(found)} items of catalogue version {chosen.version} to {output}")


@catalogue_group.command("show")
@_data_option
@click.option("--version", "version", type=int, default=None, help="an older version (default: current)")
@click.option("--history", is_flag=True, help="list the versions instead of the items")
@click.option("--json", "as_json", is_flag=True)
def show_command(data_dir: Path, version: int | None, history: bool, as_json: bool) -> None:
    """List the items of the current catalogue version (or the versions with --history)."""
    conn = _open(data_dir)
    try:
        if history:
            rows = [asdict(v) for v in store.versions(conn)]
            if as_json:
                click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
            for r in rows if not as_json else []:
                click.echo(f"v{r['version']}  {r['created_at']}  {r['username']}  {r['source']}  "
                           f"{r['items']} items  {r['note']}")  # fmt: skip
            return
        chosen = store.current_version(conn) if version is None else store.get_version(conn, version)
        if chosen is None:
            raise click.ClickException("no catalogue yet: xiaoneng-hub catalogue import FILE --data DIR")
        found = store.items(conn, chosen.version)
    finally:
        conn.close()
    if as_json:
        click.echo(json.dumps({"version": chosen.version, "items": [i.row() for i in found]},
                              ensure_ascii=False, indent=1))  # fmt: skip
        return
    click.echo(f"catalogue version {chosen.version} ({chosen.created_at}, {chosen.username}, {chosen.source}): "
               f"{len(found)} items")  # fmt: skip
    for i in found:
        click.echo(f"{i.item_code}  {i.dept_code:<8} 法定 {i.statutory.label():<8} 承诺 {i.promised.label():<8} "
                   f"{i.fee_fen / 100:>8.2f} 元  {i.item_name}")  # fmt: skip


@catalogue_group.command("sample")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="file format (default: from the file name)")
@click.option("--seed", default=1, show_default=True, help="the simulator's seed (make demo uses 1)")
def sample_command(output: Path, fmt: str | None, seed: int) -> None:
    """Write the simulator's item catalogue (the demo's items) as a catalogue file."""
    from hub.catalogue.sample import sample_items

    try:
        fmt = fmt or format_of(output.name)
    except CatalogueError as exc:
        raise click.UsageError(f"{exc} (or give --format)") from None
    found = sample_items(seed)
    output.write_bytes(write_file(found, fmt))
    click.echo(f"wrote {len(found)} items to {output}")
