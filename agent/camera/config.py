"""Camera profiles (``firmware_configs/cameras/*.yaml``) and their strict loader.

Every section is a frozen dataclass; an unknown key, a missing required key or a wrongly typed
value is a :class:`~shared.errors.ConfigError` that names the key path and the file, e.g.
``firmware_configs/cameras/x.yaml: windows[1].rct: unknown key (allowed: rect, window_id)``.

    camera_id: hall-a-cam1          # [A-Za-z0-9_.-], 1-64
    hall_id: hall-a
    source: {kind: rtsp, url: "rtsp://10.0.0.5/stream1", transport: tcp}
            # or {kind: device, device: 0}, {kind: file, path: hall.mp4, loop: true},
            #    {kind: synthetic, windows: 3, seed: 0, script: demo, clock_text: true, stamp: false}
    fps: 15
    size: [640, 480]
    analysis_fps: 5
    windows: [{window_id: W01, rect: [x, y, w, h]}, ...]
    queue: {rect: [x, y, w, h], threshold: 5, long_after_s: 30}
    presence: {absent_after_s: 60, present_after_s: 3, ...}
    watchdog: {dead_after_s: 2, frozen_after_s: 2, ...}
    snapshots: {jpeg_quality: 85}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml

from agent.camera.geometry import Rect
from agent.camera.presence import PresenceParams, QueueParams
from agent.camera.watchdog import WatchdogParams
from shared.errors import ConfigError
from shared.topics import valid_id

T = TypeVar("T")
SOURCE_KINDS = ("rtsp", "device", "file", "synthetic")
_SOURCE_KEYS = {
    "rtsp": {"kind", "url", "transport", "open_timeout_s", "read_timeout_s"},
    "device": {"kind", "device"},
    "file": {"kind", "path", "loop"},
    "synthetic": {"kind", "windows", "seed", "script", "clock_text", "stamp"},
}


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Where frames come from. ``target`` is the URL, device or file path (unused for synthetic)."""

    kind: str
    target: str = ""
    transport: str = "tcp"
    open_timeout_s: float = 5.0
    read_timeout_s: float = 2.0
    loop: bool = True
    windows: int = 3
    seed: int = 0
    script: str = "demo"
    clock_text: bool = True
    stamp: bool = False


@dataclass(frozen=True, slots=True)
class WindowConfig:
    window_id: str
    rect: Rect


@dataclass(frozen=True, slots=True)
class QueueConfig:
    rect: Rect
    params: QueueParams


@dataclass(frozen=True, slots=True)
class CameraProfile:
    """One camera: identity, source, geometry, analytics thresholds."""

    camera_id: str
    hall_id: str
    source: SourceConfig
    fps: int = 15
    size: tuple[int, int] = (640, 480)
    analysis_fps: int = 5
    windows: tuple[WindowConfig, ...] = ()
    queue: QueueConfig | None = None
    presence: PresenceParams = field(default_factory=PresenceParams)
    watchdog: WatchdogParams = field(default_factory=WatchdogParams)
    face_min_px: int = 30
    jpeg_quality: int = 85
    origin: str = "<memory>"


