"""A Babel extraction method (``babel.cfg``): the msgids the Chinese catalogue already has.

About 300 keys are built at run time (``status.<code>``, ``report_col.<column>``, ``event.<type>``) and
no extractor can find them in the code. So the Chinese catalogue, the source language, is itself an
extraction source: ``pybabel update`` then keeps those keys instead of marking them obsolete, and adds
the new literal ``_("key")`` / ``gettext("key")`` of templates and code. A key leaves the catalogues
only when a person deletes it from both ``.po`` files.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.pofile import read_po


def extract_catalogue(
    fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str], options: Mapping[str, Any],
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Yield ``(lineno, funcname, message, comments)`` for every live msgid of a ``.po`` file."""
    catalog = read_po(fileobj)
    for message in catalog:
        if message.id and isinstance(message.id, str):
            lineno = message.lineno or 0
            yield lineno, None, message.id, list(message.auto_comments)
