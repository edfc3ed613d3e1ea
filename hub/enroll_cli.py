"""``xiaoneng-hub enroll create|list``: one-time enrolment tokens (hub.enroll)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.enroll import TokenStore, parse_ttl
from provisioning import ca
from provisioning.registry import Registry
from shared.errors import XiaonengError
from shared.timefmt import SHANGHAI

DB_FILE = "hub.sqlite"


@click.group("enroll")
def enroll_group() -> None:
    """代理注册令牌 / One-time enrolment tokens for new agents."""


@enroll_group.command("create")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="the hub's data directory")
@click.option("--site", "site_id", required=True, help="the site (hall) the agent belongs to")
@click.option("--agent", "agent_id", required=True, help="the new agent's id (its broker username)")
@click.option("--ttl", default="24h", show_default=True, help="how long the token stays valid (30m, 24h, 7d)")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the certificate the hub's enrolment port serves (default: DATA/web-tls/server.pem, "
                   "the --tls-self-issued one)")
@click.option("--hub-url", default=None, help="printed in the command for the hall machine, e.g. https://hub:8443")
@click.option("--reenrol", is_flag=True,
              help="for an existing agent whose certificate expired while offline (keeps its key and outbox)")
def enroll_create(data_dir: Path, site_id: str, agent_id: str, ttl: str, tls_cert: Path | None,
                  hub_url: str | None, reenrol: bool) -> None:
    """签发一次性注册令牌 / Issue a single-use, expiring enrolment token."""
    db = data_dir / DB_FILE
    if not db.exists():
        raise click.ClickException(f"{db} 不存在 / no hub data at {data_dir}: check --data")
    cert = tls_cert or data_dir / ca.CA_DIR / "server.pem"
    try:
        if not cert.exists():
            raise click.ClickException(
                f"{cert} 不存在 / the hub has no HTTPS certificate yet: start it once with --tls-self-issued "
                "and --enroll-port, or pass --tls-cert")
        registry = Registry(db)
        token, expires = TokenStore(db).create(site_id, agent_id, ca.leaf_fingerprint(cert), parse_ttl(ttl),
                                              registry=registry, reenrol=reenrol)
    except XiaonengError as exc:
        raise click.ClickException(f"失败 / failed: {exc}") from None
    until = expires.astimezone(SHANGHAI)  # times for people: local (Asia/Shanghai)
    click.echo(f"注册令牌 / enrolment token (agent {agent_id}, site {site_id}, "
               f"单次有效，{until:%Y-%m-%d %H:%M} 前 / single use, until {until:%Y-%m-%d %H:%M} +08:00):")
    click.echo(token.text())
    click.echo(f"在大厅电脑上 / on the hall machine:\n  xiaoneng-agent enroll --hub {hub_url or 'https://HUB:8443'} "
               f"--token {token.text()} --out /etc/xiaoneng-agent" + (" --again" if reenrol else ""))


@enroll_group.command("log")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def enroll_log(data_dir: Path) -> None:
    """注册记录 / Every token issued and every enrolment attempt."""
    for at, address, agent, outcome, detail in TokenStore(data_dir / DB_FILE).audit_rows():
        click.echo(f"{at}\t{address}\t{agent or '-'}\t{outcome}\t{detail}")
