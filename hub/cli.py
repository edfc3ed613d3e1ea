"""``xiaoneng-hub``: run the hub, verify its store, list agents and quarantine."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import click

from hub.desk import DESK_AGENT
from shared.errors import XiaonengError
from shared.logs import setup_logging


@click.group()
def main() -> None:
    """效能中心 / Xiaoneng hub."""


def _data_option(f: Any) -> Any:
    return click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                        help="the hub's data directory")(f)


@main.command()
@_data_option
@click.option("--broker", type=click.Choice(["embedded", "external"]), default="embedded", show_default=True,
              help="start our own Mosquitto (embedded) or use a running one")
@click.option("--mqtt-host", default="127.0.0.1", show_default=True)
@click.option("--mqtt-port", default=1884, show_default=True, type=int)
@click.option("--mqtt-username", default=None, help="external broker login (default: the hub's own)")
@click.option("--mqtt-password", default=None, envvar="XN_MQTT_PASSWORD")
@click.option("--http-host", default="127.0.0.1", show_default=True, help="web UI address")
@click.option("--http-port", default=8080, show_default=True, type=int, help="web UI port (0: none)")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="serve the web UI over HTTPS with this PEM certificate (chain) ...")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="... and its unencrypted PEM private key")
@click.option("--tls-self-issued", is_flag=True,
              help="HTTPS with a certificate from the hub's own CA (DATA/web-tls/ca.pem: import it into the browsers)")
@click.option("--tls-name", "tls_names", multiple=True,
              help="a host name or IP the self-issued certificate covers (repeat; default: localhost, 127.0.0.1,"
                   " this host's name, --http-host)")
@click.option("--trust-proxy", is_flag=True,
              help="take the client address and scheme from X-Forwarded-For/-Proto of the reverse proxy")
@click.option("--proxy-address", "proxy_addresses", multiple=True,
              help="the reverse proxy's address or network (repeat; default: 127.0.0.1 and ::1)")
@click.option("--mqtt-tls-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="the agents' broker port: mutual TLS with certificates of the hub CA, e.g. 8883 (0: none)")
@click.option("--mqtt-tls-host", default="0.0.0.0", show_default=True,  # noqa: S104 - certificates only
              help="address of the agents' TLS listener")
@click.option("--broker-name", "broker_names", multiple=True,
              help="a host name or IP agents use for the broker, put in its certificate (repeat; default: as "
                   "--tls-name)")
@click.option("--enroll-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="HTTPS port for `xiaoneng-agent enroll`, e.g. 8443 (0: none; needs HTTPS and --mqtt-tls-port)")
@click.option("--enroll-host", default="0.0.0.0", show_default=True,  # noqa: S104 - the token is the credential
              help="address of the enrolment port")
@click.option("--name", default="xiaoneng-hub", show_default=True, help="checkpoint origin name")
@click.option("--supervision/--no-supervision", default=True, show_default=True,
              help="run the supervision engine here (off: an ingest-only worker)")
@click.option("--log-level", default="INFO", show_default=True)
@click.option("--allow-rollback", is_flag=True,
              help="start even if the store is behind the newest checkpoint this hub published "
                   "(DATA/witness/published.json): only after investigating, see docs/ledger.md")
def run(data_dir: Path, broker: str, mqtt_host: str, mqtt_port: int, mqtt_username: str | None,
        mqtt_password: str | None, http_host: str, http_port: int, tls_cert: Path | None, tls_key: Path | None,
        tls_self_issued: bool, tls_names: tuple[str, ...], trust_proxy: bool, proxy_addresses: tuple[str, ...],
        mqtt_tls_port: int, mqtt_tls_host: str, broker_names: tuple[str, ...], enroll_port: int, enroll_host: str,
        name: str, supervision: bool, log_level: str, allow_rollback: bool) -> None:
    """运行中心 / Run the hub (and its broker) until SIGTERM or Ctrl-C."""
    from hub.runtime import Hub, HubOptions
    from hub.service import IngestConfig

    setup_logging(log_level)
    try:
        web = _web_options(data_dir, http_host, tls_cert, tls_key, tls_self_issued, tls_names, trust_proxy,
                           proxy_addresses)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None
    options = HubOptions(
        data_dir=data_dir, embedded_broker=broker == "embedded", mqtt_host=mqtt_host, mqtt_port=mqtt_port,
        mqtt_username=mqtt_username, mqtt_password=mqtt_password, name=name,
        ingest=IngestConfig(origin=name), http_host=http_host, http_port=http_port or None,
        supervision=supervision, allow_rollback=allow_rollback, web=web,
        mqtt_tls_port=mqtt_tls_port or None, mqtt_tls_host=mqtt_tls_host,
        broker_names=broker_names or tls_names, enroll_port=enroll_port or None, enroll_host=enroll_host,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        hub = Hub(options)
        hub.start()
    except (XiaonengError, ConnectionError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        stop.wait()
    finally:
        hub.stop()


def _web_options(data_dir: Path, http_host: str, tls_cert: Path | None, tls_key: Path | None, self_issued: bool,
                 tls_names: tuple[str, ...], trust_proxy: bool, proxy_addresses: tuple[str, ...]) -> Any:
    """``run``'s HTTPS and reverse-proxy options as :class:`hub.webserver.WebOptions` (checked)."""
    from hub.web.proxy import LOOPBACK, parse_networks
    from hub.webserver import WebOptions
    from hub.webtls import TlsFiles, check_tls_files, default_names
    from hub.webtls import self_issued as issue

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if self_issued and tls_cert is not None:
        raise click.UsageError("choose --tls-cert/--tls-key or --tls-self-issued, not both")
    if tls_names and not self_issued:
        raise click.UsageError("--tls-name names what a --tls-self-issued certificate covers")
    if proxy_addresses and not trust_proxy:
        raise click.UsageError("--proxy-address needs --trust-proxy")
    tls = None
    if tls_cert is not None and tls_key is not None:
        tls = TlsFiles(tls_cert, tls_key)
        check_tls_files(tls)
    elif self_issued:
        data_dir.mkdir(parents=True, exist_ok=True)
        tls = issue(data_dir, list(tls_names) or default_names(http_host))
    networks = ",".join(proxy_addresses) if proxy_addresses else LOOPBACK
    parse_networks(networks, "--proxy-address")
    return WebOptions(tls=tls, trust_proxy=trust_proxy, proxy_networks=networks)


