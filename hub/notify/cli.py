"""``xiaoneng-hub notify``: check the configuration, see the outbox, set contacts, retry.

    xiaoneng-hub notify check   --data DIR          validate DATA/notify.yaml (exit 1 with the reason)
    xiaoneng-hub notify status  --data DIR          outbox rows by state, the latest failures
    xiaoneng-hub notify contact USER --email ADDR --phone NUMBER --data DIR
    xiaoneng-hub notify retry   --data DIR          rows that gave up go back to pending (after a fix)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from hub.auth.errors import AuthError
from hub.auth.users import set_contact
from hub.engine.clock_cli import build_calendar
from hub.notify import outbox
from hub.notify.config import CONFIG_FILE, load_config
from hub.notify.monthly import first_workday, sent_months
from hub.notify.recipients import named_people
from hub.notify.schema import connect, ensure_schema
from shared.errors import ConfigError

DATA = click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                    help="the hub's data directory")  # fmt: skip


def _database(data_dir: Path) -> Path:
    path = data_dir / "hub.sqlite"
    if not path.exists():
        raise click.ClickException(f"{path} does not exist: is --data the hub's data directory?")
    return path


@click.group("notify")
def notify_group() -> None:
    """通知 / Notifications: e-mail, SMS, the inbox and the monthly report."""


@notify_group.command("check")
@DATA
def check_command(data_dir: Path) -> None:
    """Validate DATA/notify.yaml and say what the hub will send."""
    try:
        config = load_config(data_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    path = data_dir / CONFIG_FILE
    click.echo(f"{path}: {'ok' if path.exists() else 'absent (the UI inbox only)'}")
    click.echo(f"channels: {', '.join(sorted(config.channels))}")
    monthly = config.monthly_report
    if monthly.leaders or monthly.emails:
        db = data_dir / "hub.sqlite"
        known: set[str] = set()
        if db.exists():
            conn = connect(db)
            try:
                ensure_schema(conn)
                known = {p.username for p in named_people(conn, monthly.leaders)}
            finally:
                conn.close()
        missing = sorted(set(monthly.leaders) - known)
        today = datetime.now(UTC).date()
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        nxt = first_workday(build_calendar(directory=data_dir / "calendar"), year, month)
        click.echo(f"monthly report: leaders {', '.join(monthly.leaders) or '-'}, e-mails "
                   f"{', '.join(monthly.emails) or '-'}; next on {nxt} at {monthly.send_at}")  # fmt: skip
        if missing:
            raise click.ClickException(f"monthly_report.leaders names no enabled user: {', '.join(missing)}")


@notify_group.command("status")
@DATA
@click.option("--failures", default=10, show_default=True, help="how many recent failures to list")
def status_command(data_dir: Path, failures: int) -> None:
    """Outbox rows by state and the most recent failures."""
    conn = connect(_database(data_dir))
    try:
        ensure_schema(conn)
        counts = outbox.counts(conn)
        click.echo(" ".join(f"{state} {counts.get(state, 0)}" for state in ("pending", "sent", "gave_up")))
        rows = conn.execute(
            "SELECT o.id, o.channel, o.recipient, o.state, o.attempts, o.last_error, m.key FROM notify_outbox o "
            "JOIN notify_messages m ON m.id = o.message_id WHERE o.last_error IS NOT NULL ORDER BY o.id DESC LIMIT ?",
            (failures,)).fetchall()  # fmt: skip
        for r in rows:
            click.echo(f"#{r['id']} {r['state']} {r['channel']}:{r['recipient']} ({r['key']}, "
                       f"{r['attempts']} attempts): {r['last_error']}")  # fmt: skip
        months = sorted(sent_months(conn))
        click.echo(f"monthly reports sent: {', '.join(months) or '-'}")
    finally:
        conn.close()


@notify_group.command("contact")
@click.argument("username")
@click.option("--email", default=None, help="e-mail address ('' clears it)")
@click.option("--phone", default=None, help="mobile number ('' clears it)")
@DATA
def contact_command(username: str, email: str | None, phone: str | None, data_dir: Path) -> None:
    """Set a user's e-mail address and mobile number (the settings page does the same)."""
    from hub.auth.users import get_contact

    conn = connect(_database(data_dir))
    try:
        ensure_schema(conn)
        current = get_contact(conn, username)
        contact = set_contact(conn, username, current.email if email is None else email,
                              current.phone if phone is None else phone)  # fmt: skip
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(f"{username}: e-mail {contact.email or '-'}, phone {contact.phone or '-'}")


@notify_group.command("retry")
@DATA
def retry_command(data_dir: Path) -> None:
    """Send the rows that gave up again (after fixing notify.yaml or an address)."""
    conn = connect(_database(data_dir))
    try:
        ensure_schema(conn)
        now = outbox.stamp(datetime.now(UTC))
        with conn:
            cur = conn.execute("UPDATE notify_outbox SET state = 'pending', attempts = 0, next_attempt_at = ? "
                               "WHERE state = 'gave_up'", (now,))  # fmt: skip
    finally:
        conn.close()
    click.echo(f"{cur.rowcount} rows back to pending; the running hub sends them within seconds")
