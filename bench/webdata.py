"""A hub store with N cases for ``bench/web.py``, written straight into the supervision's tables.

Cases are spread over the last year (about 2,700 a day for a million), across 20 departments,
67 windows, 200 staff and 100 items with realistic limits. Each case is the real thing, only made
in bulk: its ``case.accepted`` (and, when finished, ``case.completed``) records are chained,
stored and put in the ledger by the hub's own :class:`hub.store.Store`; its ``cases`` row is what
:func:`hub.supervision.rows.compute_row` computes from the engine's :class:`CaseState` for those
events (one computation per distinct (day, item limit, completion) shape, reused); the aggregates
(``sup_daily``, ``sup_status``) are the sums of :func:`contributions` and :func:`status_key`; the
overdue cases have their R2 (and R3) cards. The supervision cursor is set past these records, so
a hub started on the store takes them as processed and replays only the open work.

    python bench/webdata.py --cases 1000000 --data /tmp/xn-web
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.engine.calendar import WorkCalendar  # noqa: E402
from hub.engine.cards import Action, Card, CardDecision  # noqa: E402
from hub.engine.cases import CaseState  # noqa: E402
from hub.engine.clock import Unit, due_date  # noqa: E402
from hub.engine.config import EngineConfig, Level  # noqa: E402
from hub.engine.events import parse_event  # noqa: E402
from hub.engine.localtime import LOCAL_TZ  # noqa: E402
from hub.ingest import NewRecord  # noqa: E402
from hub.store import Store  # noqa: E402
from hub.supervision.rows import COLUMNS, CaseRow, compute_row, contributions, status_key  # noqa: E402
from hub.supervision.schema import ensure_schema  # noqa: E402
from hub.supervision.store import card_values  # noqa: E402
from shared.batch import BatchHeader  # noqa: E402
from shared.record import ChainBuilder  # noqa: E402

DEPARTMENTS = [
    ("D01", "市市场监督管理局"), ("D02", "市公安局"), ("D03", "市自然资源和规划局"), ("D04", "市住房和城乡建设局"),
    ("D05", "市人力资源和社会保障局"), ("D06", "市卫生健康委员会"), ("D07", "市交通运输局"), ("D08", "市生态环境局"),
    ("D09", "市民政局"), ("D10", "市教育局"), ("D11", "市文化和旅游局"), ("D12", "市农业农村局"),
    ("D13", "市水务局"), ("D14", "市商务局"), ("D15", "市税务局"), ("D16", "市医疗保障局"),
    ("D17", "市应急管理局"), ("D18", "市城市管理局"), ("D19", "市司法局"), ("D20", "市退役军人事务局"),
]
ITEM_WORDS = ["许可", "登记", "备案", "核准", "审批"]
SUBJECTS = ["食品经营", "营业执照", "建设工程规划", "户口迁移", "道路运输", "排污", "医师执业", "危险化学品经营",
            "取水", "药品零售", "出版物经营", "娱乐场所", "民办学校", "公共场所卫生", "特种设备", "林木采伐",
            "燃气经营", "广告设置", "律师执业", "养老机构"]
LIMITS = [  # (case kind, promised, statutory)
    (1, (0, "G"), (0, "G")), (2, (5, "G"), (20, "G")), (2, (10, "G"), (20, "G")),
    (2, (15, "G"), (30, "G")), (2, (20, "G"), (60, "G")), (2, (7, "Z"), (20, "G")),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚"
BENCH_AGENT = "bench-gen"


def catalogue(rng: random.Random) -> dict[str, Any]:
    """Departments, their windows and staff, and 100 items with limits."""
    windows, staff, items = [], [], []
    for i in range(67):
        code, _name = DEPARTMENTS[i % len(DEPARTMENTS)]
        windows.append((f"W{i + 1:02d}", code))
    for i in range(200):
        window, dept = windows[i % len(windows)]
        staff.append((f"S{i + 1:04d}", rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), window, dept))
    for i in range(100):
        dept, dept_name = DEPARTMENTS[i % len(DEPARTMENTS)]
        name = SUBJECTS[i % len(SUBJECTS)] + ITEM_WORDS[(i // len(SUBJECTS)) % len(ITEM_WORDS)]
        items.append((f"IT{i + 1:03d}", name, dept, dept_name, LIMITS[i % len(LIMITS)]))
    return {"windows": windows, "staff": staff, "items": items}


class Shapes:
    """Case rows computed by the engine, cached by (acceptance day, limit, completion day)."""

    def __init__(self, calendar: WorkCalendar, today: date, now: datetime) -> None:
        self.calendar, self.today, self.now = calendar, today, now
        self.thresholds = EngineConfig().for_case(None, None)
        self.cache: dict[tuple[date, int, date | None], CaseRow] = {}

    def completion_day(self, accepted: date, limit: int, unit: str, draw: float) -> date:
        """80 % early, 15 % on the due day, 5 % one to five units late."""
        if limit == 0:
            days = 0 if draw < 0.97 else 1
        elif draw < 0.80:
            days = max(1, int(limit * (0.3 + draw * 0.8)))
            days = min(days, limit - 1) if limit > 1 else 0
        elif draw < 0.95:
            days = limit
        else:
            days = limit + 1 + int((draw - 0.95) * 100)
        if days == 0:
            return accepted
        found = due_date(self.calendar, accepted, days, Unit(unit)).day
        assert found is not None
        return found

    def row(self, accepted: date, limit_ix: int, completed: date | None, hour: int) -> CaseRow:
        """The row of a case accepted at ``hour`` on ``accepted`` (the hour changes only that time)."""
        key = (accepted, limit_ix, completed)
        hit = self.cache.get(key)
        if hit is None:
            hit = self._compute(accepted, limit_ix, completed)
            self.cache[key] = hit
        at = hit.accepted_at
        assert at is not None
        return replace(hit, accepted_at=f"{at[:11]}{hour:02d}{at[13:]}")

    def _compute(self, accepted: date, limit_ix: int, completed: date | None) -> CaseRow:
        hour = 9
        kind, (p, pu), (s, su) = LIMITS[limit_ix]
        at = datetime(accepted.year, accepted.month, accepted.day, hour, 30, tzinfo=LOCAL_TZ)
        body = {"case_id": "X", "item_code": "I", "item_name": "n", "dept_code": "D", "dept_name": "d",
                "accepted_at": at.isoformat(), "case_kind": kind, "promised_limit": {"value": p, "unit": pu},
                "statutory_limit": {"value": s, "unit": su}}
        case = CaseState("X", self.thresholds)
        event = parse_event("case.accepted", body, "00" * 32)
        assert event is not None
        case.apply(event)
        if completed is not None:
            done = datetime(completed.year, completed.month, completed.day, 16, 0, tzinfo=LOCAL_TZ)
            finished = parse_event("case.completed", {"case_id": "X", "at": done.isoformat(), "result_code": 0},
                                   "11" * 32)
            assert finished is not None
            case.apply(finished)
        return compute_row(case, self.calendar, self.today, now=self.now)


def _insert_rows(conn: sqlite3.Connection, rows: list[tuple[int, CaseRow]], texts: list[tuple[int, str]]) -> None:
    marks = ", ".join("?" * (len(COLUMNS) + 1))
    conn.executemany(f"INSERT INTO cases(rowid, {', '.join(COLUMNS)}) VALUES ({marks})",
                     [(rowid, *row.values()) for rowid, row in rows])
    conn.executemany("INSERT INTO cases_fts(rowid, text) VALUES (?, ?)", texts)


def build(data_dir: Path, n: int, seed: int = 7, now: datetime | None = None, log: Any = print) -> dict[str, Any]:
    """Write ``n`` cases into ``data_dir/hub.sqlite``; returns what was made and how long it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = (now or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ)
    today = now.date()
    calendar = WorkCalendar()
    shapes = Shapes(calendar, today, now)
    cat = catalogue(rng)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "hub.sqlite"
    store = Store(path, synchronous="OFF")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    ensure_schema(conn)
    days = max(30, n // 2740)
    chain = ChainBuilder(BENCH_AGENT, "bench-stream")
    daily: Counter[tuple[str, str, str]] = Counter()
    status: Counter[tuple[str, str]] = Counter()
    next_record = store.frontier.size + 1
    made = cards = 0
    batch_rows: list[tuple[int, CaseRow]] = []
    texts: list[tuple[int, str]] = []
    events: list[tuple[str, int, str, str]] = []
    new_cards: list[Card] = []
    pending: list[NewRecord] = []

    def flush() -> None:
        nonlocal batch_rows, texts, events, new_cards, pending
        if not pending:
            return
        with store.transaction():
            first_id = store.frontier.size + 1
            header = BatchHeader(BENCH_AGENT, "bench-stream", pending[0].seq, pending[-1].seq,
                                 pending[-1].hash.hex(), pending[-1].seq, now.isoformat())
            store.add_batch(header, pending, now.isoformat())
            assert first_id == events[0][1], "record ids follow the order the records were made"
        conn.execute("BEGIN")
        _insert_rows(conn, batch_rows, texts)
        conn.executemany("INSERT INTO case_events(case_id, record_id, type, at) VALUES (?,?,?,?)", events)
        cards = [card_values(c, now) for c in new_cards]
        if cards:  # as many placeholders as the store's own row has columns
            conn.executemany("INSERT OR IGNORE INTO cards VALUES (" + ", ".join("?" * len(cards[0])) + ")", cards)
        conn.execute("COMMIT")
        batch_rows, texts, events, new_cards, pending = [], [], [], [], []

    per_day = n / days
    for day_ix in range(days):
        accepted_day = today - timedelta(days=days - 1 - day_ix)
        count = int(per_day * (day_ix + 1)) - int(per_day * day_ix)
        for j in range(count):
            made += 1
            item_code, item_name, dept, dept_name, _limits = cat["items"][rng.randrange(100)]
            limit_ix = (int(item_code[2:]) - 1) % len(LIMITS)
            kind, (p, pu), _stat = LIMITS[limit_ix]
            windows = [w for w, d in cat["windows"] if d == dept]
            window = windows[j % len(windows)]
            staff_id, staff_name, _w, _d = cat["staff"][(j * 7 + day_ix) % len(cat["staff"])]
            hour = 9 + (j % 8)
            done_day = shapes.completion_day(accepted_day, p, pu, rng.random())
            completed = done_day if done_day <= today and not (done_day == today and hour >= 15) else None
            shape = shapes.row(accepted_day, limit_ix, completed, hour)
            case_id = f"3701{accepted_day:%Y%m%d}{j:06d}"
            applicant = rng.choice(SURNAMES) + rng.choice(GIVEN) + ("有限公司" if j % 3 == 0 else "")
            accepted_at = shape.accepted_at
            assert accepted_at is not None
            body = {"case_id": case_id, "item_code": item_code, "item_name": item_name, "dept_code": dept,
                    "dept_name": dept_name, "accepted_at": accepted_at, "case_kind": kind,
                    "promised_limit": {"value": p, "unit": pu},
                    "statutory_limit": {"value": LIMITS[limit_ix][2][0], "unit": LIMITS[limit_ix][2][1]},
                    "window_id": window, "staff_id": staff_id, "staff_name": staff_name, "applicant_name": applicant}
            first = chain.append("case.accepted", accepted_at, body)
            pending.append(NewRecord(first.seq, first.data, first.hash, "case.accepted", accepted_at))
            rid = next_record
            next_record += 1
            events.append((case_id, rid, "case.accepted", accepted_at))
            last_id = rid
            if shape.completed_at is not None:
                done = chain.append("case.completed", shape.completed_at,
                                    {"case_id": case_id, "at": shape.completed_at, "result_code": 6})
                pending.append(NewRecord(done.seq, done.data, done.hash, "case.completed", shape.completed_at))
                last_id = next_record
                events.append((case_id, next_record, "case.completed", shape.completed_at))
                next_record += 1
            row = replace(shape, case_id=case_id, dept_code=dept, dept_name=dept_name, item_code=item_code,
                          item_name=item_name, window_id=window, staff_id=staff_id, staff_name=staff_name,
                          applicant_name=applicant, last_record_id=last_id)
            if row.status in ("yellow", "red") or row.outcome == "overdue":
                new_cards.extend(overdue_cards(row, first.hash.hex(), now))
            if row.status == "red":
                row = replace(row, red_card=1)
            for key in contributions(row):
                daily[key] += 1
            if (sk := status_key(row)) is not None:
                status[sk] += 1
            batch_rows.append((made, row))
            texts.append((made, row.search_text))
            if len(batch_rows) >= 20_000:
                cards += len(new_cards)
                flush()
                if made % 200_000 < 20_000:
                    log(f"  {made:,} cases ({time.perf_counter() - started:.0f} s)")
    cards += len(new_cards)
    flush()
    for (_cid, level, raised_day, dept) in conn.execute(
            "SELECT card_id, level, substr(raised_at, 1, 10), dept_code FROM cards").fetchall():
        daily[(raised_day, dept or "", f"cards_{level}")] += 1
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO sup_daily(day, dept_code, metric, n) VALUES (?,?,?,?) ON CONFLICT DO "
                     "UPDATE SET n = n + excluded.n", [(*k, v) for k, v in daily.items()])
    conn.executemany("INSERT INTO sup_status(dept_code, status, n) VALUES (?,?,?) ON CONFLICT DO "
                     "UPDATE SET n = n + excluded.n", [(*k, v) for k, v in status.items()])
    names = [("dept", c, nm, c) for c, nm in DEPARTMENTS]
    names += [("item", c, nm, d) for c, nm, d, _dn, _l in cat["items"]]
    names += [("window", w, f"{w} 号窗口", d) for w, d in cat["windows"]]
    names += [("staff", s, nm, d) for s, nm, _w, d in cat["staff"]]
    conn.executemany("INSERT OR REPLACE INTO sup_names(kind, code, name, dept_code) VALUES (?,?,?,?)", names)
    conn.execute("INSERT OR REPLACE INTO sup_state(key, value) VALUES ('cursor', ?)", (str(next_record - 1),))
    conn.execute("INSERT OR REPLACE INTO sup_state(key, value) VALUES ('version', '1')")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    store.close()
    return {"cases": made, "records": next_record - 1, "cards": cards, "days": days,
            "shapes": len(shapes.cache), "seconds": round(time.perf_counter() - started, 1),
            "open": sum(status.values())}


