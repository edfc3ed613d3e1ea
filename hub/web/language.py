"""The request's UI language: ``?lang=`` (remembered in a cookie), else the cookie, else the default."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from hub.web.i18n import LANGUAGES
from hub.web.state import web_state

COOKIE = "xn_lang"


def select_language() -> None:
    """before_request: put the language on ``g``."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        g.lang = asked
        g.remember_lang = True
        return
    cookie = request.cookies.get(COOKIE)
    g.lang = cookie if cookie in LANGUAGES else web_state().config.default_language


def remember_language(response: Response) -> Response:
    """after_request: store a language chosen by ``?lang=``."""
    if g.get("remember_lang"):
        response.set_cookie(
            COOKIE, g.lang, max_age=365 * 86400, httponly=True, samesite="Lax",
            secure=web_state().config.cookie_secure or request.is_secure,
        )
    return response


def current_language() -> str:
    return str(g.get("lang") or web_state().config.default_language)


def gettext(key: str, **values: Any) -> str:
    """The message ``key`` in the request's language (Jinja: ``_("key", n=1)``)."""
    return web_state().catalogue.get(key, current_language(), **values)
