"""外网公布: the month's department ranking as a read-only static export for a public site.

``xiaoneng-hub publish MONTH --data DIR -o OUTDIR [--city NAME]`` writes two files a bureau can
copy to its public web site as they are:

- ``index.html``: one self-contained page (its CSS inside, no scripts, no external resources),
  in Chinese: the grade bands, the ranked table of departments with their score, grade, points per
  block and the counts behind them (cases completed, on time, early, standing yellow and red cards,
  complaints, ratings), the lost points explained per rule, when it was generated, and the hub's
  newest signed ledger checkpoint (size and root) for provenance;
- ``ranking.json``: the same data (:func:`public_ranking`).

Only what may be public goes out: department codes and names, scores and counts. Staff, windows,
items, case ids, card ids and complaint ids never appear (the rows are rebuilt field by field from
a whitelist, not filtered). The rows come from the supervision's own ranking query
(:meth:`hub.supervision.queries.SupervisionProvider.rankings`, the rankings page's); the UI's
rankings page offers the same export as a zip for admins and monitors.
"""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from jinja2 import Environment, select_autoescape

from hub.engine.scoring import BLOCK_WORDS, Period

SCHEMA = "xiaoneng.public-ranking/1"
FILES = ("index.html", "ranking.json")
_COUNTS = ("cases_completed", "on_time", "early", "yellow", "red")
_COMPLAINTS = ("filed", "judged", "answered_on_time", "substantiated")


class PublishError(ValueError):
    """The export cannot be made (no such month, no data); the message says what to do."""


def month_label(month: str) -> str:
    """``2026-11`` → ``2026年11月``; a quarter or anything else is refused."""
    period = Period.parse(month)
    if "Q" in period.label:
        raise PublishError(f"publishing needs a month YYYY-MM, got {month!r}")
    return f"{period.start.year}年{period.start.month}月"


