#!/usr/bin/env python3
"""Web benchmark: the monitoring room's pages over a store of N cases, and a card's way to the wall.

1. A hub store with ``--cases`` cases (``bench/webdata.py``; reused with ``--reuse``).
2. Server time of the overview wall, of case-board pages (no filter, deep pages, each filter, the
   full-text search) and of case pages, each request timed inside the hub's process through the
   WSGI app with the real supervision provider (Flask test client, signed in as a monitor).
3. A hub, a Mosquitto broker and an agent as processes on that store (``LocalCluster``): a record
   that raises a card (``case.completed`` charging a fee on a no-fee item, rule R4) is appended to
   the agent's outbox; the time from that append until the card arrives through ``/api/v1/stream``
   is measured by an SSE client, and — with Debian's Chromium — until it shows in the overview
   wall's feed in a real browser. (Both include the agent's send, so they bound "ingested → seen".)

Prints one JSON object (``--json``), e.g. ``{"overview_ms_p95": 12.3, ...}``.

    python bench/web.py --cases 1000000 --data /var/tmp/xn-web --reuse --json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from webdata import build  # noqa: E402

from hub.auth import ScryptParams, connect, create_token, create_user, ensure_schema  # noqa: E402
from hub.engine.localtime import LOCAL_TZ  # noqa: E402
from simulator.cluster import LocalCluster, wait_for  # noqa: E402

PASSWORD = "bench password 12345"  # noqa: S105 - a throwaway bench user
FAST = ScryptParams(n=2**10, r=8, p=1)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 1)


def summary(name: str, values: list[float]) -> dict[str, float]:
    return {f"{name}_ms_p95": p95(values), f"{name}_ms_p50": round(statistics.median(values), 1),
            f"{name}_ms_max": round(max(values), 1), f"{name}_n": len(values)}


def ensure_users(db: Path) -> None:
    conn = connect(db)
    ensure_schema(conn)
    for name, role in (("bench-monitor", "monitor"),):
        if conn.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchone() is None:
            create_user(conn, name, PASSWORD, role, display_name="压测", params=FAST)
    conn.close()


# -- server time ----------------------------------------------------------------------------------


def server_times(db: Path, samples: int, rng: random.Random) -> dict[str, Any]:
    from hub.supervision.queries import SupervisionProvider
    from hub.web.app import create_app, shutdown
    from hub.web.metrics import Registry

    app = create_app({"database": str(db), "secret_key": "bench-secret-0123456789abcdef"},
                     metrics=Registry(), supervision=SupervisionProvider(database=db), scrypt=FAST)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token
    login = client.post("/login", data={"username": "bench-monitor", "password": PASSWORD,
                                        "csrf_token": token.group(1)})
    assert login.status_code == 302, login.status_code
    conn = connect(db)
    ids = [r[0] for r in conn.execute("SELECT case_id FROM cases WHERE rowid IN "
                                      "(SELECT abs(random()) % (SELECT max(rowid) FROM cases) + 1 "
                                      "FROM cases LIMIT ?)", (samples * 2,))]
    depts = [r[0] for r in conn.execute("SELECT DISTINCT dept_code FROM sup_status")]
    items = [r[0] for r in conn.execute("SELECT code FROM sup_names WHERE kind = 'item'")]
    days = conn.execute("SELECT min(substr(accepted_at, 1, 10)), max(substr(accepted_at, 1, 10)) FROM cases").fetchone()
    conn.close()

    def timed(url: str) -> float:
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200 and body, (url, response.status_code)
        return elapsed

    first_overview = timed("/overview")  # a cold start computes the month's ranking once
    overview = [timed("/overview") for _ in range(samples)]
    overview_api = [timed("/api/v1/overview") for _ in range(samples)]
    kinds: dict[str, Callable[[], str]] = {
        "first": lambda: "/cases",
        "page": lambda: f"/cases?page={rng.randint(2, 200)}",
        "status": lambda: f"/cases?status={rng.choice(['yellow', 'red', 'reminder', 'paused', 'provisional'])}",
        "dept": lambda: f"/cases?dept={rng.choice(depts)}&page={rng.randint(1, 20)}",
        "item": lambda: f"/cases?item={rng.choice(items)}",
        "dates": lambda: f"/cases?from={days[0]}&to={days[1]}&page={rng.randint(1, 20)}",
        "search": lambda: f"/cases?q={rng.choice(ids)}",
        "search_name": lambda: "/cases?q=" + rng.choice(["食品经营", "营业执照", "户口迁移", "有限公司"]),
    }
    by_kind: dict[str, list[float]] = {k: [] for k in kinds}
    cases_page: list[float] = []
    for i in range(samples * 2):
        kind = list(kinds)[i % len(kinds)]
        value = timed(kinds[kind]())
        by_kind[kind].append(value)
        cases_page.append(value)
    detail = [timed(f"/cases/{case_id}") for case_id in ids[:samples]]
    shutdown(app)
    out: dict[str, Any] = {}
    out.update(summary("overview", overview))
    out["overview_ms_first"] = round(first_overview, 1)
    out.update({k.replace("overview", "overview_api"): v for k, v in summary("overview", overview_api).items()})
    out.update(summary("cases_page", cases_page))
    out["cases_page_ms_p95_by_kind"] = {k: p95(v) for k, v in by_kind.items()}
    out.update(summary("case_detail", detail))
    return out


# -- a card's way to the wall ---------------------------------------------------------------------


def answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class StreamWatcher:
    """Reads /api/v1/stream with a bearer token and notes when each case's card arrives."""

    def __init__(self, url: str, token: str) -> None:
        import requests

        self.seen: dict[str, float] = {}
        self._response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=30)
        self._response.raise_for_status()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        kind = ""
        try:
            for line in self._response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "card.raised":
                    case_id = json.loads(line[6:]).get("case_id")
                    if case_id:
                        self.seen.setdefault(case_id, time.perf_counter())
        except Exception:  # noqa: BLE001 - the stream ends when the hub stops
            return

    def close(self) -> None:
        self._response.close()


