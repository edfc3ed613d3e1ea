"""The message catalogue (``messages.yaml``) and the request's language.

Simplified Chinese is the default; ``?lang=en`` (or the ``xn_lang`` cookie it sets) switches to
English. Templates call ``_("key", name=value)``; a missing key raises in tests (``strict``) and
shows the key itself in production, so a gap is visible but never breaks a page.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shared.errors import ConfigError

LANGUAGES = ("zh", "en")
CATALOGUE_PATH = Path(__file__).with_name("messages.yaml")
_log = logging.getLogger(__name__)


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Catalogue:
    """Messages by key and language."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]], *, strict: bool = False) -> None:
        self.messages = dict(messages)
        self.strict = strict

    @classmethod
    def load(cls, path: Path = CATALOGUE_PATH, *, strict: bool = False) -> Catalogue:
        """Read and check a catalogue file: every key has every language, placeholders agree."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the catalogue must be a mapping of key -> {{zh, en}}")
        messages: dict[str, dict[str, str]] = {}
        for key, entry in raw.items():
            if not isinstance(entry, dict) or set(entry) != set(LANGUAGES):
                raise ConfigError(f"{path}: message {key!r} must have exactly the languages {LANGUAGES}")
            if not all(isinstance(v, str) and v for v in entry.values()):
                raise ConfigError(f"{path}: message {key!r} has an empty or non-text translation")
            if len({frozenset(placeholders(v)) for v in entry.values()}) != 1:
                raise ConfigError(f"{path}: message {key!r} uses different placeholders per language")
            messages[str(key)] = {str(k): str(v) for k, v in entry.items()}
        return cls(messages, strict=strict)

    def has(self, key: str) -> bool:
        return key in self.messages

    def get(self, key: str, lang: str, **values: Any) -> str:
        """The message ``key`` in ``lang``, formatted with ``values``."""
        entry = self.messages.get(key)
        if entry is None:
            if self.strict:
                raise KeyError(f"message {key!r} is not in the catalogue")
            _log.warning("i18n: missing message %r", key)
            return key
        text = entry.get(lang) or entry[LANGUAGES[0]]
        return text.format(**values) if values else text

    def subset(self, prefix: str, lang: str) -> dict[str, str]:
        """Every message under ``prefix`` in ``lang`` (for scripts, as a JSON block)."""
        return {k: v[lang] for k, v in self.messages.items() if k.startswith(prefix)}
