"""``xiaoneng-provision``: a thin click layer over the registry, identity and broker-file modules.

Every command that changes the registry rewrites ``DATA/broker/passwd`` and ``DATA/broker/acl`` and,
if ``DATA/broker/mosquitto.pid`` names a running Mosquitto, makes it reload them (SIGHUP).
Output is for people, Chinese first, English second; list commands take ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from provisioning import broker_files, ca, hubkey, identity
from provisioning.registry import Agent, Registry
from shared.errors import XiaonengError

DB_FILE = "hub.sqlite"

_data_option = click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Hub data directory (holds hub.sqlite and broker/).",
)
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of a table."
)


@click.group()
def main() -> None:
    """Register sites and agents, issue agent identities and broker credentials (登记与凭据)."""


@main.group()
def site() -> None:
    """Sites (站点): department halls."""


@main.group()
def agent() -> None:
    """Agents (代理): one per hall machine."""


@site.command("add")
@_data_option
@click.option("--id", "site_id", required=True, help="Site id: 1-64 of A-Za-z0-9_.-")
@click.option("--name", required=True, help="Human name, e.g. 市民政局办证大厅.")
def site_add(data_dir: Path, site_id: str, name: str) -> None:
    """Register a site."""
    with _errors():
        registry = _registry(data_dir, create=True)
        created = registry.add_site(site_id, name)
        click.echo(f"已创建站点 / site created: {created.site_id} ({created.name})")
        _refresh_broker(registry, data_dir)


@site.command("list")
@_data_option
@_json_option
def site_list(data_dir: Path, as_json: bool) -> None:
    """List sites."""
    with _errors():
        sites = _registry(data_dir).sites()
    if as_json:
        click.echo(json.dumps([vars(s) for s in sites], ensure_ascii=False, indent=2))
        return
    if not sites:
        click.echo("没有站点 / no sites")
    for s in sites:
        click.echo(f"{s.site_id}\t{s.name}\t{s.created_at}")


@agent.command("add")
@_data_option
@click.option("--site", "site_id", required=True, help="Id of a registered site.")
@click.option("--id", "agent_id", required=True, help="Agent id (also its broker username).")
@click.option("--name", default=None, help="Human name (defaults to the id).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write agent.key and agent.yaml into (must not hold a bundle).",
)
@click.option(
    "--broker-host", default="127.0.0.1", show_default=True, help="Broker address the agent uses."
)
@click.option("--broker-port", default=1883, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--tls", "use_tls", is_flag=True,
    help="Mutual TLS: write the hub CA, a client certificate and its key into the bundle "
    "(use the broker's TLS port, xiaoneng-hub run --mqtt-tls-port; --broker-host must be in its certificate).",
)
def agent_add(
    data_dir: Path,
    site_id: str,
    agent_id: str,
    name: str | None,
    out_dir: Path,
    broker_host: str,
    broker_port: int,
    use_tls: bool,
) -> None:
    """Register an agent: make its key pair and broker login (password, or a TLS client certificate
    with --tls), write its bundle. Better: let the hall machine make its own keys with a one-time
    token (xiaoneng-hub enroll create, then xiaoneng-agent enroll)."""
    with _errors():
        identity.check_output_dir(out_dir)  # before registering: the password is shown only once
        registry = _registry(data_dir, create=True)
        key = identity.generate_key()
        tls = None
        if use_tls:
            tls_key = ca.new_tls_key()
            cert = ca.client_cert(data_dir, tls_key.public_key(), agent_id)
            tls = identity.ClientTls(ca.ca_file(data_dir).read_bytes(), ca.cert_pem(cert), ca.key_pem(tls_key))
        password = registry.add_agent(agent_id, site_id, identity.public_key_bytes(key), name)
        if use_tls:
            registry.record_certificate(agent_id, cert.serial_number, cert.not_valid_after_utc)
        bundle = identity.write_bundle(
            out_dir,
            agent_id=agent_id,
            site_id=site_id,
            key=key,
            broker=identity.BrokerLogin(broker_host, broker_port, agent_id, password),
            hub_public_key=hubkey.hub_public_key(data_dir),
            tls=tls,
        )
        click.echo(f"已创建代理 / agent created: {agent_id} (site {site_id})")
        click.echo(f"身份文件 / identity bundle: {bundle.config_file}, {bundle.key_file}")
        _refresh_broker(registry, data_dir)


@agent.command("list")
@_data_option
@_json_option
@click.option("--active", is_flag=True, help="Only agents that are not revoked.")
def agent_list(data_dir: Path, as_json: bool, active: bool) -> None:
    """List agents (public keys in hex)."""
    with _errors():
        agents = _registry(data_dir).agents(include_revoked=not active)
    if as_json:
        click.echo(json.dumps([_agent_json(a) for a in agents], ensure_ascii=False, indent=2))
        return
    if not agents:
        click.echo("没有代理 / no agents")
    for a in agents:
        state = "有效 / active" if a.active else f"已吊销 / revoked {a.revoked_at}"
        click.echo(f"{a.agent_id}\t{a.site_id}\t{a.name}\t{state}")


@agent.command("revoke")
@_data_option
@click.option("--id", "agent_id", required=True, help="Agent id to revoke.")
def agent_revoke(data_dir: Path, agent_id: str) -> None:
    """Revoke an agent: its key stops verifying and its broker login is removed."""
    with _errors():
        registry = _registry(data_dir)
        revoked = registry.revoke(agent_id)
        click.echo(f"已吊销代理 / agent revoked: {revoked.agent_id} at {revoked.revoked_at}")
        _refresh_broker(registry, data_dir)


@main.command("broker-files")
@_data_option
def broker_files_command(data_dir: Path) -> None:
    """Rewrite DATA/broker/passwd and DATA/broker/acl from the registry (and reload the broker)."""
    with _errors():
        _refresh_broker(_registry(data_dir), data_dir)


def _registry(data_dir: Path, *, create: bool = False) -> Registry:
    db = data_dir / DB_FILE
    if not create and not db.exists():
        raise click.ClickException(
            f"{db} 不存在 / no registry at {db}; check --data, or create it with "
            "`xiaoneng-provision site add`"
        )
    if create:
        data_dir.mkdir(parents=True, exist_ok=True)
    return Registry(db)


def _refresh_broker(registry: Registry, data_dir: Path) -> None:
    directory = broker_files.broker_dir(data_dir)
    files = broker_files.write_broker_files(registry, directory)
    click.echo(f"已写入 / wrote: {files.password_file}, {files.acl_file}")
    pid = broker_files.reload_broker(directory / broker_files.PID_FILE)
    if pid is None:
        click.echo(
            "消息服务器未运行，下次启动时生效 / broker not running; files apply at its next start"
        )
    else:
        click.echo(f"已通知消息服务器重新加载 / broker reloaded (pid {pid})")


def _agent_json(a: Agent) -> dict[str, object]:
    return {
        "agent_id": a.agent_id,
        "site_id": a.site_id,
        "name": a.name,
        "public_key": a.public_key.hex(),
        "mqtt_username": a.mqtt_username,
        "created_at": a.created_at,
        "revoked_at": a.revoked_at,
        "active": a.active,
    }


class _errors:
    """Turn the product's errors into a click error (exit status 1, message on stderr)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, XiaonengError):
            raise click.ClickException(f"失败 / failed: {exc}") from exc
