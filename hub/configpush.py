"""Configuration bundles pushed to agents, signed with the hub's key (``xiaoneng-hub config push``).

The hub signs a :class:`~shared.configbundle.ConfigBundle` with ``DATA/hub.key`` and publishes it,
retained and at QoS 1, on ``xn/v1/agents/{id}/config`` of every target agent (one agent, or every
active agent of a site), so an agent that is offline gets it when it reconnects. The version pushed
to each agent is kept in ``config_pushes`` (the devices page compares it with the version the
agent's heartbeat reports: a difference is *drift*), and every push in ``config_push_log``.
See docs/agent.md, "Configuration pushed from the hub".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hub.desk import DESK_AGENT
from shared import topics
from shared.configbundle import MAX_BUNDLE_BYTES, ConfigBundle, sign_bundle
from shared.errors import ConfigError, XiaonengError

DB_FILE = "hub.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS config_pushes (
    agent_id TEXT PRIMARY KEY, version INTEGER NOT NULL, digest TEXT NOT NULL, pushed_at TEXT NOT NULL,
    target TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS config_push_log (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, target TEXT NOT NULL, version INTEGER NOT NULL,
    digest TEXT NOT NULL, agents TEXT NOT NULL, files TEXT NOT NULL
);
"""

#: ``publish(topic, payload)``: publishes retained at QoS 1 and returns once the broker has it.
Publisher = Callable[[str, bytes], None]


@dataclass(frozen=True)
class PushResult:
    target: str
    version: int
    digest: str
    agents: list[str]


def _connect(db: Path) -> sqlite3.Connection:
    if not db.exists():
        raise ConfigError(f"{db} 不存在 / no hub data there: check --data")
    conn = sqlite3.connect(db, timeout=30)
    conn.executescript(SCHEMA)
    return conn


def target_agents(db: Path, kind: str, target_id: str) -> list[str]:
    """The active agents a push to ``kind`` (``agent``/``site``) ``target_id`` reaches (never the hub's own
    desk: it runs inside the hub and takes no configuration)."""
    if kind == "agent" and target_id == DESK_AGENT:
        raise ConfigError(f"{DESK_AGENT} is the hub's own desk (受理台), not an agent: it takes no configuration")
    with closing(_connect(db)) as conn:
        where = "agent_id = ?" if kind == "agent" else "site_id = ?"
        rows = conn.execute(f"SELECT agent_id FROM agents WHERE {where} AND revoked_at IS NULL AND agent_id != ? "
                            "ORDER BY agent_id", (target_id, DESK_AGENT)).fetchall()
    if not rows:
        raise ConfigError(f"no active agent {target_id!r} is registered" if kind == "agent" else
                          f"site {target_id!r} has no active agent")
    return [str(r[0]) for r in rows]


def next_version(db: Path, agents: list[str]) -> int:
    """One more than any version pushed to, or reported applied by, these agents."""
    marks = ",".join("?" * len(agents))
    with closing(_connect(db)) as conn:
        pushed = conn.execute(f"SELECT MAX(version) FROM config_pushes WHERE agent_id IN ({marks})",
                              agents).fetchone()[0]
        try:
            applied = conn.execute(f"SELECT MAX(config_version) FROM agent_link WHERE agent_id IN ({marks})",
                                   agents).fetchone()[0]
        except sqlite3.OperationalError:  # a hub that never ran: no agent_link yet
            applied = None
    return max(int(pushed or 0), int(applied or 0)) + 1


def read_files(paths: list[Path]) -> dict[str, str]:
    """The bundle's files by base name (names must be distinct)."""
    files: dict[str, str] = {}
    for path in paths:
        if path.name in files:
            raise ConfigError(f"two files are named {path.name}: a bundle holds one file per name")
        try:
            files[path.name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
    return files


def push(data_dir: Path, kind: str, target_id: str, files: dict[str, str], publish: Publisher,
         version: int | None = None, now: datetime | None = None) -> PushResult:
    """Sign the bundle and publish it to every target agent; record the push (raises XiaonengError)."""
    from provisioning.hubkey import KEY_FILE, load_or_create_key

    db = data_dir / DB_FILE
    agents = target_agents(db, kind, target_id)
    floor = next_version(db, agents)
    if version is None:
        version = floor
    elif version < floor:
        raise ConfigError(f"--version {version} is not newer than what these agents have (next: {floor}); "
                          "agents refuse a downgrade")
    created = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    bundle = sign_bundle(ConfigBundle(kind, target_id, version, created, files),
                         load_or_create_key(data_dir / KEY_FILE))
    payload = bundle.to_bytes()
    if len(payload) > MAX_BUNDLE_BYTES:
        raise ConfigError(f"the bundle is {len(payload)} bytes; agents accept at most {MAX_BUNDLE_BYTES}")
    digest = bundle.digest()
    for agent in agents:
        publish(topics.config(agent), payload)
    with closing(_connect(db)) as conn, conn:
        for agent in agents:
            conn.execute("INSERT INTO config_pushes VALUES (?, ?, ?, ?, ?) ON CONFLICT(agent_id) DO UPDATE SET "
                         "version = excluded.version, digest = excluded.digest, pushed_at = excluded.pushed_at, "
                         "target = excluded.target", (agent, version, digest, created, f"{kind} {target_id}"))
        conn.execute("INSERT INTO config_push_log(at, target, version, digest, agents, files) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (created, f"{kind} {target_id}", version, digest, json.dumps(agents),
                      json.dumps(sorted(files))))
    return PushResult(f"{kind} {target_id}", version, digest, agents)


