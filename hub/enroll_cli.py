"""``xiaoneng-hub enroll create|list|revoke|log``: one-time enrolment tokens (hub.enroll)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.enroll import TokenStore, hall_command, local_shown, parse_ttl
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
@click.option("--qr", "qr_target", default=None, metavar="FILE.png|FILE.svg|-",
              help="also write the hall command (hub address and token) as a QR code; - draws it in the terminal "
                   "(needs --hub-url)")
def enroll_create(data_dir: Path, site_id: str, agent_id: str, ttl: str, tls_cert: Path | None,
                  hub_url: str | None, reenrol: bool, qr_target: str | None) -> None:
    """签发一次性注册令牌 / Issue a single-use, expiring enrolment token."""
    from hub.enrolqr import SUFFIXES, terminal_qr, write_qr

    if qr_target is not None:
        if hub_url is None:
            raise click.ClickException("--qr 需要 --hub-url / --qr needs --hub-url: the QR code holds the whole "
                                       "command, the hub's address included")
        if qr_target != "-" and Path(qr_target).suffix.lower() not in SUFFIXES:
            raise click.ClickException(f"--qr {qr_target}: 文件名须以 .png 或 .svg 结尾 / the file must end in .png "
                                       "or .svg (or - for the terminal)")
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
    command = hall_command(hub_url or "https://HUB:8443", token.text(), reenrol)
    click.echo(f"在大厅电脑上 / on the hall machine:\n  {command}")
    if qr_target == "-":
        click.echo("二维码（内容为上面的命令）/ QR code of the command above:")
        click.echo(terminal_qr(command), nl=False)
    elif qr_target is not None:
        try:
            written = write_qr(command, Path(qr_target))
        except XiaonengError as exc:
            raise click.ClickException(f"二维码未写入（上面的令牌仍然有效）/ QR code not written (the token above is "
                                       f"valid): {exc}") from None
        click.echo(f"二维码（内容为上面的命令，与令牌一样须保密）/ QR code of the command above (keep it as secret as "
                   f"the token): {written.resolve()}")


@enroll_group.command("list")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def enroll_list(data_dir: Path) -> None:
    """未使用的令牌 / Tokens still usable (not used, revoked or expired); never the secrets."""
    tokens = TokenStore(data_dir / DB_FILE).outstanding()
    if not tokens:
        click.echo("没有未使用的令牌 / no outstanding tokens")
    for t in tokens:
        click.echo(f"{t.token_id}\t{t.site_id}\t{t.agent_id}\t{'re-enrol' if t.reenrol else 'new'}\t"
                   f"until {local_shown(t.expires_at)}")


@enroll_group.command("revoke")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.argument("token_id", type=int)
def enroll_revoke(data_dir: Path, token_id: int) -> None:
    """撤销未使用的令牌 / Revoke an unused token (its number from `enroll list`)."""
    try:
        token = TokenStore(data_dir / DB_FILE).revoke(token_id)
    except XiaonengError as exc:
        raise click.ClickException(f"失败 / failed: {exc}") from None
    click.echo(f"已撤销 / revoked: token {token.token_id} for agent {token.agent_id} (site {token.site_id})")


@enroll_group.command("log")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def enroll_log(data_dir: Path) -> None:
    """注册记录 / Every token issued and every enrolment attempt."""
    for at, address, agent, outcome, detail in TokenStore(data_dir / DB_FILE).audit_rows():
        click.echo(f"{at}\t{address}\t{agent or '-'}\t{outcome}\t{detail}")
