"""The supervision tables in the hub database (``DATA/hub.sqlite``), created if absent.

Written only by the supervision service (one writer thread, plus card actions under its lock);
read by the web provider and the reports through their own connections.

==================  ==========================================================================
``sup_state``       key/value: ``cursor`` (last ``records.id`` processed), ``version``
``cases``           one row per case: who, clock, status, due dates, outcome (indexed for the board)
``cases_fts``       trigram full-text index of case number, item, applicant, staff, department
``case_events``     case → record ids (the timeline)
``sup_subject_events``  complaint / disclosure / window subject → record ids (restart replay)
``cards``           one row per card (unique id and key), its JSON and searchable columns
``card_actions``    every lifecycle action with actor, note and time (audit)
``case_ratings``    好差评 per case, with rectification
``complaints``      complaint clocks (report, scoring)
``disclosures``     information-disclosure request clocks (report)
``sup_daily``       incremental aggregates per (day, department, metric)
``sup_status``      open-case counts per (department, status)
``sup_names``       names of departments, items, windows, staff (from the records)
``sup_errors``      records the supervision could not interpret (with the record id)
==================  ==========================================================================
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sup_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    dept_code TEXT, dept_name TEXT, item_code TEXT, item_name TEXT,
    window_id TEXT, staff_id TEXT, staff_name TEXT, applicant_name TEXT,
    case_kind INTEGER, status TEXT NOT NULL, active INTEGER NOT NULL,
    accepted_at TEXT, unit TEXT, promised_limit INTEGER, statutory_limit INTEGER,
    due_date TEXT, due_provisional INTEGER NOT NULL DEFAULT 0, statutory_due TEXT,
    reminder_date TEXT, paused INTEGER NOT NULL DEFAULT 0,
    completed_at TEXT, completed_day TEXT, outcome TEXT, overdue_days INTEGER,
    result_code INTEGER, refused_at TEXT, clock TEXT, anomaly TEXT,
    red_card INTEGER NOT NULL DEFAULT 0, bad_rating_open INTEGER NOT NULL DEFAULT 0,
    last_record_id INTEGER, updated_at TEXT
);
CREATE INDEX IF NOT EXISTS cases_accepted ON cases(accepted_at);
CREATE INDEX IF NOT EXISTS cases_dept_accepted ON cases(dept_code, accepted_at);
CREATE INDEX IF NOT EXISTS cases_status_accepted ON cases(status, accepted_at);
CREATE INDEX IF NOT EXISTS cases_item_accepted ON cases(item_code, accepted_at);
CREATE INDEX IF NOT EXISTS cases_window_accepted ON cases(window_id, accepted_at);
CREATE INDEX IF NOT EXISTS cases_completed_day ON cases(completed_day);
CREATE INDEX IF NOT EXISTS cases_open_due ON cases(due_date) WHERE completed_day IS NULL;
CREATE INDEX IF NOT EXISTS cases_active ON cases(active) WHERE active = 1;
CREATE VIRTUAL TABLE IF NOT EXISTS cases_fts USING fts5(text, tokenize = 'trigram');

CREATE TABLE IF NOT EXISTS case_events (
    case_id TEXT NOT NULL, record_id INTEGER NOT NULL, type TEXT NOT NULL, at TEXT,
    PRIMARY KEY (case_id, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sup_subject_events (
    subject TEXT NOT NULL, record_id INTEGER NOT NULL, at TEXT,
    PRIMARY KEY (subject, record_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sup_subject_events_at ON sup_subject_events(at);

CREATE TABLE IF NOT EXISTS cards (
    card_id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, level TEXT NOT NULL,
    state TEXT NOT NULL, rule_type TEXT, subject TEXT NOT NULL, case_id TEXT, dept_code TEXT,
    window_id TEXT, staff_id TEXT, item_code TEXT, title TEXT NOT NULL, raised_at TEXT NOT NULL,
    moment TEXT, deadline TEXT, deadline_provisional INTEGER NOT NULL DEFAULT 0, escalates TEXT,
    evidence TEXT NOT NULL, json TEXT NOT NULL, updated_at TEXT NOT NULL,
    historical INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cards_raised ON cards(raised_at);
CREATE INDEX IF NOT EXISTS cards_dept_raised ON cards(dept_code, raised_at);
CREATE INDEX IF NOT EXISTS cards_level_raised ON cards(level, raised_at);
CREATE INDEX IF NOT EXISTS cards_state_raised ON cards(state, raised_at);
CREATE INDEX IF NOT EXISTS cards_moment ON cards(moment);
CREATE INDEX IF NOT EXISTS cards_dept_moment ON cards(dept_code, moment);
CREATE INDEX IF NOT EXISTS cards_case ON cards(case_id);
CREATE INDEX IF NOT EXISTS cards_subject ON cards(subject);

CREATE TABLE IF NOT EXISTS card_actions (
    id INTEGER PRIMARY KEY, card_id TEXT NOT NULL, action TEXT NOT NULL, from_state TEXT,
    to_state TEXT, actor TEXT NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS card_actions_card ON card_actions(card_id, id);
CREATE INDEX IF NOT EXISTS card_actions_at ON card_actions(at);

CREATE TABLE IF NOT EXISTS case_ratings (
    case_id TEXT NOT NULL, evidence TEXT NOT NULL, at TEXT NOT NULL, day TEXT NOT NULL,
    level INTEGER NOT NULL, rectified_at TEXT, dept_code TEXT, window_id TEXT, staff_id TEXT,
    item_code TEXT, PRIMARY KEY (case_id, evidence)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS case_ratings_day ON case_ratings(day);

CREATE TABLE IF NOT EXISTS complaints (
    complaint_id TEXT PRIMARY KEY, target_dept TEXT, target_staff TEXT, case_id TEXT,
    filed_day TEXT, accepted_day TEXT, answered_day TEXT, closed_day TEXT, substantiated INTEGER,
    accept_due TEXT, answer_due TEXT, active INTEGER NOT NULL, updated_at TEXT
);
CREATE INDEX IF NOT EXISTS complaints_filed ON complaints(filed_day);

CREATE TABLE IF NOT EXISTS disclosures (
    request_id TEXT PRIMARY KEY, dept_code TEXT, received_day TEXT, due_date TEXT,
    answered_day TEXT, extensions INTEGER, active INTEGER NOT NULL, updated_at TEXT
);
CREATE INDEX IF NOT EXISTS disclosures_received ON disclosures(received_day);

CREATE TABLE IF NOT EXISTS sup_daily (
    day TEXT NOT NULL, dept_code TEXT NOT NULL, metric TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (day, dept_code, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sup_status (
    dept_code TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (dept_code, status)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sup_names (
    kind TEXT NOT NULL, code TEXT NOT NULL, name TEXT, dept_code TEXT,
    PRIMARY KEY (kind, code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sup_errors (
    id INTEGER PRIMARY KEY, record_id INTEGER NOT NULL, type TEXT, at TEXT NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sup_errors_record ON sup_errors(record_id);
"""

#: Case statuses, in the order the board shows them (``refused`` cases show as completed).
STATUSES = ("normal", "reminder", "yellow", "red", "paused", "provisional", "completed")
OPEN_STATUSES = ("normal", "reminder", "yellow", "red", "paused", "provisional")
OVERDUE_STATUSES = ("yellow", "red")


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the hub database for the supervision (WAL, busy timeout 10 s)."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: the case indexes stay in memory
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the supervision tables and indexes if they do not exist; upgrade older stores."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(cards)")}
    if present and "historical" not in present:  # stores written before historical cards
        conn.execute("ALTER TABLE cards ADD COLUMN historical INTEGER NOT NULL DEFAULT 0")
    conn.executescript(SCHEMA)


def has_schema(conn: sqlite3.Connection) -> bool:
    """Whether the supervision tables exist in ``conn``'s database."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cards'").fetchone()
    return row is not None