def overdue_cards(row: CaseRow, evidence: str, now: datetime) -> list[Card]:
    """The R2 card of an overdue case (closed if the case is finished), and R3 for a red one."""
    out = []
    due = row.due_date or ""
    moment = datetime.fromisoformat(due + "T00:00:00+08:00") + timedelta(days=1)
    for rule, level in (("R2", Level.YELLOW), ("R3", Level.RED)):
        if rule == "R3" and row.status != "red":
            continue
        decision = CardDecision(
            key=f"{rule}|case:{row.case_id}|{due}", rule=rule, level=level, rule_type="时效",
            subject=f"case:{row.case_id}", moment=moment, message=f"办件 {row.case_id} 超过承诺期限 {due}",
            evidence=(evidence,), case_id=row.case_id, dept_code=row.dept_code, window_id=row.window_id,
            staff_id=row.staff_id, item_code=row.item_code,
        )
        card = Card.raise_(decision, min(moment, now))
        if row.completed_at is not None:
            at = datetime.fromisoformat(row.completed_at)
            for action in (Action.NOTIFY, Action.RECTIFY, Action.CLOSE):
                card = card.apply(action, max(at, card.raised_at), "bench", "")
        out.append(card)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, required=True, help="directory for hub.sqlite (must not hold one)")
    args = parser.parse_args()
    if (args.data / "hub.sqlite").exists():
        raise SystemExit(f"{args.data / 'hub.sqlite'} exists; choose an empty directory")
    print(json.dumps(build(args.data, args.cases), ensure_ascii=False))


if __name__ == "__main__":
    main()
