"""设备: sites and agents as provisioning registered them (read-only for now)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from hub.web.access import ADMIN, allow
from hub.web.db import get_db
from hub.web.pagination import PageRequest
from hub.web.queries import devices
from hub.web.state import web_state

bp = Blueprint("devices", __name__)


@bp.get("/devices")
@allow(*ADMIN)
def page() -> str:
    cfg = web_state().config
    conn = get_db()
    paging = PageRequest.parse(request.args, cfg.per_page_default, cfg.per_page_max)
    return render_template("devices.html", sites=devices.list_sites(conn), agents=devices.list_agents(conn, paging))