def _db(data_dir: Path) -> sqlite3.Connection:
    from hub.runtime import DB_FILE

    path = data_dir / DB_FILE
    if not path.exists():
        raise click.ClickException(f"{path} does not exist: is --data the hub's data directory?")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _hub_public_key(data_dir: Path) -> Any:
    """The hub's Ed25519 public key from DATA/hub.key, or None when there is none."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from provisioning.hubkey import KEY_FILE

    key_path = data_dir / KEY_FILE
    if key_path.exists():
        private = load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(private, Ed25519PrivateKey):
            return private.public_key()
    return None


@main.command()
@_data_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--witness", "witness", type=click.Path(exists=True, path_type=Path), multiple=True,
              help="also check the store against checkpoints kept elsewhere: a file from "
                   "`checkpoint export` or a directory of them (repeatable)")
def verify(data_dir: Path, as_json: bool, witness: tuple[Path, ...]) -> None:
    """校验账本 / Re-check signatures, chains and the Merkle tree over the whole store."""
    from hub.verify import verify_store, verify_witnesses

    conn = _db(data_dir)
    keys = {str(a): bytes(k) for a, k in conn.execute("SELECT agent_id, public_key FROM agents")}
    hub_key = _hub_public_key(data_dir)
    report = verify_store(conn, keys.get, hub_key)
    for path in witness:
        verify_witnesses(conn, path, hub_key, report)
    conn.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        click.echo(f"记录 records {report.records}, 流 streams {report.streams}, 批次 batches {report.batches}, "
                   f"检查点 checkpoints {report.checkpoints}, 节点 nodes {report.nodes_checked}"
                   + (f", 见证 witnesses {report.witnesses}" if witness else ""))
        for problem in report.problems:
            click.echo(f"  ✗ {problem}")
        click.echo("校验通过 / verified: no tampering found" if report.ok
                   else f"校验失败 / FAILED: {len(report.problems)} problem(s)")
    sys.exit(0 if report.ok else 1)


@main.group()
def checkpoint() -> None:
    """账本检查点 / The ledger's signed checkpoints."""