def acceptance(case_id: str) -> dict[str, Any]:
    """A case of a no-fee item, accepted now."""
    return {"case_id": case_id, "item_code": "IT001", "item_name": "食品经营许可", "dept_code": "D01",
            "dept_name": "市市场监督管理局", "accepted_at": datetime.now(LOCAL_TZ).isoformat(timespec="seconds"),
            "case_kind": 2, "promised_limit": {"value": 5, "unit": "G"}, "statutory_limit": {"value": 20, "unit": "G"},
            "window_id": "W01", "staff_id": "S0001", "fee_standard_fen": 0}


def fee_completion(case_id: str) -> dict[str, Any]:
    """Its completion charging a fee: rule R4 raises a red card on ingest."""
    return {"case_id": case_id, "at": datetime.now(LOCAL_TZ).isoformat(timespec="seconds"), "result_code": 6,
            "fee_charged_fen": 5000}


def alert_latency(root: Path, samples: int, use_browser: bool) -> dict[str, Any]:
    from agent.outbox import Outbox
    from shared.timefmt import iso_local

    cluster = LocalCluster(root, ["bench-web-a"], site_id="bench-hall")
    cluster.setup()
    cluster.set_port(cluster.port)  # a reused store keeps the agent's bundle from an earlier run
    db = cluster.hub_dir / "hub.sqlite"
    ensure_users(db)
    conn = connect(db)
    token, _row = create_token(conn, "bench-monitor", "bench stream")
    conn.close()
    out: dict[str, Any] = {}
    try:
        cluster.start_broker()
        cluster.start_hub()
        cluster.start_agent("bench-web-a")
        base = f"http://127.0.0.1:{cluster.http_port}"
        outbox_path = cluster.agent_dir("bench-web-a") / "data" / "outbox.sqlite"
        wait_for(outbox_path.exists, 30, "the agent's outbox")
        wait_for(lambda: answers(base + "/login"), 120, "the hub's web server")
        watcher = StreamWatcher(base + "/api/v1/stream", token)

        def emit(case_id: str) -> float:
            """Accept a case, then (timed) complete it with a fee; returns when the completion was appended."""
            outbox = Outbox(outbox_path, "bench-web-a")
            try:
                outbox.append("case.accepted", iso_local(time.time()), acceptance(case_id))
                time.sleep(0.3)
                started = time.perf_counter()
                outbox.append("case.completed", iso_local(time.time()), fee_completion(case_id))
            finally:
                outbox.close()
            return started

        run = int(time.time())
        started = emit(f"WARM-{run}")  # the first card waits for the supervision's restore
        wait_for(lambda: f"WARM-{run}" in watcher.seen, 600, "the first card (supervision restore)")
        out["alert_first_ms"] = round((watcher.seen[f"WARM-{run}"] - started) * 1000, 1)
        sse: list[float] = []
        for i in range(samples):
            case_id = f"SSE-{run}-{i}"
            started = emit(case_id)
            wait_for(lambda c=case_id: c in watcher.seen, 30, f"the card of {case_id}")
            sse.append((watcher.seen[case_id] - started) * 1000)
            time.sleep(0.2)
        out.update({k.replace("alert_sse", "alert_to_sse"): v for k, v in summary("alert_sse", sse).items()})
        if use_browser and CHROMIUM.exists():
            out.update(browser_latency(base, samples, emit, run))
        watcher.close()
    finally:
        cluster.stop_all()
    return out


