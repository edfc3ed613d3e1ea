"""Reading a profile's source rows through any DB-API connection (a test-side mini capture)."""

from __future__ import annotations

from typing import Any

from agent.mapping import Event, Profile, map_row


def source_rows(conn: Any, profile: Profile, source: str) -> list[dict[str, Any]]:
    """Every row of ``source`` as the mapping sees it (its query's result, if it has one)."""
    src = profile.sources[source]
    sql = f"SELECT * FROM ({src.query}) xn_q" if src.query else f"SELECT * FROM {src.table}"
    cur = conn.cursor()
    try:
        cur.execute(sql)
        cols = [str(d[0]) for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        cur.close()
    conn.rollback()
    return rows


def map_database(conn: Any, profile: Profile) -> list[Event]:
    """All events of all sources of ``profile`` in the database behind ``conn``."""
    events: list[Event] = []
    for source in profile.sources:
        for row in source_rows(conn, profile, source):
            events.extend(map_row(profile, source, row, now="2026-01-01T00:00:00+08:00"))
    return events