@checkpoint.command("export")
@_data_option
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="write the newest signed checkpoint here (keep it off this machine)")
def checkpoint_export(data_dir: Path, output: Path) -> None:
    """导出检查点 / Export the newest signed checkpoint, for `verify --witness` later."""
    from hub.ledger_service import latest_checkpoint
    from hub.witness import write_checkpoint_file

    conn = _db(data_dir)
    try:
        cp = latest_checkpoint(conn)
    finally:
        conn.close()
    if cp is None:
        raise click.ClickException("the hub has not signed a checkpoint yet (it signs every 10 s while it runs)")
    write_checkpoint_file(output, cp)
    click.echo(f"已导出检查点 / exported: {output} (size {cp.size}, root {cp.root.hex()[:16]}…, {cp.timestamp})")


@checkpoint.command("key")
@_data_option
def checkpoint_key(data_dir: Path) -> None:
    """中心公钥 / Print the hub's public key (agents' hub_public_key; xiaoneng-verify-evidence --hub-key)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from shared.evidence import fingerprint

    key = _hub_public_key(data_dir)
    if key is None:
        raise click.ClickException(f"{data_dir}/hub.key does not exist: the hub has not been set up here")
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    click.echo(raw.hex())
    click.echo(f"指纹 / fingerprint {fingerprint(raw)}", err=True)


@main.command()
@_data_option
@click.argument("case_id")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the evidence package to write (.zip)")
def evidence(data_dir: Path, case_id: str, output: Path) -> None:
    """证据包 / Export a case's evidence package (check it with xiaoneng-verify-evidence)."""
    from hub.evidence import EvidenceError, build_package

    conn = _db(data_dir)
    try:
        data = build_package(conn, data_dir, case_id)
    except EvidenceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    output.write_bytes(data)
    click.echo(f"已导出证据包 / evidence package written: {output} ({len(data)} bytes); "
               f"校验 / check it with: xiaoneng-verify-evidence {output}")


@main.command()
@_data_option
@click.option("--json", "as_json", is_flag=True)
def agents(data_dir: Path, as_json: bool) -> None:
    """代理与链路 / Agents and their link state."""
    conn = _db(data_dir)
    rows = conn.execute(
        "SELECT a.agent_id, a.site_id, a.revoked_at, l.online, l.status_at, l.last_heartbeat_at, l.rtt_ms, "
        "l.reconnects, l.outbox_depth, l.oldest_unacked_s, l.acked_seq, "
        "(SELECT COUNT(*) FROM records r WHERE r.agent_id = a.agent_id), "
        "(SELECT COUNT(*) FROM quarantine q WHERE q.agent_id = a.agent_id) "
        "FROM agents a LEFT JOIN agent_link l USING (agent_id) WHERE a.agent_id != ? "  # the desk has no link
        "ORDER BY COALESCE(l.online, 0), a.agent_id", (DESK_AGENT,)
    ).fetchall() if _has_table(conn, "agent_link") else []
    conn.close()
    keys = ["agent", "site", "revoked_at", "online", "status_at", "last_heartbeat_at", "rtt_ms", "reconnects",
            "outbox_depth", "oldest_unacked_s", "acked_seq", "records", "quarantined"]
    items = [dict(zip(keys, row)) for row in rows]
    for item in items:
        item["online"] = bool(item["online"])
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False))
        return
    click.echo(f"{'代理 agent':16} {'状态 state':10} {'RTT':>6} {'重连':>4} {'积压 depth':>10} {'最旧 oldest':>11} "
               f"{'记录 records':>12} {'隔离':>4}  最后心跳 last heartbeat")
    for i in items:
        state = "吊销 revoked" if i["revoked_at"] else ("在线 online" if i["online"] else "离线 offline")
        click.echo(f"{i['agent']:16} {state:10} {_n(i['rtt_ms']):>6} {_n(i['reconnects']):>4} "
                   f"{_n(i['outbox_depth']):>10} {_n(i['oldest_unacked_s']):>11} {i['records']:>12} "
                   f"{i['quarantined']:>4}  {i['last_heartbeat_at'] or '-'}")


