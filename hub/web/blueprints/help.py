"""帮助: the product's Chinese documentation (``docs/*.md``) inside the UI, offline.

``/help`` lists the documents, ``/help/<name>`` shows one, rendered from Markdown on the server by
markdown-it-py (CommonMark with tables; raw HTML in a document is shown as text, never run), in
the app's own CSS (``static/css/help.css``) and so inside the CSP (no inline style or script).
Links between documents (``ui.md#报表``, ``docs/ui.md``) become ``/help/ui#报表``; images and
samples under ``docs/screenshots`` and ``docs/samples`` are served from ``/help/screenshots/<file>``
and ``/help/samples/<file>``; any other relative link (to the source tree) is shown as text with
the path in its title; headings get GitHub-style ids so anchors work.

The help is public like the login page (it links here): the documents are the product's manual,
with no data of the hub in them. Where the documents are, in this order: the ``XIAONENG_DOCS_DIR``
environment variable (or the app config key of the same name), ``docs/`` beside the ``hub``
package (a source tree), ``<prefix>/share/xiaoneng/docs`` (an installed package: setup.cfg's
``data_files``: ``pip install`` puts ``docs/*.md`` and ``docs/screenshots`` there).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Blueprint, current_app, render_template, send_from_directory
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from hub.web.access import public

bp = Blueprint("help", __name__)
_log = logging.getLogger("xiaoneng.hub.web.help")
ENV_VAR = "XIAONENG_DOCS_DIR"
ASSET_FOLDERS = ("screenshots", "samples")
ASSET_TYPES = frozenset({".png", ".jpg", ".jpeg", ".svg", ".webp", ".gif", ".html", ".pdf", ".xlsx"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: The order of the index: the users' documents first, then the operators', then the developers'.
ORDER = ("ui", "notifications", "video", "network", "deployment-web", "agent", "delivery", "ledger", "mapping",
         "simulator", "supervision", "engine")  # fmt: skip


def candidate_dirs() -> list[Path]:
    """Where the documents may be, in the order they are looked for (see the module docstring)."""
    out: list[Path] = []
    configured = os.environ.get(ENV_VAR) or current_app.config.get(ENV_VAR)
    if configured:
        out.append(Path(str(configured)))
    out.append(Path(__file__).resolve().parents[3] / "docs")
    out.append(Path(sys.prefix) / "share" / "xiaoneng" / "docs")
    return out


def docs_dir() -> Path | None:
    """The first candidate folder holding Markdown documents; None when none does."""
    for folder in candidate_dirs():
        if folder.is_dir() and any(folder.glob("*.md")):
            return folder
    return None


@dataclass(frozen=True, slots=True)
class Doc:
    name: str
    title: str
    html: Markup


def _sort_key(name: str) -> tuple[int, str]:
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def doc_names(folder: Path) -> list[str]:
    """The documents of ``folder`` (file stems of ``*.md`` with plain names), in the index's order."""
    return sorted((p.stem for p in folder.glob("*.md") if _NAME.match(p.stem) and p.is_file()), key=_sort_key)


def slug(text: str, seen: dict[str, int]) -> str:
    """GitHub's heading id: lower case, punctuation dropped, spaces to ``-``; repeats get ``-1``…"""
    base = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    n = seen.get(base, 0)
    seen[base] = n + 1
    return base if n == 0 else f"{base}-{n}"


