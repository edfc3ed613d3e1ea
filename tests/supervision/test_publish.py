"""外网公布: ``xiaoneng-hub publish`` on a real supervised month (``tests.supervision.conftest``).

D01 市场监管局 completed A, B (early), C (on time) and D (late, with its standing R2 yellow card);
D02 税务局 completed E early. The export carries the ranking's scores and counts, the grade bands,
the generation time and the checkpoint, and nothing that names staff, windows, items or cases.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from hub.cli import main as hub_main
from hub.publish import export_zip, public_ranking, render_html
from shared.checkpoint import Checkpoint
from tests.supervision.conftest import Month, month  # noqa: F401 - the fixture

ROOT = bytes(range(32))
#: Identifiers of the seeded month that must never be published.
PRIVATE = ("W01", "W02", "S01", "S02", "I02", "税务登记", "\"A\"", "\"E\"", "case_ids", "card_ids", "staff",
           "window")  # fmt: skip


def _data_dir(month: Month, tmp_path: Path, with_checkpoint: bool) -> Path:  # noqa: F811
    month.feed.flush()
    data = tmp_path / "data"
    data.mkdir()
    source, copy = sqlite3.connect(month.db), sqlite3.connect(data / "hub.sqlite")
    source.backup(copy)  # a consistent copy of the live store, as a backup would take it
    source.close()
    copy.close()
    if with_checkpoint:
        cp = Checkpoint("xiaoneng-hub-test", 42, ROOT, "2026-11-12T01:00:00Z", b"\x01" * 64)
        conn = sqlite3.connect(data / "hub.sqlite")
        with conn:
            conn.execute("INSERT INTO checkpoints (size, root, body, created_at) VALUES (?, ?, ?, ?)",
                         (cp.size, cp.root, json.dumps(cp.to_json()), cp.timestamp))  # fmt: skip
        conn.close()
    return data


def test_publish_writes_the_public_ranking(month: Month, tmp_path: Path) -> None:  # noqa: F811
    data = _data_dir(month, tmp_path, with_checkpoint=True)
    out = tmp_path / "public"
    result = CliRunner().invoke(hub_main, ["publish", "2026-11", "--data", str(data), "-o", str(out),
                                           "--city", "样例市"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 departments" in result.output and "checkpoint size 42" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "ranking.json"]

    ranking = json.loads((out / "ranking.json").read_text(encoding="utf-8"))
    assert ranking["schema"] == "xiaoneng.public-ranking/1" and ranking["month"] == "2026-11"
    assert ranking["title"] == "样例市行政效能电子监察 2026年11月部门绩效排名"
    assert ranking["provenance"]["checkpoint"] == {"origin": "xiaoneng-hub-test", "size": 42, "root": ROOT.hex(),
                                                   "timestamp": "2026-11-12T01:00:00Z"}  # fmt: skip
    datetime.fromisoformat(ranking["generated_at"])
    by_name = {d["name"]: d for d in ranking["departments"]}
    assert set(by_name) == {"市场监管局", "税务局"}
    tax, market = by_name["税务局"], by_name["市场监管局"]
    assert tax["code"] == "D02" and tax["counts"]["cases_completed"] == 1 and tax["counts"]["early"] == 1
    assert market["counts"]["cases_completed"] == 4 and market["counts"]["on_time"] == 3
    assert market["counts"]["early"] == 2 and market["counts"]["yellow"] == 1
    assert market["counts"]["cards"] == {"R2": {"yellow": 1}}
    assert [d["rank"] for d in ranking["departments"]] == [1, 2] and tax["rank"] == 1
    assert tax["score"] > market["score"] and market["score"] < 100
    assert any("R2" in d["reason"] for d in market["deductions"])
    assert sum(ranking["summary"]["by_grade"].values()) == 2
    assert ranking["summary"]["cases_completed"] == 5

    text = (out / "ranking.json").read_text(encoding="utf-8") + (out / "index.html").read_text(encoding="utf-8")
    for private in PRIVATE:
        assert private not in text, f"{private!r} must not be published"

    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and '<html lang="zh-CN">' in page
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    assert not re.search(r'(src|href)=', page), "self-contained: no external resources"
    assert "<h1>样例市行政效能电子监察 2026年11月部门绩效排名</h1>" in page
    assert "等级标准" in page and "优秀：90 分及以上" in page
    rows = re.findall(r"<tr><td>(\d+)</td><td class=\"name\">([^<]+)</td><td>([\d.]+)</td>", page)
    assert [(r[0], r[1]) for r in rows] == [("1", "税务局"), ("2", "市场监管局")]
    assert float(rows[1][2]) == market["score"]
    assert ROOT.hex() in page and "记录数 42" in page
    generated = datetime.fromisoformat(ranking["generated_at"])
    assert f"生成时间 {generated:%Y-%m-%d %H:%M:%S}（UTC+08:00）" in page


def test_publish_without_checkpoint_and_errors(month: Month, tmp_path: Path) -> None:  # noqa: F811
    data = _data_dir(month, tmp_path, with_checkpoint=False)
    out = tmp_path / "public"
    result = CliRunner().invoke(hub_main, ["publish", "2026-11", "--data", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    ranking = json.loads((out / "ranking.json").read_text(encoding="utf-8"))
    assert ranking["provenance"]["checkpoint"] is None and ranking["city"] == "全市"
    assert "尚未签发账本检查点" in (out / "index.html").read_text(encoding="utf-8")

    empty = CliRunner().invoke(hub_main, ["publish", "2026-09", "--data", str(data), "-o", str(out)])
    assert empty.exit_code != 0 and "nothing to publish" in empty.output
    quarter = CliRunner().invoke(hub_main, ["publish", "2026-Q4", "--data", str(data), "-o", str(out)])
    assert quarter.exit_code != 0 and "YYYY-MM" in quarter.output
    nowhere = CliRunner().invoke(hub_main, ["publish", "2026-11", "--data", str(tmp_path / "no"), "-o", str(out)])
    assert nowhere.exit_code != 0 and "does not exist" in nowhere.output


def test_the_export_escapes_names_and_zips() -> None:
    rows = [{"rank": 1, "entity": "D9", "name": "<b>局</b>", "score": 55.5, "grade": "不合格",
             "blocks": {"timeliness": 20}, "staff_id": "S1", "case_ids": ["X"],
             "deductions": [{"block": "timeliness", "points": 3, "reason": "R2 超期 黄牌 ×1",
                             "case_ids": ["X-1"], "card_ids": ["K-1"]}]}]  # fmt: skip
    data = public_ranking(rows, month="2026-11", city=None, generated_at=datetime(2026, 12, 1, tzinfo=UTC),
                          checkpoint=None, grades=(("优秀", 90.0), ("良好", 80.0), ("合格", 60.0)))  # fmt: skip
    page = render_html(data)
    assert "&lt;b&gt;局&lt;/b&gt;" in page and "<b>局" not in page
    assert "X-1" not in json.dumps(data) and "K-1" not in json.dumps(data) and "S1" not in json.dumps(data)
    assert data["summary"]["by_grade"]["不合格"] == 1
    with zipfile.ZipFile(io.BytesIO(export_zip(data))) as archive:
        assert sorted(archive.namelist()) == ["xiaoneng-ranking-2026-11/index.html",
                                              "xiaoneng-ranking-2026-11/ranking.json"]
