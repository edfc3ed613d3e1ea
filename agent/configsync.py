"""Signed configuration pushed from the hub (docs/agent.md, "Configuration pushed from the hub").

The hub publishes a :class:`~shared.configbundle.ConfigBundle` (retained, QoS 1) on
``xn/v1/agents/{id}/config``. This agent:

1. checks the signature with ``hub_public_key`` and that the bundle is for it (agent or site) and
   newer than every bundle it saw before (no downgrade, no replay of an old retained message); a
   forged or misdirected bundle also raises a security alert at the hub (``config.refused``);
2. writes the files to ``DATA/config/staging``, then renames it to ``DATA/config/v{N}``;
3. validates the effective configuration (``agent.yaml`` + the bundle's :data:`SETTINGS_FILE`):
   every capture entry, its mapping profile, and the profile against the live database
   (what ``xiaoneng-agent validate-config --live`` does), camera profiles when cameras are set;
4. applies it atomically: the symlink ``DATA/config/current`` is replaced by one rename, then the
   capture runners restart with the new entries;
5. watches capture for ``watch_s`` seconds (or until a newer bundle arrives): a source that stays
   down or degraded for ``confirm_s`` rolls the agent back to the previous bundle (or to
   ``agent.yaml`` alone) by itself.

The heartbeat carries ``config_version`` (the applied bundle, 0 for none) and ``config_error``
(why the newest bundle was refused or rolled back). ``DATA/config/state.json`` keeps the versions
across restarts. Capture entries and mapping profiles apply at once; ``uplink``, ``log_level``,
``audit_interval_s`` and camera changes take effect at the agent's next start.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.capture.runner import CaptureConfig
from agent.checkpoints import alert_payload
from agent.config import AgentConfig
from agent.uplink import UplinkConfig
from shared import topics
from shared.config import build, read_yaml
from shared.configbundle import SETTINGS_FILE, BundleError, ConfigBundle, check_settings, parse_bundle
from shared.errors import XiaonengError
from shared.timefmt import iso_local

log = logging.getLogger("xiaoneng.agent.config")

CONFIG_DIR = "config"
CURRENT = "current"
STATE_FILE = "state.json"
#: Capture states that, held for ``confirm_s`` after applying a bundle, roll it back.
FAILING = ("down", "degraded")
MAX_ERROR = 500


@dataclass
class SyncState:
    """What ``state.json`` keeps: the applied and previous versions, the newest seen, the last error."""

    applied: int = 0
    previous: int = 0
    seen: int = 0
    error: str = ""
    history: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> SyncState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.error("config state unreadable, starting from agent.yaml", extra={"path": str(path), "error": str(exc)})
            return cls()
        try:
            return cls(int(data.get("applied", 0)), int(data.get("previous", 0)), int(data.get("seen", 0)),
                       str(data.get("error", "")), [int(v) for v in data.get("history", [])])
        except (AttributeError, TypeError, ValueError) as exc:
            log.error("config state malformed, starting from agent.yaml", extra={"path": str(path), "error": str(exc)})
            return cls()

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"applied": self.applied, "previous": self.previous, "seen": self.seen,
                       "error": self.error, "history": self.history[-20:]}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def config_root(cfg: AgentConfig) -> Path:
    return cfg.path(cfg.data_dir) / CONFIG_DIR


def merge_bundle(cfg: AgentConfig, bundle_dir: Path) -> AgentConfig:
    """``agent.yaml`` (``cfg``) with the settings of the bundle unpacked in ``bundle_dir``.

    A capture ``profile`` or a ``cameras`` entry that names a file of the bundle refers to that file;
    other relative paths stay relative to ``agent.yaml``'s folder. Raises ConfigError/BundleError."""
    settings_path = bundle_dir / SETTINGS_FILE
    where = f"pushed configuration {bundle_dir.name}/{SETTINGS_FILE}"
    settings = check_settings(read_yaml(settings_path), where) if settings_path.exists() else {}

    def local(name: Any) -> Any:
        if isinstance(name, str) and "/" not in name and (bundle_dir / name).is_file():
            return str((bundle_dir / name).resolve())
        return name

    changes: dict[str, Any] = {}
    if "capture" in settings:
        entries = settings["capture"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise BundleError(f"{where}: capture must be a list of entries (name, database, profile)")
        changes["capture"] = [{**e, "profile": local(e.get("profile"))} for e in entries]
    if "cameras" in settings:
        cams = settings["cameras"]
        if not isinstance(cams, list) or not all(isinstance(c, str) for c in cams):
            raise BundleError(f"{where}: cameras must be a list of camera profile files")
        changes["cameras"] = [local(c) for c in cams]
    if "uplink" in settings:
        changes["uplink"] = build(UplinkConfig, settings["uplink"], where, "uplink")
    if "log_level" in settings:
        if settings["log_level"] not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise BundleError(f"{where}: log_level must be DEBUG, INFO, WARNING or ERROR")
        changes["log_level"] = settings["log_level"]
    if "audit_interval_s" in settings:
        value = settings["audit_interval_s"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or 0 < value < 1:
            raise BundleError(f"{where}: audit_interval_s must be 0 (off) or >= 1 second")
        changes["audit_interval_s"] = float(value)
    return replace(cfg, **changes)


def effective_config(cfg: AgentConfig) -> tuple[AgentConfig, str]:
    """The configuration the agent runs with: ``agent.yaml`` + the applied bundle, and an error
    text when the applied bundle cannot be read (the agent then runs with ``agent.yaml`` alone)."""
    current = config_root(cfg) / CURRENT
    if not current.exists():
        return cfg, ""
    try:
        return merge_bundle(cfg, current.resolve()), ""
    except XiaonengError as exc:
        log.error("applied configuration unreadable, running with agent.yaml", extra={"error": str(exc)})
        return cfg, f"applied configuration unreadable: {exc}"[:MAX_ERROR]


def validate(cfg: AgentConfig, live: bool = True) -> list[str]:
    """What stops ``cfg`` from working: capture entries, mapping profiles (against the live
    databases when ``live``), camera profiles. Empty when it can be applied."""
    from agent.mapping import errors, validate_profile

    problems: list[str] = []
    try:
        entries = [CaptureConfig.from_dict(e, f"capture[{i}]") for i, e in enumerate(cfg.capture)]
    except XiaonengError as exc:
        return [str(exc)]
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        return ["capture: a name is used twice; each source needs its own"]
    for entry in entries:
        conn = None
        if live:
            from agent.capture.database import connect_source

            try:
                conn = connect_source(entry.database).conn
            except Exception as exc:  # noqa: BLE001 - any driver error: say which source and why
                problems.append(f"capture {entry.name}: cannot connect to {entry.database}: {exc}")
                continue
        try:
            problems += [f"capture {entry.name}: {p}" for p in errors(validate_profile(cfg.path(entry.profile), conn))]
        except XiaonengError as exc:
            problems.append(f"capture {entry.name}: {exc}")
        finally:
            if conn is not None:
                conn.close()
    if cfg.cameras:
        try:
            from agent.camera.config import load_profile
        except ImportError as exc:
            return problems + [f"cameras are configured, but this agent has no video support ({exc})"]
        for camera in cfg.cameras:
            try:
                load_profile(cfg.path(camera))
            except XiaonengError as exc:
                problems.append(f"camera {camera}: {exc}")
    return problems


class ConfigSync:
    """Receives, checks, applies and (when capture fails) rolls back pushed bundles.

    ``restart(cfg)`` restarts capture with ``cfg``'s entries (raises on a bad entry);
    ``failures()`` lists the capture sources failing now (``"name: state detail"``)."""

    def __init__(self, base: AgentConfig, hub_key: Ed25519PublicKey,
                 restart: Callable[[AgentConfig], None], failures: Callable[[], list[str]], *,
                 watch_s: float = 30.0, confirm_s: float = 3.0, live: bool = True,
                 on_change: Callable[[], None] | None = None):
        self.base = base
        self.hub_key = hub_key
        self.restart = restart
        self.failures = failures
        self.watch_s, self.confirm_s, self.live = watch_s, confirm_s, live
        self.on_change = on_change or (lambda: None)
        self.root = config_root(base)
        self.root.mkdir(parents=True, exist_ok=True)
        self.state = SyncState.load(self.root / STATE_FILE)
        self._inbox: queue.Queue[bytes] = queue.Queue(maxsize=8)
        self._lock = threading.Lock()
        #: Raises a security alert at the hub (set by :meth:`attach`).
        self._alert: Callable[[str], None] = lambda detail: None

    # -- wiring ---------------------------------------------------------------------------------

    def attach(self, uplink: Any) -> None:
        """Receive bundles on this agent's config topic (the uplink's thread only queues them)."""
        uplink.on_topic(topics.config(self.base.agent_id), lambda _t, payload: self.offer(payload))
        uplink.add_health_provider(self.health)

        def alert(detail: str) -> None:
            uplink.publish_side(topics.alert(self.base.agent_id),
                                alert_payload("config.refused", detail, iso_local(time.time())), qos=1)

        self._alert = alert

    def offer(self, payload: bytes) -> None:
        try:
            self._inbox.put_nowait(payload)
        except queue.Full:
            log.warning("configuration bundle dropped: too many waiting")

    def run(self, stop: threading.Event) -> None:
        """Apply queued bundles until ``stop`` (the agent's config thread)."""
        while not stop.is_set():
            try:
                payload = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            self.handle(payload, stop)

    def health(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {"config_version": self.state.applied}
            if self.state.error:
                out["config_error"] = self.state.error[:MAX_ERROR]
            return out

    # -- the steps ------------------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self.state, key, value)
            self.state.save(self.root / STATE_FILE)
        self.on_change()

    def handle(self, payload: bytes, stop: threading.Event | None = None) -> str:
        """Check and apply one received bundle; returns the outcome
        (``applied``, ``refused``, ``invalid``, ``rolled_back``, ``ignored``)."""
        try:
            bundle = parse_bundle(payload, self.hub_key)
        except BundleError as exc:
            log.error("SECURITY: configuration bundle refused", extra={"error": str(exc), "security_alert": True})
            self._set(error=f"refused a bundle: {exc}"[:MAX_ERROR])
            self._alert(f"a configuration bundle on this agent's config topic was refused: {exc}")
            return "refused"
        if not bundle.applies_to(self.base.agent_id, self.base.site_id):
            log.error("SECURITY: configuration bundle for another target refused",
                      extra={"target": f"{bundle.target_kind} {bundle.target_id}", "security_alert": True})
            self._set(error=f"refused version {bundle.version}: it is for {bundle.target_kind} {bundle.target_id}")
            self._alert(f"a configuration bundle for {bundle.target_kind} {bundle.target_id} (version "
                        f"{bundle.version}) reached this agent's config topic")
            return "refused"
        if bundle.version <= self.state.seen:
            if bundle.version == self.state.seen:
                return "ignored"  # the retained copy of the newest bundle, received again on reconnect
            log.warning("configuration downgrade refused", extra={"version": bundle.version, "seen": self.state.seen})
            self._set(error=f"refused version {bundle.version}: not newer than version {self.state.seen} "
                            "(downgrade or replay); push a higher version")
            return "refused"
        self._set(seen=bundle.version)
        target = self.root / f"v{bundle.version}"
        try:
            self._unpack(bundle, target)
            candidate = merge_bundle(self.base, target)
            problems = validate(candidate, self.live)
        except XiaonengError as exc:
            problems = [str(exc)]
        if problems:
            shutil.rmtree(target, ignore_errors=True)
            text = f"version {bundle.version} not applied: " + "; ".join(problems)
            log.error("configuration bundle invalid", extra={"version": bundle.version, "problems": problems})
            self._set(error=text[:MAX_ERROR])
            return "invalid"
        previous = self.state.applied
        self._switch(target)
        try:
            self.restart(candidate)
        except XiaonengError as exc:
            self._roll_back(bundle.version, previous, f"capture did not start: {exc}")
            return "rolled_back"
        self._set(applied=bundle.version, previous=previous, error="",
                  history=[*self.state.history, bundle.version])
        log.info("configuration applied", extra={"version": bundle.version, "digest": bundle.digest()})
        failure = self._watch(stop)
        if failure:
            self._roll_back(bundle.version, previous, failure)
            return "rolled_back"
        self._prune()
        return "applied"

    def _prune(self) -> None:
        """Keep the applied and the previous bundle's folders; remove older ones."""
        keep = {f"v{self.state.applied}", f"v{self.state.previous}"}
        for d in self.root.glob("v*"):
            if d.is_dir() and not d.is_symlink() and d.name not in keep and d.name[1:].isdigit():
                shutil.rmtree(d, ignore_errors=True)

    def _unpack(self, bundle: ConfigBundle, target: Path) -> None:
        staging = self.root / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name, text in bundle.files.items():
            (staging / name).write_text(text, encoding="utf-8")
        (staging / "bundle.json").write_bytes(bundle.to_bytes())
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)

    def _switch(self, target: Path | None) -> None:
        """Point ``current`` at ``target`` (None: no bundle) with one rename."""
        current = self.root / CURRENT
        if target is None:
            current.unlink(missing_ok=True)
            return
        tmp = self.root / "current.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target.name)
        os.replace(tmp, current)

    def _watch(self, stop: threading.Event | None) -> str:
        """Empty when capture held up for ``watch_s``; otherwise why it failed."""
        deadline = time.monotonic() + self.watch_s
        failing_since: float | None = None
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            if not self._inbox.empty():
                return ""  # a newer bundle came: it is handled next, this one stays its fallback
            bad = self.failures()
            now = time.monotonic()
            if bad:
                failing_since = failing_since if failing_since is not None else now
                if now - failing_since >= self.confirm_s:
                    return "capture failed after applying: " + "; ".join(bad)
            else:
                failing_since = None
            time.sleep(0.1) if stop is None else stop.wait(0.1)
        return ""

    def _roll_back(self, version: int, previous: int, why: str) -> None:
        back = self.root / f"v{previous}" if previous else None
        if back is not None and not back.is_dir():
            back = None
        self._switch(back)
        cfg = merge_bundle(self.base, back) if back is not None else self.base
        try:
            self.restart(cfg)
        except XiaonengError as exc:
            why += f"; restarting the previous configuration failed too: {exc}"
        shown = previous if back is not None else 0
        log.error("configuration rolled back", extra={"version": version, "back_to": shown, "reason": why})
        self._set(applied=shown, error=f"version {version} rolled back to {shown}: {why}"[:MAX_ERROR])