def browser_latency(base: str, samples: int, emit: Callable[[str], float], run: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    seen: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(base + "/login")
        page.fill("input[name=username]", "bench-monitor")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click(".login-box button[type=submit]")
        page.goto(base + "/overview")
        page.wait_for_selector("#live-state.on")
        for i in range(samples):
            case_id = f"WALL-{run}-{i}"
            started = emit(case_id)
            page.wait_for_selector(f'#feed li[data-case-id="{case_id}"]', timeout=30_000)
            seen.append((time.perf_counter() - started) * 1000)
            time.sleep(0.2)
        browser.close()
    return summary("alert_to_browser", seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=None, help="directory of the store (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="use the store already in --data")
    parser.add_argument("--samples", type=int, default=200, help="requests per measured page kind")
    parser.add_argument("--alerts", type=int, default=20, help="cards timed on their way to the wall")
    parser.add_argument("--no-cluster", action="store_true", help="server times only")
    parser.add_argument("--no-browser", action="store_true", help="time cards to the SSE client only")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    say = (lambda *_a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    holder = None
    if args.data is None:
        holder = tempfile.TemporaryDirectory(prefix="xn-bench-web-")
        args.data = Path(holder.name)
    db = args.data / "hub" / "hub.sqlite"
    result: dict[str, Any] = {"cases": args.cases}
    if args.reuse and db.exists():
        conn = connect(db)
        result["cases"] = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        conn.close()
        result["build_seconds"] = 0
    else:
        if db.exists():
            raise SystemExit(f"{db} exists: pass --reuse, or another --data")
        say(f"building a store of {args.cases:,} cases in {db.parent} …")
        made = build(db.parent, args.cases, log=say)
        result.update(cases=made["cases"], records=made["records"], cards=made["cards"],
                      open_cases=made["open"], build_seconds=made["seconds"])
    ensure_users(db)
    say("timing pages …")
    result.update(server_times(db, args.samples, random.Random(11)))
    if not args.no_cluster:
        say("timing cards to the wall …")
        result.update(alert_latency(args.data, args.alerts, not args.no_browser))
        if "alert_to_browser_ms_p95" not in result and "alert_to_sse_ms_p95" in result:
            result["alert_to_browser_ms_p95"] = None
    result["limits"] = {"server_ms_p95": 200, "alert_to_browser_ms_p95": 1000}
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    if holder is not None:
        holder.cleanup()


if __name__ == "__main__":
    main()
