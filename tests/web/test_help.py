"""帮助 (/help): the product's documents inside the UI, for every role and on the login page;
links rewritten, the CSP kept, unknown documents and path tricks answered 404."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.web.blueprints.help import ENV_VAR, candidate_dirs, docs_dir, slug
from hub.web.security import CONTENT_SECURITY_POLICY
from tests.web.conftest import ROLES, Hub

DOCS = Path(__file__).resolve().parents[2] / "docs"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")  # fmt: skip
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_docs_are_found_in_the_source_tree(hub: Hub) -> None:
    with hub.app.test_request_context("/help"):
        assert docs_dir() == DOCS
        assert candidate_dirs()[0] == DOCS  # no env var in the test run: the source tree first


@pytest.mark.parametrize("role", [*ROLES, None])
def test_every_role_reads_the_help(hub: Hub, role: str | None) -> None:
    client = hub.client() if role is None else hub.login(role)
    index = client.get("/help")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    assert "<h1>帮助</h1>" in html and 'href="/help/ui"' in html and "监控室界面与接口" in html
    for doc in DOCS.glob("*.md"):
        assert f'href="/help/{doc.stem}"' in html, doc.name
    page = client.get("/help/ui")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<h1 id="监控室界面与接口--the-hubs-web-ui-and-api">监控室界面与接口 / The hub' in text
    assert "<table>" in text and "<th>页面</th>" in text, "the roles table is a table"
    assert len(CJK.findall(text)) > 500
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert 'id="nav-help" href="/help"' in text


def test_the_help_link_is_on_every_page_and_the_login(hub: Hub) -> None:
    assert 'id="nav-help" href="/help">帮助</a>' in hub.client().get("/login").get_data(as_text=True)
    client = hub.login("monitor")
    assert 'id="nav-help" href="/help">帮助</a>' in client.get("/links").get_data(as_text=True)
    assert 'id="nav-help" href="/help">Help</a>' in client.get("/links?lang=en").get_data(as_text=True)


def test_links_between_documents_are_rewritten(hub: Hub) -> None:
    client = hub.client()
    network = client.get("/help/network").get_data(as_text=True)
    assert re.search(r'<a href="/help/(deployment-web|ledger|agent)(#[^"]*)?">', network), "a link to another doc"
    assert not re.search(r'href="[^"]*\.md', network), "no link to a .md file is left"
    for href in re.findall(r'href="([^"]+)"', network):
        assert href.startswith(("/", "#", "http://", "https://", "mailto:")), href


def test_a_document_of_its_own(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    (docs / "screenshots").mkdir(parents=True)
    (docs / "screenshots" / "wall.png").write_bytes(PNG)
    (docs / "ui.md").write_text(
        "# 界面 / UI\n\n## 报表\n\n见[排名](other.md#等级)、[源码](../hub/web/app.py)、"
        "[网站](https://example.org/x)、[本节](#报表)。\n\n![视频墙](screenshots/wall.png)\n"
        "![外部](https://example.org/a.png)\n\n<script>alert(1)</script>\n\n## 报表\n", encoding="utf-8")
    (docs / "other.md").write_text("# 其他\n\n## 等级\n\n回到[界面](docs/ui.md)。\n", encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(docs))
    client = hub.client()
    html = client.get("/help/ui").get_data(as_text=True)
    assert '<a href="/help/other#%E7%AD%89%E7%BA%A7">排名</a>' in html
    assert '<span class="help-nolink" title="../hub/web/app.py">源码</span>' in html
    assert '<a href="https://example.org/x" rel="noopener noreferrer">网站</a>' in html
    assert '<a href="#%E6%8A%A5%E8%A1%A8">本节</a>' in html
    assert '<h2 id="报表">报表</h2>' in html and '<h2 id="报表-1">报表</h2>' in html
    assert '<img src="/help/screenshots/wall.png" alt="视频墙"' in html
    assert 'src="https://example.org/a.png"' not in html, "no image from outside (offline, CSP)"
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="/help/ui">界面</a>' in client.get("/help/other").get_data(as_text=True)
    image = client.get("/help/screenshots/wall.png")
    assert image.status_code == 200 and image.data == PNG and image.mimetype == "image/png"
    image.close()
    assert client.get("/help/screenshots/missing.png").status_code == 404
    assert client.get("/help/screenshots/.hidden.png").status_code == 404
    assert client.get("/help/screenshots/notes.txt").status_code == 404


@pytest.mark.parametrize("path", [
    "/help/nosuchdoc", "/help/../../etc/passwd", "/help/..%2F..%2Fetc%2Fpasswd", "/help/%2e%2e",
    "/help/ui.md", "/help/screenshots/..%2F..%2Fui.md", "/help/samples/..%2Fui.md", "/help/etc/passwd",
    "/help/screenshots/%2e%2e", "/help/..", "/help/.ui",
])  # fmt: skip
def test_unknown_documents_and_path_tricks_are_404(hub: Hub, path: str) -> None:
    response = hub.client().get(path)
    assert response.status_code == 404, path
    assert "root:" not in response.get_data(as_text=True)


def test_without_docs_the_help_says_where_it_looked(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.web.blueprints.help.candidate_dirs", lambda: [tmp_path / "nothing"])
    response = hub.client().get("/help")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "本机没有安装系统文档" in html and ENV_VAR in html and str(tmp_path / "nothing") in html
    assert hub.client().get("/help/ui").status_code == 404


def test_slug_is_githubs() -> None:
    seen: dict[str, int] = {}
    assert slug("一、角色与页面", seen) == "一角色与页面"
    assert slug("Users, tokens, audit (no Flask)", seen) == "users-tokens-audit-no-flask"
    assert slug("Users, tokens, audit (no Flask)", seen) == "users-tokens-audit-no-flask-1"


def test_an_installed_package_finds_the_docs_under_its_prefix(hub: Hub, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """setup.cfg installs docs/ as data files into <prefix>/share/xiaoneng/docs, where /help looks."""
    import configparser
    import sys

    cfg = configparser.ConfigParser()
    cfg.read(DOCS.parent / "setup.cfg", encoding="utf-8")
    data_files = {key.strip(): value.split() for key, value in cfg["options.data_files"].items()}
    assert data_files["share/xiaoneng/docs"] == ["docs/*.md"]
    assert data_files["share/xiaoneng/docs/screenshots"] == ["docs/screenshots/*.png"]
    installed = tmp_path / "prefix" / "share" / "xiaoneng" / "docs"
    installed.mkdir(parents=True)
    (installed / "ui.md").write_text("# 安装版 / Installed\n", encoding="utf-8")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    with hub.app.test_request_context("/help"):
        assert candidate_dirs()[-1] == installed
    monkeypatch.setattr("hub.web.blueprints.help.__file__", str(tmp_path / "site" / "hub" / "web" / "x" / "help.py"))
    assert "安装版" in hub.client().get("/help/ui").get_data(as_text=True)