@main.command()
@_data_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
def quarantine(data_dir: Path, as_json: bool, limit: int) -> None:
    """隔离区 / What the hub rejected, and why."""
    conn = _db(data_dir)
    rows = conn.execute(
        "SELECT id, received_at, agent_id, reason, detail, size FROM quarantine ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    conn.close()
    items = [dict(zip(["id", "received_at", "agent", "reason", "detail", "size"], r)) for r in rows]
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False))
        return
    for i in items:
        click.echo(f"#{i['id']} {i['received_at']} {i['agent'] or '?':14} {i['reason']:18} {i['detail']}")


@main.group()
def user() -> None:
    """用户 / Web UI users."""


@user.command("add")
@_data_option
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "monitor", "leader", "telecom", "department"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, envvar="XN_USER_PASSWORD")
@click.option("--display-name", default=None)
@click.option("--dept-code", default=None, help="department users: the department they belong to")
def user_add(data_dir: Path, username: str, role: str, password: str, display_name: str | None,
             dept_code: str | None) -> None:
    """新建用户 / Create a web UI user."""
    from hub.auth import connect, create_user, ensure_schema
    from hub.auth.audit import audit
    from hub.auth.errors import AuthError

    data_dir.mkdir(parents=True, exist_ok=True)
    conn = connect(data_dir / "hub.sqlite")
    try:
        ensure_schema(conn)
        create_user(conn, username, password, role, display_name=display_name or username, dept_code=dept_code)
        audit(conn, "cli", "user.create", username, {"role": role})
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(f"已创建用户 / user created: {username} ({role})")


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def _n(value: Any) -> str:
    return "-" if value is None else str(value)


def _attach_engine_commands() -> None:
    from hub.engine.clock_cli import calendar_group, clock_group

    main.add_command(clock_group, "clock")
    main.add_command(calendar_group, "calendar")


_attach_engine_commands()


def _attach_supervision_commands() -> None:
    """``report`` (monthly report files) and ``calendar load --data`` (owned by hub.supervision)."""
    from hub.engine.clock_cli import calendar_group
    from hub.reports.cli import report_command
    from hub.supervision.cli import load_command, rejudge_command

    calendar = click.Group("calendar", help=calendar_group.help)
    for name, command in calendar_group.commands.items():
        calendar.add_command(command, name)
    calendar.add_command(load_command, "load")
    main.add_command(calendar, "calendar")
    main.add_command(report_command, "report")
    supervision = click.Group("supervision", help="the supervision's own tables (cards, cases, figures)")
    supervision.add_command(rejudge_command, "rejudge")
    main.add_command(supervision, "supervision")


_attach_supervision_commands()


def _attach_notify_commands() -> None:
    """``notify check|status|contact|retry`` (owned by hub.notify)."""
    from hub.notify.cli import notify_group

    main.add_command(notify_group, "notify")


_attach_notify_commands()


def _attach_enroll_commands() -> None:
    """``enroll create|log`` (owned by hub.enroll_cli)."""
    from hub.enroll_cli import enroll_group

    main.add_command(enroll_group, "enroll")


_attach_enroll_commands()


def _attach_config_commands() -> None:
    """``config push|log`` (owned by hub.configpush)."""
    from hub.configpush import config_group

    main.add_command(config_group, "config")


_attach_config_commands()


def _attach_publish_command() -> None:
    """``publish MONTH`` (外网公布, owned by hub.publish)."""
    from hub.publish import publish_command

    main.add_command(publish_command, "publish")


_attach_publish_command()


def _attach_catalogue_commands() -> None:
    """``catalogue import|export|show|sample`` (事项目录, owned by hub.catalogue.cli)."""
    from hub.catalogue.cli import catalogue_group

    main.add_command(catalogue_group, "catalogue")


_attach_catalogue_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
