"""视频: the video wall (the relay is another component; this is its place in the UI)."""

from __future__ import annotations

from flask import Blueprint, render_template

from hub.web.access import READERS, allow

bp = Blueprint("video", __name__)


@bp.get("/video")
@allow(*READERS)
def page() -> str:
    return render_template("placeholder.html", title_key="video.title", message_key="video.unavailable")
