"""The blueprints, one per area of the UI and API; :func:`register_all` installs them."""

from __future__ import annotations

from flask import Flask

from hub.web.blueprints import (
    admin,
    api_core,
    api_desk,
    api_links,
    api_supervision,
    auth,
    cards,
    catalogue,
    desk,
    devices,
    help,
    inbox,
    links,
    metrics_view,
    overview,
    publish,
    quarantine,
    rankings,
    reports,
    stream,
    supervision,
    video,
)

BLUEPRINTS = (
    auth.bp,
    overview.bp,
    links.bp,
    quarantine.bp,
    devices.bp,
    admin.bp,
    supervision.bp,
    cards.bp,
    desk.complaints_bp,
    desk.disclosures_bp,
    rankings.bp,
    publish.bp,
    catalogue.bp,
    reports.bp,
    video.bp,
    inbox.bp,
    help.bp,
    api_core.bp,
    api_links.bp,
    api_supervision.bp,
    api_desk.bp,
    stream.bp,
    metrics_view.bp,
)


def register_all(app: Flask) -> None:
    """Register every blueprint on ``app``."""
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