class _Reader:
    """Typed access to one mapping, remembering which keys were used, for exact error messages."""

    def __init__(self, raw: Any, where: str, origin: str, allowed: set[str]) -> None:
        self.where = where
        self.origin = origin
        if not isinstance(raw, dict):
            self.fail(where or "profile", f"must be a mapping, got {type(raw).__name__}")
        for key in raw:
            if not isinstance(key, str) or key not in allowed:
                self.fail(self.path(str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        self.raw: dict[str, Any] = raw

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, path: str, message: str) -> NoReturn:
        raise ConfigError(f"{self.origin}: {path}: {message}")

    def has(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, kind: type[T], default: T | None = None, *, check: Callable[[T], bool]
            | None = None, need: str = "") -> T:
        if key not in self.raw:
            if default is None:
                self.fail(self.path(key), "required key is missing")
            return default
        value = self.raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(self.path(key), f"must be {kind.__name__}, got {value!r}")
        if check is not None and not check(value):
            self.fail(self.path(key), f"{value!r} is not {need}")
        return value

    def ident(self, key: str) -> str:
        return self.get(key, str, check=valid_id, need="an id ([A-Za-z0-9_.-], 1-64)")

    def rect(self, key: str) -> Rect:
        value = self.raw.get(key)
        if key not in self.raw:
            self.fail(self.path(key), "required key is missing")
        if (not isinstance(value, list) or len(value) != 4
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            self.fail(self.path(key), f"must be [x, y, w, h] integers, got {value!r}")
        try:
            return Rect(*value)
        except ValueError as exc:
            self.fail(self.path(key), str(exc))


def _positive(value: float) -> bool:
    return value > 0


def _source(raw: Any, origin: str, base: Path) -> SourceConfig:
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"{origin}: source.kind: must be one of {', '.join(SOURCE_KINDS)}, "
                          f"got {kind!r}")
    r = _Reader(raw, "source", origin, _SOURCE_KEYS[kind])
    if kind == "rtsp":
        url = r.get("url", str, check=lambda u: u.startswith(("rtsp://", "rtsps://")),
                    need="an rtsp:// URL")
        return SourceConfig(
            kind, url,
            transport=r.get("transport", str, "tcp", check=lambda t: t in ("tcp", "udp"),
                            need="tcp or udp"),
            open_timeout_s=r.get("open_timeout_s", float, 5.0, check=_positive, need="> 0"),
            read_timeout_s=r.get("read_timeout_s", float, 2.0, check=_positive, need="> 0"),
        )
    if kind == "device":
        device = r.raw.get("device")
        if isinstance(device, bool) or not isinstance(device, (int, str)):
            r.fail("source.device", f"must be an index or a /dev path, got {device!r}")
        return SourceConfig(kind, str(device))
    if kind == "file":
        path = Path(r.get("path", str))
        return SourceConfig(kind, str(path if path.is_absolute() else base / path),
                            loop=r.get("loop", bool, True))
    return SourceConfig(
        kind,
        windows=r.get("windows", int, 3, check=lambda n: 1 <= n <= 8, need="1..8"),
        seed=r.get("seed", int, 0),
        script=r.get("script", str, "demo", check=lambda s: s in ("demo", "static"),
                     need="demo or static"),
        clock_text=r.get("clock_text", bool, True),
        stamp=r.get("stamp", bool, False),
    )


def parse_profile(raw: Any, origin: str = "<memory>", base: Path | None = None) -> CameraProfile:
    """A :class:`CameraProfile` from parsed YAML; ``origin`` names the file in errors."""
    top = _Reader(raw, "", origin, {
        "camera_id", "hall_id", "source", "fps", "size", "analysis_fps", "windows", "queue",
        "presence", "watchdog", "detect", "snapshots",
    })
    camera_id = top.ident("camera_id")
    hall_id = top.ident("hall_id")
    if not top.has("source"):
        top.fail("source", "required key is missing")
    source = _source(top.raw["source"], origin, base or Path("."))
    fps = top.get("fps", int, 15, check=lambda v: 1 <= v <= 60, need="1..60")
    size_raw = top.raw.get("size", [640, 480])
    if (not isinstance(size_raw, list) or len(size_raw) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 64 for v in size_raw)):
        top.fail("size", f"must be [width, height] integers >= 64, got {size_raw!r}")
    size = (int(size_raw[0]), int(size_raw[1]))
    analysis_fps = top.get("analysis_fps", int, 5, check=lambda v: 1 <= v <= fps,
                           need=f"1..fps ({fps})")

    windows: list[WindowConfig] = []
    raw_windows = top.raw.get("windows", [])
    if not isinstance(raw_windows, list):
        top.fail("windows", "must be a list")
    for i, item in enumerate(raw_windows):
        w = _Reader(item, f"windows[{i}]", origin, {"window_id", "rect"})
        rect = w.rect("rect")
        if not rect.fits(*size):
            w.fail(w.path("rect"), f"{rect.as_list()} lies outside the {size[0]}x{size[1]} frame")
        window_id = w.ident("window_id")
        if any(x.window_id == window_id for x in windows):
            w.fail(w.path("window_id"), f"{window_id!r} appears twice")
        windows.append(WindowConfig(window_id, rect))

    queue: QueueConfig | None = None
    if top.has("queue"):
        q = _Reader(top.raw["queue"], "queue", origin, {
            "rect", "threshold", "long_after_s", "count_every_s", "clear_after_s",
            "repeat_after_s"})
        rect = q.rect("rect")
        if not rect.fits(*size):
            q.fail(q.path("rect"), f"{rect.as_list()} lies outside the {size[0]}x{size[1]} frame")
        defaults = QueueParams(threshold=0)
        queue = QueueConfig(rect, QueueParams(
            threshold=q.get("threshold", int, check=lambda v: v >= 0, need=">= 0"),
            long_after=q.get("long_after_s", float, defaults.long_after),
            count_every=q.get("count_every_s", float, defaults.count_every, check=_positive,
                              need="> 0"),
            clear_after=q.get("clear_after_s", float, defaults.clear_after),
            repeat_after=q.get("repeat_after_s", float, defaults.repeat_after, check=_positive,
                               need="> 0"),
        ))

    presence = PresenceParams()
    if top.has("presence"):
        p = _Reader(top.raw["presence"], "presence", origin, {
            "absent_after_s", "absent_unsure_after_s", "present_after_s", "motion_present_after_s",
            "recheck_s", "still_hold_s", "motion_pixels", "occupied_permille"})
        try:
            presence = PresenceParams(
                absent_after=p.get("absent_after_s", float, presence.absent_after),
                absent_unsure_after=p.get("absent_unsure_after_s", float, presence.absent_unsure_after),
                present_after=p.get("present_after_s", float, presence.present_after),
                motion_present_after=p.get("motion_present_after_s", float,
                                           presence.motion_present_after),
                recheck_every=p.get("recheck_s", float, presence.recheck_every),
                still_hold=p.get("still_hold_s", float, presence.still_hold),
                motion_pixels=p.get("motion_pixels", int, presence.motion_pixels,
                                    check=lambda v: v >= 1, need=">= 1"),
                occupied_permille=p.get("occupied_permille", int, presence.occupied_permille,
                                        check=lambda v: 1 <= v <= 1000, need="1..1000"),
            )
        except ValueError as exc:
            p.fail("presence", str(exc))

    watchdog = WatchdogParams()
    if top.has("watchdog"):
        d = _Reader(top.raw["watchdog"], "watchdog", origin, {
            "dead_after_s", "frozen_after_s", "open_timeout_s", "backoff_initial_s",
            "backoff_max_s"})
        try:
            watchdog = WatchdogParams(
                dead_after=d.get("dead_after_s", float, watchdog.dead_after),
                frozen_after=d.get("frozen_after_s", float, watchdog.frozen_after),
                open_timeout=d.get("open_timeout_s", float, watchdog.open_timeout),
                backoff_initial=d.get("backoff_initial_s", float, watchdog.backoff_initial),
                backoff_max=d.get("backoff_max_s", float, watchdog.backoff_max),
            )
        except ValueError as exc:
            d.fail("watchdog", str(exc))

    face_min_px = 30
    if top.has("detect"):
        dt = _Reader(top.raw["detect"], "detect", origin, {"face_min_px"})
        face_min_px = dt.get("face_min_px", int, 30, check=lambda v: v >= 20, need=">= 20")
    jpeg_quality = 85
    if top.has("snapshots"):
        sn = _Reader(top.raw["snapshots"], "snapshots", origin, {"jpeg_quality"})
        jpeg_quality = sn.get("jpeg_quality", int, 85, check=lambda v: 10 <= v <= 100,
                              need="10..100")

    return CameraProfile(
        camera_id=camera_id, hall_id=hall_id, source=source, fps=fps, size=size,
        analysis_fps=analysis_fps, windows=tuple(windows), queue=queue, presence=presence,
        watchdog=watchdog, face_min_px=face_min_px, jpeg_quality=jpeg_quality, origin=origin,
    )


def load_profile(path: str | Path) -> CameraProfile:
    """Read and check one camera profile file. Raises :class:`ConfigError`."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_profile(raw, str(path), path.parent)


def load_profiles(directory: str | Path) -> list[CameraProfile]:
    """Every ``*.yaml`` profile of a directory, sorted by file name; camera ids must be unique."""
    profiles = [load_profile(p) for p in sorted(Path(directory).glob("*.yaml"))]
    seen: dict[str, str] = {}
    for profile in profiles:
        if profile.camera_id in seen:
            raise ConfigError(f"{profile.origin}: camera_id: {profile.camera_id!r} is also used "
                              f"by {seen[profile.camera_id]}")
        seen[profile.camera_id] = profile.origin
    return profiles
