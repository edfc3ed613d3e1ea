"""What templates can use: ``_()`` (through Flask-Babel), ``csrf_token()``, the role's navigation, time filters."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, g, request, url_for
from markupsafe import Markup

from hub.web.access import may
from hub.web.formatting import age_seconds, duration, local_time
from hub.web.i18n import LANGUAGES
from hub.web.language import current_language, gettext, install_babel
from hub.web.security import CSRF_FIELD, csrf_token
from hub.web.state import web_state

NAV = (
    ("overview.page", "nav.overview"),
    ("supervision.cases", "nav.cases"),
    ("cards.queue", "nav.cards"),
    ("complaints.page", "nav.complaints"),
    ("disclosures.page", "nav.disclosures"),
    ("rankings.page", "nav.rankings"),
    ("reports.page", "nav.reports"),
    ("catalogue.page", "nav.catalogue"),
    ("links.page", "nav.links"),
    ("quarantine.page", "nav.quarantine"),
    ("video.page", "nav.video"),
    ("devices.page", "nav.devices"),
    ("admin.users", "nav.admin"),
)


def nav_items() -> list[dict[str, Any]]:
    """The navigation entries the signed-in role may open."""
    from flask import current_app

    principal = g.get("principal")
    if principal is None:
        return []
    current = request.endpoint or ""
    items = []
    for endpoint, key in NAV:
        if may(current_app, endpoint, principal.role):
            area = endpoint.split(".")[0]
            active = current == endpoint or current.startswith(area + ".")
            items.append({"url": url_for(endpoint), "label": gettext(key), "active": active})
    return items


def csrf_field() -> Markup:
    """The hidden input every POST form carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


def lang_url(lang: str) -> str:
    """The current page in another language."""
    values: dict[str, Any] = {**request.args.to_dict(), **(request.view_args or {}), "lang": lang}
    return url_for(request.endpoint or "auth.index", **values)


def script_data(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block (safe inside HTML)."""
    text = json.dumps(value, ensure_ascii=False)
    escaped = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(escaped)  # noqa: S704 - JSON with <, > and & escaped cannot end the script element


def install(app: Flask) -> None:
    """Flask-Babel, and the globals and filters of ``app``'s Jinja environment."""
    install_babel(app)
    env = app.jinja_env
    env.globals.update(
        _=gettext,
        csrf_field=csrf_field,
        csrf_token=csrf_token,
        nav_items=nav_items,
        lang_url=lang_url,
        languages=LANGUAGES,
        current_language=current_language,
        script_data=script_data,
        catalogue_has=lambda key: web_state().catalogue.has(key),
        tz_name=lambda: web_state().config.timezone,
    )

    def _local(text: str | None) -> str:
        return local_time(text, web_state().tz)

    def _duration(seconds: int | float | None) -> str:
        return duration(seconds, gettext)

    def _age(text: str | None) -> str:
        seconds = age_seconds(text, web_state().clock())
        return "" if seconds is None else gettext("time.ago", age=duration(seconds, gettext))

    def _when(text: str | None) -> str:
        """A date stays a date (due dates); a moment is shown in the hub's time zone."""
        if isinstance(text, str) and len(text) == 10 and text[4] == "-" and text[7] == "-":
            return text
        return local_time(text, web_state().tz)

    def _reject_paging(args: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in args.items() if k not in ("page", "per_page", "lang")}

    env.filters.update(localtime=_local, duration=_duration, age=_age, reject_paging=_reject_paging, when=_when)

    @app.context_processor
    def _context() -> dict[str, Any]:
        return {"principal": g.get("principal"), "app_version": web_state().version}
