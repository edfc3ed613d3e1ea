"""设备: sites and agents as provisioning registered them; an administrator can revoke an agent, push
a signed configuration, and issue (or revoke) the one-time tokens new agents enrol with (hub.enroll)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from hub.desk import DESK_AGENT
from hub.desk.identity import DESK_SITE
from hub.web.access import ADMIN, allow
from hub.web.audit import audit_action
from hub.web.db import get_db, has_table
from hub.web.language import gettext
from hub.web.pagination import PageRequest
from hub.web.queries import devices
from hub.web.state import web_state
from shared.errors import XiaonengError

if TYPE_CHECKING:
    from hub.enroll import EnrolEndpoint, TokenStore

bp = Blueprint("devices", __name__)


@bp.get("/devices")
@allow(*ADMIN)
def page() -> str:
    return _render()


def _render(issued: dict[str, Any] | None = None) -> str:
    cfg = web_state().config
    conn = get_db()
    paging = PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)
    agents = devices.list_agents(conn, paging)
    versions = config_versions(conn, [a["agent_id"] for a in agents.items])
    online = link_states(conn, [a["agent_id"] for a in agents.items])
    for a in agents.items:
        a.update(versions.get(a["agent_id"], {}))
        a["link"] = online.get(a["agent_id"], "never")
        a["desk"] = a["agent_id"] == DESK_AGENT  # inside the hub: no link, no configuration, not revoked here
    endpoint = _enrol_endpoint()
    tokens = _token_store().outstanding() if has_table(conn, "enrol_tokens") else []
    return render_template("devices.html", sites=devices.list_sites(conn), agents=agents, issued=issued,
                           enrol_tokens=tokens, enrol_port=endpoint.port if endpoint is not None else None,
                           enrol_cert=_enrol_cert() is not None, desk_site=DESK_SITE)


def link_states(conn: sqlite3.Connection, agent_ids: list[str]) -> dict[str, str]:
    """Per agent: ``online`` or ``offline`` as its link last reported (absent: never connected)."""
    if not agent_ids or not has_table(conn, "agent_link"):
        return {}
    marks = ",".join("?" * len(agent_ids))
    return {agent: "online" if up else "offline" for agent, up in conn.execute(
        f"SELECT agent_id, COALESCE(online, 0) FROM agent_link WHERE agent_id IN ({marks})", agent_ids)}


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
    if agent_id == DESK_AGENT:
        flash(gettext("devices.desk_not_revocable"), "error")
        return redirect(url_for("devices.page"))
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


# -- enrolment tokens (docs/agent.md §1) --------------------------------------------------------------


def _enrol_endpoint() -> EnrolEndpoint | None:
    from hub.enroll import WEB_EXTENSION, EnrolEndpoint

    endpoint = current_app.extensions.get(WEB_EXTENSION)
    return endpoint if isinstance(endpoint, EnrolEndpoint) else None


def _enrol_cert() -> Path | None:
    """The certificate the enrolment port serves (its pin goes into the token): the running hub's web
    certificate, else the ``--tls-self-issued`` one in the data directory, as ``enroll create`` finds it."""
    from provisioning import ca

    endpoint = _enrol_endpoint()
    if endpoint is not None and endpoint.cert is not None:
        return endpoint.cert
    default = Path(web_state().config.database).parent / ca.CA_DIR / "server.pem"
    return default if default.is_file() else None


def _token_store() -> TokenStore:
    from hub.enroll import TokenStore

    return TokenStore(Path(web_state().config.database), clock=web_state().clock)


def _who() -> str:
    principal = g.get("principal")
    return f"web:{principal.user.username}" if principal is not None else "web"


@bp.post("/devices/enrol")
@allow(*ADMIN)
def issue_token() -> Response | str:
    """Issue a one-time enrolment token, as ``xiaoneng-hub enroll create`` does (same checks, same
    audit trail), and show it once: the token, its expiry, the command for the hall and its QR code."""
    from hub.enroll import EnrolEndpoint, hall_command, parse_ttl
    from hub.enrolqr import inline_svg
    from provisioning import ca
    from provisioning.registry import Registry

    site_id = request.form.get("site", "").strip()
    agent_id = request.form.get("agent", "").strip()
    reenrol = request.form.get("reenrol") == "1"
    ttl_text = request.form.get("ttl", "24h").strip() or "24h"
    target = f"{site_id}/{agent_id}"
    try:
        cert = _enrol_cert()
        if cert is None:
            raise XiaonengError(gettext("devices.enrol_no_tls"))
        ttl = parse_ttl(ttl_text)
        token, expires = _token_store().create(
            site_id, agent_id, ca.leaf_fingerprint(cert), ttl, registry=Registry(Path(web_state().config.database)),
            reenrol=reenrol, issued_by=_who())
    except XiaonengError as exc:
        audit_action("enrol.create", target, {"ttl": ttl_text, "reenrol": reenrol, "error": str(exc)[:300]})
        flash(gettext("devices.enrol_failed", error=str(exc)), "error")
        return redirect(url_for("devices.page"))
    endpoint = _enrol_endpoint() or EnrolEndpoint(None, cert)
    hub_url = endpoint.url(urlsplit("//" + request.host).hostname or "localhost")
    command = hall_command(hub_url, token.text(), reenrol)
    expires_at = expires.isoformat(timespec="seconds")
    audit_action("enrol.create", target, {"expires_at": expires_at, "reenrol": reenrol, "hub_url": hub_url})
    issued = {"agent_id": agent_id, "site_id": site_id, "token": token.text(), "expires_at": expires_at,
              "command": command, "qr_svg": inline_svg(command), "reenrol": reenrol}
    return _render(issued)


@bp.post("/devices/enrol/<int:token_id>/revoke")
@allow(*ADMIN)
def revoke_token(token_id: int) -> Response:
    """Revoke an enrolment token before it is used (it was given to the wrong person, or not needed)."""
    agent_id = request.form.get("agent") or None
    try:
        token = _token_store().revoke(token_id, _who(), agent_id=agent_id)
    except XiaonengError as exc:
        audit_action("enrol.revoke", str(token_id), {"agent": agent_id, "error": str(exc)[:300]})
        flash(gettext("devices.enrol_revoke_failed", error=str(exc)), "error")
        return redirect(url_for("devices.page"))
    audit_action("enrol.revoke", str(token_id), {"agent": token.agent_id, "site": token.site_id})
    flash(gettext("devices.enrol_revoked_flash", agent_id=token.agent_id), "info")
    return redirect(url_for("devices.page"))
