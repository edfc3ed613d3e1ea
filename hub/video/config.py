"""The relay's settings: ``DATA/video.yaml`` (optional; every key has a default), loaded strictly.

    answer_timeout_s: 10        # how long a first viewer waits for the agent's answer
    grace_s: 15                 # an upstream with no viewer left is stopped after this long
    keepalive_s: 5              # the hub renews its sessions at the agents this often
    connect_timeout_s: 30       # a viewer whose connection does not come up is dropped
    retry_max_s: 10             # a failed upstream with viewers is re-asked, backing off to this
    max_viewers_per_camera: 16
    max_viewers: 64
    outlet_frames: 30           # frames queued per viewer before it is reset to the next keyframe
    ice_addresses: [10.1.0.5]   # host candidates to offer (default: every interface but loopback)
    ice_ports: [40000, 40199]   # UDP ports for them (default: any), to open in the firewall
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.config import build, read_yaml
from shared.errors import ConfigError

CONFIG_FILE = "video.yaml"


@dataclass(frozen=True)
class RelayConfig:
    answer_timeout_s: float = 10.0
    grace_s: float = 15.0
    keepalive_s: float = 5.0
    connect_timeout_s: float = 30.0
    retry_max_s: float = 10.0
    max_viewers_per_camera: int = 16
    max_viewers: int = 64
    outlet_frames: int = 30
    ice_addresses: list[str] | None = None
    ice_ports: list[int] | None = None

    @property
    def port_range(self) -> tuple[int, int] | None:
        return None if self.ice_ports is None else (self.ice_ports[0], self.ice_ports[1])


def check(config: RelayConfig, origin: str) -> RelayConfig:
    """Cross-field rules; raises ConfigError naming the key and ``origin``."""
    for name in ("answer_timeout_s", "grace_s", "keepalive_s", "connect_timeout_s", "retry_max_s"):
        if getattr(config, name) <= 0:
            raise ConfigError(f"{origin}: {name} must be > 0")
    if config.max_viewers_per_camera < 1 or config.max_viewers < 1 or config.outlet_frames < 1:
        raise ConfigError(f"{origin}: max_viewers_per_camera, max_viewers and outlet_frames must be >= 1")
    if config.ice_addresses is not None and not config.ice_addresses:
        raise ConfigError(f"{origin}: ice_addresses must name at least one address (or be left out)")
    ports = config.ice_ports
    if ports is not None and (len(ports) != 2 or not 1024 <= ports[0] <= ports[1] <= 65535):
        raise ConfigError(f"{origin}: ice_ports must be [low, high] within 1024-65535, got {ports!r}")
    return config


def load_relay_config(data_dir: Path) -> RelayConfig:
    """``data_dir/video.yaml`` if it exists, else the defaults."""
    path = Path(data_dir) / CONFIG_FILE
    if not path.exists():
        return RelayConfig()
    return check(build(RelayConfig, read_yaml(path), str(path)), str(path))
