"""The UI's gettext catalogues: complete in both languages, in step with the code, used through Flask-Babel."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import flask_babel
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import render_template_string

from hub.auth.roles import Role
from hub.web.blueprints.overview import SUPERVISION_FIGURES
from hub.web.blueprints.rankings import BLOCKS, GRADES, KINDS
from hub.web.cardactions import ACTIONS
from hub.web.filters import CARD_LEVELS, CARD_STATES, CASE_STATUSES
from hub.web.i18n import LANGUAGES, Catalogue, mo_path, placeholders, po_path
from hub.web.language import gettext, select_language
from hub.web.queries.links import STATES
from hub.web.templating import NAV
from shared.errors import ConfigError
from tests.web.conftest import USERS, FakeSupervision, Hub

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "hub" / "web"
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
KEY = r"[a-z_][a-z0-9_]*\.[a-z0-9_.]*"


def po_messages(lang: str) -> dict[str, str]:
    """msgid -> msgstr of a language's .po (the source the translators edit), fuzzy ones left out."""
    with po_path(lang).open("rb") as fileobj:
        catalog = read_po(fileobj)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and isinstance(m.string, str)
            and not m.fuzzy}


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        keys |= set(re.findall(rf"""_\(\s*['"]({KEY})['"]""", path.read_text(encoding="utf-8")))
    for path in WEB.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(rf"""gettext\(\s*["']({KEY})["']""", text))
        keys |= set(re.findall(rf"""(?:title_key|message_key)=["']({KEY})["']""", text))
    keys |= {key for _endpoint, key in NAV}
    keys |= {f"links.{s}" for s in STATES} | {f"role.{r.value}" for r in Role}
    keys |= {f"overview.{k}" for k in SUPERVISION_FIGURES} | {"lang.zh", "lang.en"}
    keys |= {f"time.{u}" for u in "smhd"}
    keys |= {f"cards.action.{a}" for a in ACTIONS} | {f"card.hint.{a}" for a in ACTIONS}
    keys |= {f"rankings.kind.{k}" for k in KINDS} | {f"block.{b}" for b in BLOCKS}
    keys |= {f"grade.{g}" for g in GRADES.values()} | {f"status.{s}" for s in CASE_STATUSES}
    keys |= {f"level.{lv}" for lv in CARD_LEVELS} | {f"card_state.{s}" for s in CARD_STATES}
    keys |= {f"rule.R{n}" for n in range(1, 12)}
    return {k for k in keys if not k.endswith((".", "_"))}  # 'links.' ~ state: the families are added above


def _extract(mapping: Path, pot: Path) -> set[str]:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "--mapping-file", str(mapping),
                    "--no-location", "--output-file", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as fileobj:
        return {m.id for m in read_po(fileobj) if m.id and isinstance(m.id, str)}


def test_every_extracted_msgid_is_translated_in_both_catalogues(tmp_path: Path) -> None:
    """What `make translations` extracts (babel.cfg) is exactly the catalogues' msgids, translated in zh and en."""
    config = (ROOT / "babel.cfg").read_text(encoding="utf-8")
    literal_only = tmp_path / "literal.cfg"  # templates and code, without the zh catalogue as a source
    literal_only.write_text(config.split("[xn_catalogue:")[0], encoding="utf-8")
    literal = _extract(literal_only, tmp_path / "literal.pot")
    assert len(literal) > 300, "the extraction found too little: babel.cfg no longer matches the tree"
    assert {"nav.logout", "login.failed", "admin.user_enabled"} <= literal, "templates and Python are both read"
    for lang in LANGUAGES:
        messages = po_messages(lang)
        missing = sorted(k for k in literal if not messages.get(k))
        assert not missing, f"no {lang} translation (run `make translations`, fill {po_path(lang)}): {missing}"
    everything = _extract(ROOT / "babel.cfg", tmp_path / "messages.pot")
    assert {"status.overdue", "report_col.rank", "event.case.accepted"} <= everything - literal, "run-time keys kept"
    assert everything == set(po_messages("zh")) == set(po_messages("en")), "`make translations` would change them"


def test_catalogues_are_complete_and_placeholders_agree() -> None:
    zh, en = po_messages("zh"), po_messages("en")
    missing = sorted(k for k in used_keys() if k not in zh)
    assert not missing, f"keys used (also at run time) but not in the catalogues: {missing}"
    for key, text in zh.items():
        assert text and en.get(key), f"{key}: a translation is empty"
        assert placeholders(text) == placeholders(en[key]), f"{key}: zh and en use different {{placeholders}}"
        assert CJK.search(text) or key.startswith("lang."), f"{key}: the zh text is not Chinese"
        assert not CJK.search(en[key]) or key == "lang.zh", f"{key}: the en text has Chinese in it"


def test_compiled_catalogues_match_the_sources() -> None:
    """The .mo files Flask-Babel reads are compiled from the current .po files (`make catalogues`)."""
    catalogue = Catalogue.load(strict=True)
    for lang in LANGUAGES:
        assert {k: v[lang] for k, v in catalogue.messages.items()} == po_messages(lang)


