"""The UI's messages: gettext catalogues, read at request time through Flask-Babel.

``hub/web/translations/<lang>/LC_MESSAGES/messages.po`` (Simplified Chinese first, English complete)
are the sources; ``make translations`` extracts, updates and compiles them to ``messages.mo``, which
are build products (not in git). The msgids are stable keys (``nav.cases``), not Chinese sentences:
about 300 keys are chosen at run time (``status.<code>``, ``report_col.<column>``, ``event.<type>``)
and could not be found in a sentence-as-msgid catalogue. Placeholders are ``{name}`` (``str.format``).

:class:`Catalogue` holds the compiled messages of every language for what Flask-Babel does not do: it
refuses at start-up a catalogue whose languages disagree (a msgid missing in one, different
placeholders), tells whether a key exists (``catalogue_has``), and makes a missing key fail loudly in
tests (``strict``) while production shows the key itself, so a gap is visible but never breaks a page.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel.messages.mofile import read_mo

from shared.errors import ConfigError

LANGUAGES = ("zh", "en")
DOMAIN = "messages"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
_log = logging.getLogger(__name__)
_REBUILD = "run `make translations` (pybabel compile -d hub/web/translations)"


def po_path(lang: str, directory: Path = TRANSLATIONS) -> Path:
    """The editable catalogue of ``lang``."""
    return directory / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str, directory: Path = TRANSLATIONS) -> Path:
    """The compiled catalogue of ``lang`` (made by ``pybabel compile``)."""
    return directory / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def check_languages(messages: Mapping[str, Mapping[str, str]], where: str) -> None:
    """Every key in every language, no empty text, the same placeholders everywhere."""
    for key, entry in messages.items():
        absent = [lang for lang in LANGUAGES if not entry.get(lang)]
        if absent:
            raise ConfigError(f"{where}: msgid {key!r} has no translation in {', '.join(absent)}: "
                              f"fill its msgstr in {', '.join(str(po_path(a)) for a in absent)}")
        if len({frozenset(placeholders(entry[lang])) for lang in LANGUAGES}) != 1:
            raise ConfigError(f"{where}: msgid {key!r} uses different {{placeholders}} per language: "
                              + "; ".join(f"{lang}: {entry[lang]!r}" for lang in LANGUAGES))


class Catalogue:
    """Messages by key and language."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]], *, strict: bool = False) -> None:
        self.messages = {key: dict(entry) for key, entry in messages.items()}
        self.strict = strict

    @classmethod
    def load(cls, directory: Path = TRANSLATIONS, *, strict: bool = False) -> Catalogue:
        """Read the compiled catalogues and check that the languages agree.

        A missing ``.mo`` is a configuration error; one older than its ``.po`` (edited but not
        compiled) is an error in strict mode and a warning otherwise.
        """
        messages: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            mo, po = mo_path(lang, directory), po_path(lang, directory)
            if not mo.exists():
                raise ConfigError(f"{mo} is missing: the UI's catalogues are compiled at build time; {_REBUILD}")
            if po.exists() and po.stat().st_mtime > mo.stat().st_mtime:
                if strict:
                    raise ConfigError(f"{mo} is older than {po.name}: {_REBUILD}")
                _log.warning("i18n: %s is older than %s; %s", mo, po.name, _REBUILD)
            with mo.open("rb") as fileobj:
                compiled = read_mo(fileobj)
            for message in compiled:
                if message.id and isinstance(message.id, str) and isinstance(message.string, str):
                    messages.setdefault(message.id, {})[lang] = message.string
        check_languages(messages, str(directory))
        return cls(messages, strict=strict)

    def has(self, key: str) -> bool:
        return key in self.messages

    def missing(self, key: str) -> str:
        """What a key absent from the catalogue shows: an error in strict mode, else the key itself."""
        if self.strict:
            raise KeyError(f"message {key!r} is not in the catalogue: add it to "
                           f"{', '.join(str(po_path(lang)) for lang in LANGUAGES)} and run `make translations`")
        _log.warning("i18n: missing message %r", key)
        return key

    def get(self, key: str, lang: str, **values: Any) -> str:
        """The message ``key`` in ``lang``, formatted with ``values`` (outside a request; pages use Flask-Babel)."""
        entry = self.messages.get(key)
        if entry is None:
            return self.missing(key)
        text = entry.get(lang) or entry[LANGUAGES[0]]
        return text.format(**values) if values else text
