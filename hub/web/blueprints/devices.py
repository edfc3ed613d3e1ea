"""设备: sites and agents as provisioning registered them; an administrator can revoke an agent."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from hub.web.access import ADMIN, allow
from hub.web.audit import audit_action
from hub.web.db import get_db, has_table
from hub.web.language import gettext
from hub.web.pagination import PageRequest
from hub.web.queries import devices
from hub.web.state import web_state
from shared.errors import XiaonengError

bp = Blueprint("devices", __name__)


@bp.get("/devices")
@allow(*ADMIN)
def page() -> str:
    cfg = web_state().config
    conn = get_db()
    paging = PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)
    agents = devices.list_agents(conn, paging)
    versions = config_versions(conn, [a["agent_id"] for a in agents.items])
    for a in agents.items:
        a.update(versions.get(a["agent_id"], {}))
    return render_template("devices.html", sites=devices.list_sites(conn), agents=agents)


def config_versions(conn: sqlite3.Connection, agent_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per agent: the configuration version pushed (``xiaoneng-hub config push``), the one its
    heartbeat reports applied, why the newest was not applied, and whether they differ (drift)."""
    out: dict[str, dict[str, Any]] = {a: {"config_pushed": None, "config_applied": None, "config_error": None}
                                      for a in agent_ids}
    if not agent_ids:
        return out
    marks = ",".join("?" * len(agent_ids))
    if has_table(conn, "config_pushes"):
        for agent, version in conn.execute(
                f"SELECT agent_id, version FROM config_pushes WHERE agent_id IN ({marks})", agent_ids):
            out[agent]["config_pushed"] = version
    if has_table(conn, "agent_link"):
        columns = {r[1] for r in conn.execute("PRAGMA table_info(agent_link)")}
        if "config_version" in columns:
            for agent, version, error in conn.execute(
                    f"SELECT agent_id, config_version, config_error FROM agent_link WHERE agent_id IN ({marks})",
                    agent_ids):
                out[agent].update(config_applied=version, config_error=error)
    for v in out.values():
        v["config_drift"] = v["config_pushed"] is not None and v["config_pushed"] != (v["config_applied"] or 0)
    return out


#: The largest file the devices page accepts for a pushed configuration (profiles are a few KB).
MAX_PUSH_FILE = 256 * 1024


@bp.post("/devices/config")
@allow(*ADMIN)
def push_config() -> Response:
    """Sign the uploaded files (settings.yaml, mapping and camera profiles) with the hub's key and
    push them to one agent or every agent of a site (hub.configpush; docs/agent.md §5)."""
    from flask import current_app

    from hub.configpush import EXTENSION, push_with

    opener = current_app.extensions.get(EXTENSION)
    target = request.form.get("target", "")
    kind, _, target_id = target.partition(":")
    files: dict[str, str] = {}
    try:
        if opener is None:
            raise XiaonengError(gettext("devices.push_unavailable"))
        if kind not in ("agent", "site") or not target_id:
            raise XiaonengError(gettext("devices.push_no_target"))
        for upload in request.files.getlist("files"):
            if not upload.filename:
                continue
            data = upload.read(MAX_PUSH_FILE + 1)
            if len(data) > MAX_PUSH_FILE:
                raise XiaonengError(f"{upload.filename}: > {MAX_PUSH_FILE // 1024} KB")
            name = Path(upload.filename).name
            if name in files:
                raise XiaonengError(f"{name}: ×2")
            files[name] = data.decode("utf-8")
        if not files:
            raise XiaonengError(gettext("devices.push_no_files"))
        raw_version = request.form.get("version", "").strip()
        version = int(raw_version) if raw_version else None
        data_dir = Path(web_state().config.database).parent
        result = push_with(opener, data_dir, kind, target_id, files, version)
    except (XiaonengError, ValueError) as exc:  # ValueError: a version that is not a number, or not UTF-8
        audit_action("config.push", target, {"files": sorted(files), "error": str(exc)[:300]})
        flash(gettext("devices.push_failed", error=str(exc)), "error")
        return redirect(url_for("devices.page"))
    audit_action("config.push", target, {"files": sorted(files), "version": result.version,
                                         "digest": result.digest, "agents": result.agents})
    flash(gettext("devices.pushed_flash", version=result.version, agents=", ".join(result.agents)), "info")
    return redirect(url_for("devices.page"))


@bp.post("/devices/<agent_id>/revoke")
@allow(*ADMIN)
def revoke(agent_id: str) -> Response:
    """Revoke an agent: the registry forgets its key for ingest, the broker files drop its login and
    ACL, and the running broker reloads them (disconnecting it). Its stored records stay verifiable."""
    from provisioning.broker_files import broker_dir, reload_broker, write_broker_files
    from provisioning.registry import Registry

    data_dir = Path(web_state().config.database).parent
    registry = Registry(data_dir / Path(web_state().config.database).name)
    agent = registry.agent(agent_id)
    if agent is None:
        raise NotFound(gettext("devices.unknown_agent", agent_id=agent_id))
    registry.revoke(agent_id)  # from here on ingest refuses its batches (unknown_agent)
    try:
        files = write_broker_files(registry, broker_dir(data_dir))
        reloaded = reload_broker(files.password_file.parent / "mosquitto.pid")
    except XiaonengError as exc:
        audit_action("agent.revoke", agent_id, {"site": agent.site_id, "broker_files_error": str(exc)})
        flash(gettext("devices.broker_files_failed", agent_id=agent_id, error=str(exc)), "error")
        return redirect(url_for("devices.page"))
    audit_action("agent.revoke", agent_id, {"site": agent.site_id, "broker_reloaded": reloaded is not None})
    flash(gettext("devices.revoked_flash", agent_id=agent_id), "info")
    return redirect(url_for("devices.page"))
