"""The catalogue tables in the hub database, created if absent (:func:`ensure_schema`).

======================  ======================================================================
``catalogue_versions``  one row per version: when, who, how (``import`` / ``edit``), a note
``catalogue_items``     the full item list of every version (a version is a snapshot)
======================  ======================================================================

Every import or edit writes a new version holding the whole catalogue; the newest version is the
current one (what checks use); older ones stay readable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace

from hub.catalogue.model import CatalogueError, CatalogueItem, Limit

SCHEMA = """
CREATE TABLE IF NOT EXISTS catalogue_versions (
    version INTEGER PRIMARY KEY, created_at TEXT NOT NULL, username TEXT NOT NULL,
    source TEXT NOT NULL, note TEXT NOT NULL, items INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS catalogue_items (
    version INTEGER NOT NULL, item_code TEXT NOT NULL, item_name TEXT NOT NULL, dept_code TEXT NOT NULL,
    statutory_value INTEGER NOT NULL, statutory_unit TEXT NOT NULL,
    promised_value INTEGER NOT NULL, promised_unit TEXT NOT NULL,
    fee_fen INTEGER NOT NULL, legal_basis TEXT NOT NULL,
    PRIMARY KEY (version, item_code)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS catalogue_items_code ON catalogue_items(item_code, version);
"""
_ITEM_COLUMNS = ("item_code, item_name, dept_code, statutory_value, statutory_unit, promised_value, "
                 "promised_unit, fee_fen, legal_basis")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Version:
    """One catalogue version."""

    version: int
    created_at: str
    username: str
    source: str
    note: str
    items: int


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the catalogue tables if they do not exist."""
    conn.executescript(SCHEMA)


def _item(row: Sequence[object]) -> CatalogueItem:
    code, name, dept, s_val, s_unit, p_val, p_unit, fee, basis = row
    return CatalogueItem(str(code), str(name), str(dept), Limit(int(s_val), str(s_unit)),  # type: ignore[call-overload]
                         Limit(int(p_val), str(p_unit)), int(fee), str(basis))  # type: ignore[call-overload]


def current_version(conn: sqlite3.Connection) -> Version | None:
    """The newest version (None before the first import)."""
    row = conn.execute("SELECT version, created_at, username, source, note, items FROM catalogue_versions "
                       "ORDER BY version DESC LIMIT 1").fetchone()  # fmt: skip
    return Version(*row) if row else None


def get_version(conn: sqlite3.Connection, version: int) -> Version | None:
    row = conn.execute("SELECT version, created_at, username, source, note, items FROM catalogue_versions "
                       "WHERE version = ?", (version,)).fetchone()  # fmt: skip
    return Version(*row) if row else None


def versions(conn: sqlite3.Connection, limit: int = 200) -> list[Version]:
    """Versions, newest first."""
    rows = conn.execute("SELECT version, created_at, username, source, note, items FROM catalogue_versions "
                        "ORDER BY version DESC LIMIT ?", (limit,)).fetchall()  # fmt: skip
    return [Version(*r) for r in rows]


def items(conn: sqlite3.Connection, version: int | None = None, *, q: str = "", dept: str = "") -> list[CatalogueItem]:
    """The items of ``version`` (default: the current one), by code; ``q`` matches code or name
    (substring), ``dept`` the department code exactly."""
    if version is None:
        cur = current_version(conn)
        if cur is None:
            return []
        version = cur.version
    sql = f"SELECT {_ITEM_COLUMNS} FROM catalogue_items WHERE version = ?"
    args: list[object] = [version]
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql += " AND (item_code LIKE ? ESCAPE '\\' OR item_name LIKE ? ESCAPE '\\' OR dept_code LIKE ? ESCAPE '\\')"
        args += [pattern, pattern, pattern]
    if dept:
        sql += " AND dept_code = ?"
        args.append(dept)
    return [_item(r) for r in conn.execute(sql + " ORDER BY item_code", args)]


def item(conn: sqlite3.Connection, item_code: str, version: int | None = None) -> CatalogueItem | None:
    """One item of ``version`` (default: current)."""
    if version is None:
        cur = current_version(conn)
        if cur is None:
            return None
        version = cur.version
    row = conn.execute(f"SELECT {_ITEM_COLUMNS} FROM catalogue_items WHERE version = ? AND item_code = ?",
                       (version, item_code)).fetchone()  # fmt: skip
    return _item(row) if row else None


def history(conn: sqlite3.Connection, item_code: str) -> list[tuple[Version, CatalogueItem | None]]:
    """The versions in which ``item_code`` appeared, changed or disappeared, newest first, each with
    the item as that version holds it (None: removed in that version)."""
    out: list[tuple[Version, CatalogueItem | None]] = []
    previous: CatalogueItem | None = None
    seen = False
    for version in reversed(versions(conn, limit=1_000_000)):
        now = item(conn, item_code, version.version)
        if now != previous and (now is not None or seen):
            out.append((version, now))
        seen = seen or now is not None
        previous = now
    out.reverse()
    return out


def departments(conn: sqlite3.Connection) -> list[str]:
    """The department codes of the current version."""
    cur = current_version(conn)
    if cur is None:
        return []
    rows = conn.execute("SELECT DISTINCT dept_code FROM catalogue_items WHERE version = ? ORDER BY dept_code",
                        (cur.version,))  # fmt: skip
    return [r[0] for r in rows]


def save_version(conn: sqlite3.Connection, new_items: Sequence[CatalogueItem], *, username: str, source: str,
                 note: str, at: str) -> Version:  # fmt: skip
    """Write ``new_items`` as the next version; returns it."""
    codes = [i.item_code for i in new_items]
    if len(set(codes)) != len(codes):
        raise CatalogueError("事项编码重复 / an item code appears twice")
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute(
            "INSERT INTO catalogue_versions(created_at, username, source, note, items) VALUES (?, ?, ?, ?, ?)",
            (at, username[:64], source[:40], note[:500], len(new_items)),
        )
        number = int(cur.lastrowid or 0)
        conn.executemany(
            f"INSERT INTO catalogue_items(version, {_ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(number, i.item_code, i.item_name, i.dept_code, i.statutory.value, i.statutory.unit,
              i.promised.value, i.promised.unit, i.fee_fen, i.legal_basis) for i in new_items],
        )  # fmt: skip
    saved = get_version(conn, number)
    assert saved is not None
    return saved


def edit_item(conn: sqlite3.Connection, changed: CatalogueItem, *, username: str, at: str,
              note: str = "") -> tuple[Version, CatalogueItem | None]:  # fmt: skip
    """A new version equal to the current one with ``changed`` replacing (or adding) its item code.
    Returns the version and the item as it was before (None: added)."""
    current = items(conn)
    before = next((i for i in current if i.item_code == changed.item_code), None)
    rest = [i for i in current if i.item_code != changed.item_code]
    if before == changed:
        raise CatalogueError("没有改动 / nothing changed")
    version = save_version(conn, sorted([*rest, replace(changed)], key=lambda i: i.item_code), username=username,
                           source="edit", note=note or f"edit {changed.item_code}", at=at)  # fmt: skip
    return version, before
