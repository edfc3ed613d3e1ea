"""The request's UI language and its messages, through Flask-Babel.

The language is ``?lang=`` (remembered in the ``xn_lang`` cookie), else the cookie, else the hub's
default (Chinese); Flask-Babel's locale selector returns it, and Flask-Babel loads and caches the
compiled catalogue of that locale (``hub/web/translations``, see :mod:`hub.web.i18n`).
"""

from __future__ import annotations

from typing import Any

import flask_babel
from babel.support import NullTranslations
from flask import Flask, Response, g, request

from hub.web.i18n import DOMAIN, LANGUAGES, TRANSLATIONS, Catalogue
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
    """The request's language (also Flask-Babel's locale selector)."""
    return str(g.get("lang") or web_state().config.default_language)


def install_babel(app: Flask) -> None:
    """Flask-Babel on ``app``: our locale rule, our catalogues; ``_`` in templates stays :func:`gettext`."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DOMAIN", DOMAIN)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    flask_babel.Babel(app, locale_selector=current_language, configure_jinja=False)


def _messages() -> tuple[Catalogue, NullTranslations]:
    """The catalogue and Flask-Babel's translations of the request's locale, looked up once per request.

    (``flask_babel.gettext`` resolves its domain, locale and cache on every call: about 35 µs, ~200
    times on a card page; looked up once, a message costs a dict lookup.)
    """
    found: tuple[Catalogue, NullTranslations] | None = g.get("xn_messages")
    if found is None:
        found = g.xn_messages = (web_state().catalogue, flask_babel.get_translations())
    return found


def gettext(key: str, **values: Any) -> str:
    """The message ``key`` in the request's language (Jinja: ``_("key", n=1)``), ``{name}`` filled in.

    A key the catalogue lacks raises in tests (strict) and shows as the key itself in production.
    Another language than the request's: ``web_state().catalogue.get(key, lang, **values)``.
    """
    catalogue, translations = _messages()
    if not catalogue.has(key):
        return catalogue.missing(key)
    text = translations.gettext(key)
    return text.format(**values) if values else text
