"""The agent's configuration file (``agent.yaml``), loaded strictly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.link import BrokerAddress, BrokerTls
from agent.outbox import OutboxLimits
from agent.uplink import UplinkConfig
from shared.batch import MAX_BYTES, MAX_HEADER_BYTES
from shared.config import build, read_yaml
from shared.errors import ConfigError
from shared.topics import valid_id


@dataclass(frozen=True)
class BrokerSection:
    """Where and how the agent reaches the hub's broker.

    With ``ca_file`` the link is TLS: the broker's certificate must be signed by that (pinned) hub CA
    and name ``host``; ``cert_file``/``tls_key_file`` are the agent's client certificate (Common Name =
    agent id, which the broker takes as the username) and its key. Without TLS, ``password`` logs in.
    """

    host: str
    port: int
    username: str
    password: str = ""
    keepalive: int = 10
    ca_file: str = ""
    cert_file: str = ""
    tls_key_file: str = ""


@dataclass(frozen=True)
class VideoSection:
    """Live video of the cameras (WebRTC to the hub's relay): ICE host addresses and UDP ports
    (default: every interface but loopback, any port), and how long a session lives without the
    hub's keepalive. See docs/video.md."""

    ice_addresses: list[str] | None = None
    ice_ports: list[int] | None = None
    lease_s: float = 20.0


@dataclass(frozen=True)
class AgentConfig:
    agent_id: str
    broker: BrokerSection
    key_file: str
    data_dir: str
    site_id: str = ""
    log_level: str = "INFO"
    uplink: UplinkConfig = field(default_factory=UplinkConfig)
    outbox: OutboxLimits = field(default_factory=OutboxLimits)
    #: Capture sources (department databases): see docs/mapping.md.
    capture: list[dict[str, Any]] = field(default_factory=list)
    #: Camera profile files (firmware_configs/cameras/*.yaml).
    cameras: list[str] = field(default_factory=list)
    video: VideoSection = field(default_factory=VideoSection)
    #: The hub's checkpoint key (64 hex digits, written by provisioning): the agent keeps the
    #: hub's signed checkpoints only when they verify with it, and ``xiaoneng-agent audit`` needs it.
    hub_public_key: str = ""
    #: The running agent audits the hub's ledger this often (seconds; 0: only ``xiaoneng-agent audit``).
    audit_interval_s: float = 3600.0
    #: The hub's enrolment address (https://HOST:PORT), written by ``xiaoneng-agent enroll``;
    #: ``xiaoneng-agent rotate`` renews the TLS certificate there.
    enroll_url: str = ""
    #: After applying a configuration pushed from the hub, a capture source failing within this many
    #: seconds rolls it back (docs/agent.md).
    config_watch_s: float = 30.0
    #: Where this file was read from; relative paths in it are relative to its folder.
    base_dir: str = "."

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def broker_address(self) -> BrokerAddress:
        """The link's address: paths of the TLS files resolved against this file's folder."""
        b = self.broker
        tls = None
        if b.ca_file:
            tls = BrokerTls(str(self.path(b.ca_file)), str(self.path(b.cert_file)), str(self.path(b.tls_key_file)))
        return BrokerAddress(b.host, b.port, b.username, b.password, keepalive=b.keepalive, tls=tls)


def load_agent_config(path: str | Path) -> AgentConfig:
    """Load and check ``agent.yaml``; raises ConfigError naming the file and the key."""
    p = Path(path)
    data = read_yaml(p)
    if isinstance(data, dict) and "base_dir" in data:
        raise ConfigError(f"{p}: unknown key 'base_dir'")
    if isinstance(data, dict):
        data = {**data, "base_dir": str(p.parent.resolve())}
    cfg = build(AgentConfig, data, str(p))
    if not valid_id(cfg.agent_id):
        raise ConfigError(f"{p}: agent_id {cfg.agent_id!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    if not 0 < cfg.broker.port < 65536:
        raise ConfigError(f"{p}: broker.port {cfg.broker.port} is not a TCP port")
    if not cfg.path(cfg.key_file).is_file():
        raise ConfigError(f"{p}: key_file {cfg.key_file!r} not found (enrol or copy the agent bundle)")
    _check_broker_tls(cfg, p)
    if cfg.uplink.batch_records < 1 or cfg.uplink.window_batches < 1:
        raise ConfigError(f"{p}: uplink.batch_records and uplink.window_batches must be >= 1")
    if not 1024 <= cfg.uplink.batch_bytes <= MAX_BYTES - MAX_HEADER_BYTES:
        raise ConfigError(f"{p}: uplink.batch_bytes must be 1024..{MAX_BYTES - MAX_HEADER_BYTES} (the broker "
                          f"refuses larger messages), got {cfg.uplink.batch_bytes}")
    if cfg.hub_public_key and not re.fullmatch(r"[0-9a-f]{64}", cfg.hub_public_key):
        raise ConfigError(f"{p}: hub_public_key must be 64 lowercase hex digits (the hub's Ed25519 key)")
    if cfg.audit_interval_s < 0 or 0 < cfg.audit_interval_s < 1:
        raise ConfigError(f"{p}: audit_interval_s must be 0 (off) or >= 1 second")
    if cfg.config_watch_s < 1:
        raise ConfigError(f"{p}: config_watch_s must be >= 1 second")
    if cfg.outbox.keep_acked < 1:
        raise ConfigError(f"{p}: outbox.keep_acked must be >= 1")
    _check_cameras(cfg, p)
    return cfg


def _check_broker_tls(cfg: AgentConfig, p: Path) -> None:
    b = cfg.broker
    tls = {"ca_file": b.ca_file, "cert_file": b.cert_file, "tls_key_file": b.tls_key_file}
    if not any(tls.values()):
        if not b.password:
            raise ConfigError(f"{p}: broker needs a password, or ca_file, cert_file and tls_key_file for TLS")
        return
    missing = [k for k, v in tls.items() if not v]
    if missing:
        raise ConfigError(f"{p}: broker TLS needs ca_file, cert_file and tls_key_file; missing {', '.join(missing)}")
    for key, value in tls.items():
        if not cfg.path(value).is_file():
            raise ConfigError(f"{p}: broker.{key} {value!r} not found (enrol again: xiaoneng-agent enroll)")


def _check_cameras(cfg: AgentConfig, p: Path) -> None:
    """The camera profiles must load (strictly) and name distinct cameras; the video section must
    make sense. Profiles are only read when cameras are configured (they need the video extra)."""
    v = cfg.video
    if v.ice_ports is not None and (len(v.ice_ports) != 2 or not 1024 <= v.ice_ports[0] <= v.ice_ports[1] <= 65535):
        raise ConfigError(f"{p}: video.ice_ports must be [low, high] within 1024-65535, got {v.ice_ports!r}")
    if v.ice_addresses is not None and not v.ice_addresses:
        raise ConfigError(f"{p}: video.ice_addresses must name at least one address (or be left out)")
    if v.lease_s <= 0:
        raise ConfigError(f"{p}: video.lease_s must be > 0")
    if not cfg.cameras:
        return
    try:
        from agent.camera.config import load_profile
    except ImportError as exc:
        raise ConfigError(
            f"{p}: cameras are configured, but this agent has no video support ({exc}): use the "
            "xiaoneng-agent-video build (or install the [video] extra), or remove 'cameras'"
        ) from None

    seen: dict[str, str] = {}
    for entry in cfg.cameras:
        profile = load_profile(cfg.path(entry))
        if profile.camera_id in seen:
            raise ConfigError(f"{p}: cameras: {entry} and {seen[profile.camera_id]} both define camera "
                              f"{profile.camera_id!r}")
        seen[profile.camera_id] = entry