def test_auth_error_codes_are_translated() -> None:
    catalogue = Catalogue.load()
    codes = set()
    for path in (WEB.parent / "auth").glob("[a-z]*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'^\s+"([a-z_]+)",?\s*$', text, re.M))  # code argument on its own line
        codes |= set(re.findall(r', "([a-z_]+)"\)', text))
        codes |= set(re.findall(r'^    code = "([a-z_]+)"', text, re.M))
    codes -= {"auth_error", "invalid_input"}
    assert codes, "found no error codes: the pattern above needs updating"
    assert {c for c in codes if not catalogue.has(f"auth_error.{c}")} == set()


def test_strict_catalogue_refuses_unknown_keys() -> None:
    catalogue = Catalogue.load(strict=True)
    with pytest.raises(KeyError, match="make translations"):
        catalogue.get("no.such.key", "zh")
    assert Catalogue.load().get("no.such.key", "en") == "no.such.key"
    assert catalogue.get("login.locked", "en", seconds=5) == "Too many attempts; try again in 5 s"


def test_pages_translate_through_flask_babel(hub: Hub) -> None:
    """gettext keeps its signature; the locale Flask-Babel uses is the request's language."""
    with hub.app.test_request_context("/login?lang=en"):
        select_language()
        assert str(flask_babel.get_locale()) == "en"
        assert gettext("login.locked", seconds=5) == "Too many attempts; try again in 5 s"
        assert render_template_string("{{ _('login.locked', seconds=7) }}") == "Too many attempts; try again in 7 s"
        with pytest.raises(KeyError):  # strict in tests: a missing key fails loudly, in code and in templates
            gettext("no.such.key")
        with pytest.raises(KeyError):
            render_template_string("{{ _('no.such.key') }}")
    with hub.app.test_request_context("/login"):
        select_language()
        assert str(flask_babel.get_locale()) == "zh"
        assert gettext("login.locked", seconds=5) == "尝试次数过多，请在 5 秒后重试"
        hub.app.extensions["xiaoneng"].catalogue.strict = False  # production: the key itself, and a warning
        assert gettext("no.such.key") == "no.such.key"


def _compiled(directory: Path, texts: dict[str, dict[str, str]]) -> None:
    for lang in LANGUAGES:
        catalog = Catalog(locale=lang, fuzzy=False)
        for key, entry in texts.items():
            if entry.get(lang):
                catalog.add(key, entry[lang])
        po_path(lang, directory).parent.mkdir(parents=True, exist_ok=True)
        po_path(lang, directory).write_text("# source\n", encoding="utf-8")
        with mo_path(lang, directory).open("wb") as fileobj:
            write_mo(fileobj, catalog)


def test_loading_refuses_broken_or_stale_catalogues(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make translations"):
        Catalogue.load(tmp_path)  # nothing compiled (a fresh clone before `make catalogues`)
    _compiled(tmp_path, {"a.b": {"zh": "甲 {n}", "en": "A {n}"}})
    assert Catalogue.load(tmp_path, strict=True).get("a.b", "en", n=1) == "A 1"
    later = time.time() + 60
    os.utime(po_path("en", tmp_path), (later, later))  # the .po edited after the last compile
    with pytest.raises(ConfigError, match="older than"):
        Catalogue.load(tmp_path, strict=True)
    assert Catalogue.load(tmp_path).get("a.b", "zh", n=2) == "甲 2"  # production: a warning, the old texts
    _compiled(tmp_path, {"a.b": {"zh": "甲 {n}", "en": "A {count}"}})
    with pytest.raises(ConfigError, match="placeholders"):
        Catalogue.load(tmp_path)
    _compiled(tmp_path, {"a.b": {"zh": "甲", "en": ""}})
    with pytest.raises(ConfigError, match="no translation in en"):
        Catalogue.load(tmp_path)


PAGES = ["/overview", "/links", "/quarantine", "/devices", "/admin/users", "/admin/audit", "/cases", "/cards",
         "/cases/C-1", "/cards/K-1", "/reports?month=2026-11", "/rankings?kind=window",
         "/rankings", "/reports", "/video", "/nothing-here"]
DATA = ["市民中心大厅", "公安办证大厅", "不动产大厅", "A 厅采集点", "B 厅采集点", "A 厅二号", "C 厅采集点",
        "C 厅旧采集点", "中文", "用户", "营业执照", "户口迁移", "市场监管局", "办件 C-1 超期", "办件 C-2 违规收费",
        "公安局", "张三", "王五", "缺少材料", "超期 1 件 / 20 件"]


@pytest.mark.parametrize("with_engine", [False, True])
def test_english_pages_have_no_chinese_left(hub: Hub, with_engine: bool) -> None:
    if with_engine:
        hub.app.extensions["xiaoneng"].supervision = FakeSupervision()
    client = hub.login("admin")
    client.get("/overview?lang=en")
    anonymous = hub.client()
    anonymous.get("/login?lang=en")
    for url in [*PAGES, "/login"]:
        html = (anonymous if url == "/login" else client).get(url).get_data(as_text=True)
        for value in DATA:
            html = html.replace(value, "")
        assert '<html lang="en">' in html, url
        leftover = CJK.findall(html)
        assert not leftover, f"{url}: untranslated text {''.join(leftover)[:80]!r}"


def test_chinese_is_the_default_and_the_choice_is_remembered(hub: Hub) -> None:
    client = hub.login("admin")
    html = client.get("/overview").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "总览" in html and "Overview" not in html
    switched = client.get("/links?lang=en")
    assert "xn_lang=en" in switched.headers["Set-Cookie"] and "Link state" in switched.get_data(as_text=True)
    assert "Link state" in client.get("/links").get_data(as_text=True), "the cookie keeps English"
    assert "链路状态" in client.get("/links?lang=zh").get_data(as_text=True)
    assert "链路状态" in client.get("/links?lang=fr").get_data(as_text=True), "unknown language: ignored"
    assert USERS["admin"]
