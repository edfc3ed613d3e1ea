"""A one-machine deployment with cameras: broker + hub + one agent running synthetic camera profiles,
ICE on loopback, a web user. Used by the browser test and bench/video.py."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from simulator.cluster import LocalCluster

ROOT = Path(__file__).resolve().parents[2]
DEMO_PROFILE = ROOT / "firmware_configs" / "cameras" / "demo-hall-cam1.yaml"
USERNAME = "wall"
PASSWORD = "video wall password 1"


def camera_profiles(folder: Path, count: int) -> list[Path]:
    """``count`` synthetic cameras: the demo profile, then copies with other ids and seeds."""
    base = yaml.safe_load(DEMO_PROFILE.read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        profile = dict(base)
        profile["camera_id"] = f"demo-hall-cam{i + 1}"
        profile["source"] = {**base["source"], "seed": i}
        # each camera over windows of its own (cam1: W01-W03, cam2: W04-W06 ...), as in a hall
        profile["windows"] = [{**w, "window_id": f"W{3 * i + j + 1:02d}"} for j, w in enumerate(base["windows"])]
        path = folder / f"{profile['camera_id']}.yaml"
        path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
        paths.append(path)
    return paths


def dead_camera(folder: Path, camera_id: str = "demo-hall-cam9") -> Path:
    """A camera whose source never opens (a missing file): its feed is "dead" for good."""
    base = yaml.safe_load(DEMO_PROFILE.read_text(encoding="utf-8"))
    profile = {**base, "camera_id": camera_id, "source": {"kind": "file", "path": str(folder / "unplugged.mp4")},
               "windows": [{**w, "window_id": f"W{j + 7:02d}"} for j, w in enumerate(base["windows"])]}
    path = folder / f"{camera_id}.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    return path


def video_cluster(root: Path, *, cameras: int = 1, dead: bool = False, agent_id: str = "hall-agent",
                  grace_s: float = 2.0, relay: dict[str, Any] | None = None) -> LocalCluster:
    """Set up (not start) a cluster whose agent runs ``cameras`` synthetic cameras (and, with
    ``dead``, one camera that never delivers)."""
    cluster = LocalCluster(root, [agent_id], site_id="demo-hall", uplink={"heartbeat_interval": 2.0})
    cluster.setup()
    config_path = cluster.agent_dir(agent_id) / "agent.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    profiles = camera_profiles(root / "cameras", cameras) + ([dead_camera(root / "cameras")] if dead else [])
    config["cameras"] = [str(p) for p in profiles]
    config["video"] = {"ice_addresses": ["127.0.0.1"]}
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    settings = {"ice_addresses": ["127.0.0.1"], "grace_s": grace_s, **(relay or {})}
    (cluster.hub_dir / "video.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "hub.cli", "user", "add", "--data", str(cluster.hub_dir), "--username", USERNAME,
         "--role", "monitor", "--display-name", "监控室值班"],
        check=True, capture_output=True, env={**os.environ, "XN_USER_PASSWORD": PASSWORD},
    )
    return cluster


def http_ready(cluster: LocalCluster) -> bool:
    """Whether the hub's web UI answers (it starts a moment after the hub connects to the broker)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{cluster.http_port}/login", timeout=2) as r:  # noqa: S310
            return bool(r.status == 200)
    except OSError:
        return False
