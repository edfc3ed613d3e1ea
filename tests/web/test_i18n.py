"""The message catalogue: complete in both languages, and every visible string goes through it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.auth.roles import Role
from hub.web.blueprints.overview import SUPERVISION_FIGURES
from hub.web.blueprints.rankings import BLOCKS, GRADES, KINDS
from hub.web.cardactions import ACTIONS
from hub.web.filters import CARD_LEVELS, CARD_STATES, CASE_STATUSES
from hub.web.i18n import Catalogue
from hub.web.queries.links import STATES
from hub.web.templating import NAV
from tests.web.conftest import USERS, FakeSupervision, Hub

WEB = Path(__file__).resolve().parents[2] / "hub" / "web"
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        keys |= set(re.findall(r"""_\(\s*['"]([a-z_][a-z0-9_.]*)['"]""", path.read_text(encoding="utf-8")))
    for path in WEB.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r"""gettext\(\s*["']([a-z_][a-z0-9_.]*)["']""", text))
        keys |= set(re.findall(r"""(?:title_key|message_key)=["']([a-z_][a-z0-9_.]*)["']""", text))
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


def test_catalogue_is_complete() -> None:
    catalogue = Catalogue.load(strict=True)
    missing = sorted(k for k in used_keys() if not catalogue.has(k))
    assert not missing, f"keys used but not in messages.yaml: {missing}"
    for key, entry in catalogue.messages.items():
        assert CJK.search(entry["zh"]) or key.startswith("lang."), f"{key}: the zh text is not Chinese"
        assert not CJK.search(entry["en"]) or key == "lang.zh", f"{key}: the en text has Chinese in it"


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
    with pytest.raises(KeyError):
        catalogue.get("no.such.key", "zh")
    assert Catalogue.load().get("no.such.key", "en") == "no.such.key"
    assert catalogue.get("login.locked", "en", seconds=5) == "Too many attempts; try again in 5 s"


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
