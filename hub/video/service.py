"""The relay in the hub process: signalling through ingest's MQTT client, the web app, /metrics.

    relay = start_relay(data_dir, ingest)     # after ingest.start()
    attach(web.app, relay)                    # the wall's API finds it there
    ...
    relay.stop()                              # before ingest.stop(): the agents are told
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask

from hub.auth import audit, connect
from hub.video.config import load_relay_config
from hub.video.relay import VideoRelay
from hub.web.blueprints.video import EXTENSION
from hub.web.metrics import REGISTRY, Family, Registry

if TYPE_CHECKING:
    from hub.service import IngestService


def start_relay(data_dir: Path, ingest: IngestService, registry: Registry = REGISTRY) -> VideoRelay:
    """A running relay wired to ``ingest`` (settings from ``data_dir/video.yaml``)."""
    relay = VideoRelay(ingest.publish_raw, load_relay_config(data_dir),
                       on_viewer_end=partial(audit_watched, data_dir / "hub.sqlite"))
    relay.start()
    ingest.rtc_handlers.append(relay.on_rtc)
    ingest.listeners.append(relay.on_event)
    registry.add_collector(lambda: collect(relay), key="video")
    return relay


def audit_watched(database: Path, ended: dict[str, Any]) -> None:
    """Write one ended viewer to the audit log: ``video.watched`` by its user, target
    ``agent/camera``, with when it started, how long it lasted (s), whether a picture connected,
    and why it ended. (The join is audited by the web layer as ``video.watch``.)"""
    started = datetime.fromtimestamp(float(ended["started_at"]), UTC).isoformat(timespec="seconds")
    detail = {"viewer": ended["viewer"], "started_at": started, "seconds": ended["seconds"],
              "connected": ended["connected"], "reason": str(ended["reason"])[:200]}
    conn = connect(database)
    try:
        audit(conn, ended["user"] or "anonymous", "video.watched", f"{ended['agent_id']}/{ended['camera_id']}",
              detail)
    finally:
        conn.close()


def attach(app: Flask, relay: VideoRelay) -> None:
    """Make ``relay`` the video relay of the web ``app``."""
    app.extensions[EXTENSION] = relay


def collect(relay: VideoRelay) -> list[Family]:
    """Prometheus families of the relay, computed at scrape time."""
    stats = relay.stats()
    counters = stats.get("counters", {})
    streams = Family("xiaoneng_video_streams", "Cameras the relay receives now, by state", "gauge")
    by_state: dict[str, int] = {"connecting": 0, "live": 0, "retrying": 0}
    for s in stats.get("streams", []):
        by_state[s["state"]] = by_state.get(s["state"], 0) + 1
    for state, count in sorted(by_state.items()):
        streams.add(count, state=state)
    kbps = Family("xiaoneng_video_upstream_kbps", "Bitrate received from each watched camera (kbit/s)", "gauge")
    viewers = Family("xiaoneng_video_camera_viewers", "Browsers watching each camera", "gauge")
    for s in stats.get("streams", []):
        kbps.add(s["kbps"], agent_id=s["agent_id"], camera_id=s["camera_id"])
        viewers.add(s["viewers"], agent_id=s["agent_id"], camera_id=s["camera_id"])
    return [
        streams, kbps, viewers,
        Family("xiaoneng_video_viewers", "Browsers watching through the relay", "gauge").add(stats.get("viewers", 0)),
        Family("xiaoneng_video_viewers_joined_total", "Viewer sessions started", "counter").add(
            counters.get("viewers_joined", 0)),
        Family("xiaoneng_video_upstream_failures_total", "Upstream sessions that failed or were refused",
               "counter").add(counters.get("upstream_failures", 0)),
        Family("xiaoneng_video_snapshots_total", "Evidence snapshots fetched from agents, by outcome", "counter")
        .add(relay.snapshots.fetched, outcome="shown").add(relay.snapshots.refused, outcome="refused"),
    ]