@dataclass(frozen=True)
class PushLogin:
    """How a push reaches the broker: the hub's own (password) listener and login."""

    host: str
    port: int
    username: str
    password: str

    @classmethod
    def of_hub(cls, data_dir: Path, host: str, port: int) -> PushLogin:
        """The hub's login as ``xiaoneng-hub run`` made it (DATA/hub-mqtt.json)."""
        from hub.runtime import LOGIN_FILE

        path = data_dir / LOGIN_FILE
        try:
            login = json.loads(path.read_text())
            return cls(host, port, str(login["username"]), str(login["password"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: the hub's broker login is missing ({exc}); start the hub once") from None


def mqtt_publisher(login: PushLogin, timeout: float = 15.0) -> tuple[Publisher, Callable[[], None]]:
    """A publisher logged in as the hub, and a function that disconnects it."""
    import os
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"xn-hub-config-{os.getpid()}-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(login.username, login.password)
    where = f"{login.host}:{login.port}"
    try:
        client.connect(login.host, login.port, keepalive=30)
    except OSError as exc:
        raise ConfigError(f"cannot reach the broker at {where}: {exc} "
                          "(is the hub running? check --mqtt-host/--mqtt-port)") from None
    client.loop_start()

    def publish(topic: str, payload: bytes) -> None:
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise ConfigError(f"the broker at {where} did not confirm {topic} within {timeout:.0f} s "
                              "(login refused, or the ACL forbids it)")

    def close() -> None:
        client.disconnect()
        client.loop_stop()

    return publish, close


#: ``app.extensions`` key of the running hub's pusher (the devices page's action).
EXTENSION = "xn_configpush"
#: Opens a publisher: returns ``(publish, close)``.
PublisherFactory = Callable[[], tuple[Publisher, Callable[[], None]]]


def attach(app: Any, login: PushLogin) -> None:
    """Let the web UI's devices page push configurations through the hub's broker login."""
    app.extensions[EXTENSION] = lambda: mqtt_publisher(login)


def push_with(opener: PublisherFactory, data_dir: Path, kind: str, target_id: str, files: dict[str, str],
              version: int | None = None) -> PushResult:
    """:func:`push` through a publisher opened for it (closed afterwards)."""
    target_agents(data_dir / DB_FILE, kind, target_id)  # a clear error before connecting
    publish, close = opener()
    try:
        return push(data_dir, kind, target_id, files, publish, version)
    finally:
        close()


@click.group("config")
def config_group() -> None:
    """下发配置 / Signed configuration pushed to agents."""


@config_group.command("push")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="the hub's data directory")
@click.option("--agent", "agent_id", default=None, help="push to this agent")
@click.option("--site", "site_id", default=None, help="push to every active agent of this site")
@click.option("--version", type=click.IntRange(1, 2**53 - 1), default=None,
              help="the bundle's version (default: one more than any pushed or applied)")
@click.option("--mqtt-host", default="127.0.0.1", show_default=True)
@click.option("--mqtt-port", default=1884, show_default=True, type=int, help="the hub's own (password) listener")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
def config_push(data_dir: Path, agent_id: str | None, site_id: str | None, version: int | None,
                mqtt_host: str, mqtt_port: int, files: tuple[Path, ...]) -> None:
    """签名并下发配置 / Sign FILE... (settings.yaml, mapping and camera profiles) and push them."""
    if (agent_id is None) == (site_id is None):
        raise click.UsageError("give exactly one of --agent and --site")
    kind, target = ("agent", agent_id) if agent_id is not None else ("site", site_id)
    assert target is not None
    try:
        login = PushLogin.of_hub(data_dir, mqtt_host, mqtt_port)
        result = push_with(lambda: mqtt_publisher(login), data_dir, kind, target, read_files(list(files)), version)
    except XiaonengError as exc:
        raise click.ClickException(f"下发失败 / push failed: {exc}") from None
    click.echo(f"已下发 / pushed version {result.version} ({result.target}, sha256 {result.digest[:16]}…) "
               f"to {', '.join(result.agents)}")


@config_group.command("log")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def config_log(data_dir: Path) -> None:
    """下发记录 / Every configuration pushed."""
    try:
        conn = _connect(data_dir / DB_FILE)
    except XiaonengError as exc:
        raise click.ClickException(str(exc)) from None
    with closing(conn):
        for at, target, version, digest, agents, files in conn.execute(
                "SELECT at, target, version, digest, agents, files FROM config_push_log ORDER BY id"):
            click.echo(f"{at}\tv{version}\t{target}\t{digest[:16]}\t{','.join(json.loads(agents))}\t"
                       f"{','.join(json.loads(files))}")
