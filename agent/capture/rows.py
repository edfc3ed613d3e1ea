"""Reading a source's rows by key, and comparing keys across drivers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agent.capture.database import SourceDb
from agent.mapping.profile import Source

FETCH_CHUNK = 200


def norm_key(values: Iterable[Any]) -> tuple[str, ...]:
    """A key as comparable text (JSON 17, SQLite 17 and PostgreSQL Decimal 17 are equal)."""
    return tuple("" if v is None else str(v) for v in values)


def key_of(source: Source, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The raw key values of ``row`` (column names compared case-insensitively)."""
    lower = {str(k).lower(): v for k, v in row.items()}
    return tuple(lower.get(k.lower()) for k in source.key)


def base_sql(db: SourceDb, source: Source) -> str:
    """What to select from: the source's query as a derived table, or its table."""
    if source.query:
        return f"({db.user_sql(source.query)}) xn_q"
    return source.table


def fetch_by_keys(db: SourceDb, source: Source,
                  keys: Sequence[Sequence[Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """The current rows for ``keys`` (absent keys: deleted since) by normalised key."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    unique = list({norm_key(k): list(k) for k in keys}.values())
    for start in range(0, len(unique), FETCH_CHUNK):
        chunk = unique[start:start + FETCH_CHUNK]
        if len(source.key) == 1:
            where = f"{source.key[0]} IN ({', '.join(db.ph for _ in chunk)})"
            params = [k[0] for k in chunk]
        else:
            one = "(" + " AND ".join(f"{k} = {db.ph}" for k in source.key) + ")"
            where = " OR ".join(one for _ in chunk)
            params = [v for k in chunk for v in k]
        for row in db.rows(f"SELECT * FROM {base_sql(db, source)} WHERE {where}", params):
            found[norm_key(key_of(source, row))] = row
    return found