def checkpoint_of(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The hub's newest signed checkpoint (``size``, ``root`` hex, ``timestamp``, ``origin``), None
    before the first (or in a store without a ledger)."""
    from hub.ledger_service import latest_checkpoint

    try:
        cp = latest_checkpoint(conn)
    except sqlite3.OperationalError:  # no ledger tables in this database
        return None
    if cp is None:
        return None
    return {"origin": cp.origin, "size": cp.size, "root": cp.root.hex(), "timestamp": cp.timestamp}


def _number(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _count(value: Any) -> int:
    return int(value or 0)


def _public_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ranking row reduced to its public fields (whitelist)."""
    counts: Mapping[str, Any] = row.get("counts") or {}
    complaints: Mapping[str, Any] = counts.get("complaints") or {}
    ratings: Mapping[str, Any] = counts.get("ratings") or {}
    cards: Mapping[str, Mapping[str, Any]] = counts.get("cards") or {}
    return {
        "rank": _count(row.get("rank")),
        "code": str(row.get("code") or row.get("entity") or ""),
        "name": str(row.get("name") or row.get("code") or row.get("entity") or ""),
        "score": _number(row.get("score")),
        "grade": str(row.get("grade") or ""),
        "points": _number(row.get("points")),
        "max_points": _number(row.get("max_points")),
        "blocks": {str(k): _number(v) for k, v in (row.get("blocks") or {}).items() if k in BLOCK_WORDS},
        "counts": {
            **{name: _count(counts.get(name)) for name in _COUNTS},
            "cards": {str(rule): {str(level): _count(n) for level, n in levels.items()}
                      for rule, levels in sorted(cards.items())},
            "complaints": {name: _count(complaints.get(name)) for name in _COMPLAINTS},
            "ratings": {str(level): _count(n) for level, n in sorted(ratings.items())},
        },
        "deductions": [
            {"block": str(d.get("block") or ""), "points": _number(d.get("points")),
             "reason": str(d.get("reason") or ""), "rule": d.get("rule"), "basis": str(d.get("basis") or "")}
            for d in row.get("deductions") or ()
        ],
    }  # fmt: skip


def public_ranking(
    rows: Sequence[Mapping[str, Any]],
    *,
    month: str,
    city: str | None,
    generated_at: datetime,
    checkpoint: Mapping[str, Any] | None,
    grades: Sequence[tuple[str, float]],
) -> dict[str, Any]:
    """The export's data: the department ``rows`` of ``month`` (from the rankings query) reduced to
    what may be published, with the grade bands, the generation time and the checkpoint."""
    label = month_label(month)
    city_name = city or "全市"
    departments = [_public_row(r) for r in rows]
    by_grade = {name: sum(1 for d in departments if d["grade"] == name) for name, _minimum in grades}
    by_grade["不合格"] = sum(1 for d in departments if d["grade"] == "不合格")
    return {
        "schema": SCHEMA,
        "title": f"{city_name}行政效能电子监察 {label}部门绩效排名",
        "city": city_name,
        "month": Period.parse(month).label,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "grades": [{"grade": name, "min_score": minimum} for name, minimum in grades],
        "blocks": dict(BLOCK_WORDS),
        "summary": {"departments": len(departments), "by_grade": by_grade,
                    "cases_completed": sum(d["counts"]["cases_completed"] for d in departments),
                    "on_time": sum(d["counts"]["on_time"] for d in departments)},
        "departments": departments,
        "provenance": {"checkpoint": dict(checkpoint) if checkpoint is not None else None},
    }  # fmt: skip


_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="xiaoneng-hub publish">
<title>{{ d.title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1f2933;line-height:1.5}
h1{font-size:1.5rem;margin-bottom:.25rem}
.meta{color:#52606d;font-size:.9rem}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #cbd2d9;padding:.35rem .5rem;text-align:right;vertical-align:top}
th{background:#f0f4f8;white-space:nowrap}
td.name,td.grade{white-space:nowrap}
td.name,th.name,td.why{text-align:left}
.g-优秀{color:#0b6e4f;font-weight:bold}.g-良好{color:#1d4e89}.g-合格{color:#7c5e10}.g-不合格{color:#b42318;font-weight:bold}
.why ul{margin:0;padding-left:1.1rem}
footer{margin-top:2rem;color:#52606d;font-size:.8rem;word-break:break-all}
</style>
</head>
<body>
<h1>{{ d.title }}</h1>
<p class="meta">统计月份 {{ d.month }} · 参评部门 {{ d.summary.departments }} 个 ·
办结 {{ d.summary.cases_completed }} 件，其中按时 {{ d.summary.on_time }} 件</p>
<h2>等级标准</h2>
<p>{% for g in d.grades %}{{ g.grade }}：{{ g.min_score | num }} 分及以上；{% endfor %}不合格：低于
{{ d.grades[-1].min_score | num if d.grades else 60 }} 分。得分为各考核项得分之和折算为百分制。</p>
<p>{% for name, n in d.summary.by_grade.items() %}{{ name }} {{ n }} 个{% if not loop.last %}，{% endif %}
{% endfor %}</p>
<h2>部门排名</h2>
{% if d.departments %}
<table>
<thead><tr><th>名次</th><th class="name">部门</th><th>得分</th><th>等级</th>
{% for key, word in d.blocks.items() %}<th>{{ word }}</th>{% endfor %}
<th>办结</th><th>按时</th><th>提前</th><th>黄牌</th><th>红牌</th><th>投诉（属实）</th>
<th class="name">失分说明</th></tr></thead>
<tbody>
{% for r in d.departments %}
<tr><td>{{ r.rank }}</td><td class="name">{{ r.name }}</td><td>{{ r.score | num }}</td>
<td class="grade g-{{ r.grade }}">{{ r.grade }}</td>
{% for key in d.blocks %}<td>{{ r.blocks.get(key) | num }}</td>{% endfor %}
<td>{{ r.counts.cases_completed }}</td><td>{{ r.counts.on_time }}</td><td>{{ r.counts.early }}</td>
<td>{{ r.counts.yellow }}</td><td>{{ r.counts.red }}</td>
<td>{{ r.counts.complaints.filed }}（{{ r.counts.complaints.substantiated }}）</td>
<td class="why">{% if r.deductions %}<ul>{% for x in r.deductions %}
<li>{{ d.blocks.get(x.block, x.block) }}：{{ x.reason }}（{{ x.points | lost }} 分）</li>
{% endfor %}</ul>{% else %}—{% endif %}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p>本月没有参评部门。</p>
{% endif %}
<footer>
<p>生成时间 {{ d.generated_at | moment }}。本页由行政效能电子监察系统自动生成，数据为只读公开版本，
不含工作人员与办件信息；同一数据的机器可读版本见 ranking.json。</p>
{% if d.provenance.checkpoint %}
<p>数据来源：监察中心账本检查点 记录数 {{ d.provenance.checkpoint.size }}，根哈希 {{ d.provenance.checkpoint.root }}
（{{ d.provenance.checkpoint.timestamp }}）。</p>
{% else %}
<p>数据来源：监察中心尚未签发账本检查点。</p>
{% endif %}
</footer>
</body>
</html>
"""


def _num(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return f"{round(float(value), 2):g}"


def _lost(points: Any) -> str:
    """A deduction's points as lost (−) or given back (+, a cap or floor)."""
    if points is None:
        return "—"
    return f"{'−' if float(points) >= 0 else '+'}{_num(abs(float(points)))}"


def _moment(text: str) -> str:
    """``2026-12-01T09:30:00+08:00`` → ``2026-12-01 09:30:00（UTC+08:00）``."""
    moment = datetime.fromisoformat(text)
    offset = moment.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{moment:%Y-%m-%d %H:%M:%S}（{zone}）"


def _environment() -> Environment:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True)
    env.filters["num"] = _num
    env.filters["lost"] = _lost
    env.filters["moment"] = _moment
    return env


def render_html(data: Mapping[str, Any]) -> str:
    """``index.html`` of the export (escaped, self-contained, no scripts)."""
    return _environment().from_string(_PAGE).render(d=data)


def render_json(data: Mapping[str, Any]) -> str:
    """``ranking.json`` of the export."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def export_files(data: Mapping[str, Any]) -> dict[str, bytes]:
    """``{file name: content}`` of the export."""
    return {"index.html": render_html(data).encode(), "ranking.json": render_json(data).encode()}


def write_export(outdir: Path, data: Mapping[str, Any]) -> list[Path]:
    """Write the export's files into ``outdir`` (made if missing); returns their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in export_files(data).items():
        path = outdir / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
        written.append(path)
    return written


def export_zip(data: Mapping[str, Any]) -> bytes:
    """The export as a zip of its files inside a folder ``xiaoneng-ranking-<month>/``."""
    buffer = io.BytesIO()
    folder = f"xiaoneng-ranking-{data['month']}"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in export_files(data).items():
            archive.writestr(f"{folder}/{name}", content)
    return buffer.getvalue()


def export_from_store(data_dir: Path, month: str, city: str | None, now: datetime) -> dict[str, Any]:
    """The export's data from a hub's data directory (read-only; the hub may be running)."""
    from hub.supervision.queries import SupervisionProvider
    from hub.supervision.service import engine_config

    month_label(month)
    path = data_dir / "hub.sqlite"
    if not path.exists():
        raise PublishError(f"{path} does not exist: is --data the hub's data directory?")
    config = engine_config(data_dir)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.execute("PRAGMA busy_timeout=10000")
    try:
        provider = SupervisionProvider(database=path, config=config, clock=lambda: now, cache_s=0,
                                       background=False)  # fmt: skip
        rows = list(provider.rankings(conn, month, "department", None))
        checkpoint = checkpoint_of(conn)
    finally:
        conn.close()
    if not rows:
        raise PublishError(f"no department was scored in {month} in {path}: nothing to publish "
                           "(is the month right, and has the hub supervised cases in it?)")  # fmt: skip
    return public_ranking(rows, month=month, city=city, generated_at=now, checkpoint=checkpoint,
                          grades=config.scoring.grades)  # fmt: skip


@click.command("publish")
@click.argument("month")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="the hub's data directory")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="folder to write index.html and ranking.json into (made if missing)")
@click.option("--city", default=None, help="the city's name in the title (default 全市)")
def publish_command(month: str, data_dir: Path, outdir: Path, city: str | None) -> None:
    """外网公布 / The department ranking of MONTH (YYYY-MM) as a static export for a public site."""
    from hub.engine.localtime import LOCAL_TZ
    from shared.errors import ConfigError

    try:
        data = export_from_store(data_dir, month, city, datetime.now(LOCAL_TZ))
    except ValueError as exc:  # PublishError, or a month Period cannot parse
        raise click.ClickException(str(exc)) from None
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        paths = write_export(outdir, data)
    except OSError as exc:
        raise click.ClickException(f"cannot write the export into {outdir}: {exc}") from None
    checkpoint = data["provenance"]["checkpoint"]
    where = (f"checkpoint size {checkpoint['size']}, root {checkpoint['root'][:16]}…" if checkpoint
             else "no signed checkpoint yet")  # fmt: skip
    click.echo(f"已导出 / published: {', '.join(str(p) for p in paths)} — {data['month']}: "
               f"{data['summary']['departments']} departments ({where})")
