"""事项目录 benchmark: importing a large catalogue file, and checking a busy month's cases against it.

Builds (or reuses) a store of ``--cases`` cases with ``bench/webdata.py`` (real records, about 2,740
cases a day, so 100,000 cases hold about one full month), imports a catalogue of its 100 items with
a few made to disagree (limits changed, items left out), and times ``month_findings`` for the
fullest month — what ``/catalogue/findings`` does — and the import and export of a catalogue of
``--items`` items in CSV and Excel. Prints one JSON object.

    python bench/catalogue.py --cases 100000 --json
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from webdata import build, catalogue  # noqa: E402

from hub.catalogue import store  # noqa: E402
from hub.catalogue.cases import FindingsCache, month_findings  # noqa: E402
from hub.catalogue.files import read_csv, read_xlsx, write_csv, write_xlsx  # noqa: E402
from hub.catalogue.model import CatalogueItem, Limit  # noqa: E402


def bench_items(seed: int = 7) -> list[CatalogueItem]:
    """The 100 items of the bench store as the catalogue has them: items 1-5 with a promised limit one
    day shorter, items 6-8 left out (unknown), the rest as the cases say."""
    items = []
    for n, (code, name, dept, _dept_name, (_kind, promised, statutory)) in enumerate(
            catalogue(random.Random(seed))["items"], start=1):
        if 6 <= n <= 8:
            continue
        p_val = promised[0] - 1 if n <= 5 and promised[0] > 1 else promised[0]
        items.append(CatalogueItem(code, name, dept, Limit(statutory[0], statutory[1]), Limit(p_val, promised[1]),
                                   0, ""))  # fmt: skip
    return items


def large_items(n: int) -> list[CatalogueItem]:
    return [CatalogueItem(f"99010000{i:09d}", f"事项{i}", f"D{i % 40:02d}", Limit(20, "G"), Limit(10, "G"),
                          (i % 5) * 1000, "《中华人民共和国行政许可法》第四十二条") for i in range(n)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000, help="items of the large import file")
    parser.add_argument("--data", type=Path, default=None, help="store directory (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="reuse the store in --data if there is one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="xn-catalogue-bench-")
    data = args.data or Path(tmp.name)
    out: dict[str, object] = {"bench": "catalogue", "cases": args.cases}
    db = data / "hub.sqlite"
    if not (args.reuse and db.exists()):
        made = build(data, args.cases, log=lambda *a: None)
        out["store_build_s"] = made.get("seconds", made.get("elapsed_s"))
    conn = sqlite3.connect(db, isolation_level=None)
    store.ensure_schema(conn)
    store.save_version(conn, bench_items(), username="bench", source="import", note="bench", at="2026-01-01T00:00:00Z")
    month = conn.execute("SELECT substr(accepted_at, 1, 7) AS m, COUNT(*) FROM cases GROUP BY m "
                         "ORDER BY 2 DESC LIMIT 1").fetchone()  # fmt: skip
    t0 = time.perf_counter()
    rows, checked, capped = month_findings(conn, month[0])
    out.update(month=month[0], month_cases=month[1], checked=checked, capped=capped,
               findings=len(rows), findings_by_kind=dict(Counter(r.finding.code for r in rows)),
               month_findings_s=round(time.perf_counter() - t0, 3))  # fmt: skip
    cache = FindingsCache()
    month_findings(conn, month[0], cache=cache)
    t0 = time.perf_counter()
    warm, _, _ = month_findings(conn, month[0], cache=cache)
    assert len(warm) == len(rows)
    out["month_findings_cached_s"] = round(time.perf_counter() - t0, 3)
    dept = conn.execute("SELECT dept_code FROM cases GROUP BY dept_code LIMIT 1").fetchone()[0]
    t0 = time.perf_counter()
    dept_rows, dept_checked, _ = month_findings(conn, month[0], dept)
    out.update(dept_checked=dept_checked, dept_findings=len(dept_rows),
               dept_month_findings_s=round(time.perf_counter() - t0, 3))  # fmt: skip
    big = large_items(args.items)
    for fmt, write, read in (("csv", write_csv, read_csv), ("xlsx", write_xlsx, read_xlsx)):
        t0 = time.perf_counter()
        body = write(big)
        written = time.perf_counter() - t0
        t0 = time.perf_counter()
        parsed = read(body)
        assert parsed == big
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.save_version(conn, parsed, username="bench", source="import", note=fmt, at="2026-01-02T00:00:00Z")
        out[f"{fmt}_{args.items}_items"] = {"bytes": len(body), "write_s": round(written, 3),
                                            "read_s": round(read_s, 3),
                                            "save_version_s": round(time.perf_counter() - t0, 3)}  # fmt: skip
    t0 = time.perf_counter()
    history = store.history(conn, "99010000000000007")
    out["item_history_s"] = round(time.perf_counter() - t0, 4)
    out["item_history_versions"] = len(history)
    conn.close()
    tmp.cleanup()
    print(json.dumps(out, ensure_ascii=False) if args.json else json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