class _Renderer:
    """Markdown → HTML for one folder of documents, links rewritten (see the module docstring)."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.folder = folder
        self.names = set(names)
        self.md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        self.md.enable(["table", "strikethrough"])

    def target(self, href: str) -> str | None:
        """Where a link of a document points inside the help; None when it cannot be followed here."""
        if href.startswith("#") or _SCHEME.match(href) or href.startswith("//"):
            return href
        parts = urlsplit(href)
        path = unquote(parts.path)
        while path.startswith("./"):
            path = path[2:]
        if path.startswith("docs/"):
            path = path[5:]
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if path.endswith(".md") and "/" not in path and path[:-3] in self.names:
            return f"/help/{path[:-3]}{fragment}"
        folder, _, name = path.partition("/")
        if folder in ASSET_FOLDERS and _FILE.match(name) and (self.folder / folder / name).is_file():
            return f"/help/{folder}/{name}"
        return None

    def render(self, text: str) -> tuple[str, Markup]:
        tokens = self.md.parse(text)
        seen: dict[str, int] = {}
        title = ""
        for i, token in enumerate(tokens):
            if token.type == "heading_open" and i + 1 < len(tokens):
                words = _plain(tokens[i + 1])
                token.attrSet("id", slug(words, seen))
                if token.tag == "h1" and not title:
                    title = words
            if token.type == "inline" and token.children:
                self._links(token.children)
        html = self.md.renderer.render(tokens, self.md.options, {})
        return title, Markup(html)  # noqa: S704 - markdown-it output with raw HTML disabled (escaped)

    def _links(self, children: list[Token]) -> None:
        stack: list[Token] = []
        for child in children:
            if child.type == "link_open":
                stack.append(child)
                href = str(child.attrGet("href") or "")
                target = self.target(href)
                if target is None:
                    child.tag = "span"
                    child.attrs = {"class": "help-nolink", "title": href}
                else:
                    child.attrSet("href", target)
                    if _SCHEME.match(target) or target.startswith("//"):
                        child.attrSet("rel", "noopener noreferrer")
            elif child.type == "link_close" and stack:
                child.tag = stack.pop().tag
            elif child.type == "image":
                src = str(child.attrGet("src") or "")
                target = self.target(src)
                if target is None or _SCHEME.match(target) or target.startswith("//"):
                    # offline and inside the CSP: only the documents' own images; the alt text stays
                    child.attrs = {"class": "help-noimage", "title": src}
                else:
                    child.attrSet("src", target)


def _plain(inline: Token) -> str:
    return "".join(c.content for c in inline.children or () if c.type in ("text", "code_inline"))


_cache: dict[tuple[str, str], tuple[float, Doc]] = {}
_cache_lock = threading.Lock()


def load_doc(folder: Path, name: str) -> Doc:
    """Document ``name`` of ``folder`` rendered (cached until the file changes); NotFound otherwise."""
    names = doc_names(folder)
    if name not in names:
        raise NotFound(f"no help document {name!r}")
    path = folder / f"{name}.md"
    mtime = path.stat().st_mtime
    key = (str(folder), name)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    title, html = _Renderer(folder, names).render(path.read_text(encoding="utf-8"))
    doc = Doc(name, title or name, html)
    with _cache_lock:
        _cache[key] = (mtime, doc)
    return doc


def _folder() -> Path:
    folder = docs_dir()
    if folder is None:
        raise NotFound("the documentation is not installed here")
    return folder


def _titles(folder: Path) -> list[dict[str, Any]]:
    out = []
    for name in doc_names(folder):
        doc = load_doc(folder, name)
        zh, _, en = doc.title.partition(" / ")
        out.append({"name": name, "title": doc.title, "zh": zh, "en": en})
    return out


@bp.get("/help")
@public
def index() -> str | tuple[str, int]:
    folder = docs_dir()
    if folder is None:
        tried = ", ".join(str(p) for p in candidate_dirs())
        _log.warning("help: no documentation folder found", extra={"tried": tried})
        return render_template("help_index.html", docs=[], tried=tried, variable=ENV_VAR), 503
    return render_template("help_index.html", docs=_titles(folder))


@bp.get("/help/<name>")
@public
def page(name: str) -> str:
    if not _NAME.match(name):
        raise NotFound(f"no help document {name!r}")
    folder = _folder()
    doc = load_doc(folder, name)
    return render_template("help.html", doc=doc, docs=_titles(folder))


@bp.get("/help/<any(screenshots, samples):folder>/<filename>")
@public
def asset(folder: str, filename: str) -> Response:
    """A screenshot or sample file of the documentation (plain names and known types only)."""
    if not _FILE.match(filename) or Path(filename).suffix.lower() not in ASSET_TYPES:
        raise NotFound(f"no help file {filename!r}")
    response = send_from_directory(_folder() / folder, filename, max_age=3600)
    if Path(filename).suffix.lower() in (".html", ".svg"):
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
