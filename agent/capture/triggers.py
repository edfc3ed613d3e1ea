"""Trigger capture's footprint in the department database: one change table and row triggers.

``xn_capture_change`` gets one row per inserted, updated or deleted source row: the table name,
the operation (I/U/D), the row's key values as a JSON array, and the database's own time. The
triggers are the only thing the agent asks of the department (``xiaoneng-agent capture install``);
``uninstall`` removes them and the table again.
"""

from __future__ import annotations

import re

from agent.capture.database import SourceDb
from agent.mapping.profile import Profile

CHANGE_TABLE = "xn_capture_change"
_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")

_CHANGE_DDL = {
    "sqlite": f"""CREATE TABLE IF NOT EXISTS {CHANGE_TABLE} (
        change_id INTEGER PRIMARY KEY AUTOINCREMENT,
        source_table TEXT NOT NULL,
        op TEXT NOT NULL,
        row_key TEXT NOT NULL,
        changed_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)""",
    "postgresql": f"""CREATE TABLE IF NOT EXISTS {CHANGE_TABLE} (
        change_id BIGSERIAL PRIMARY KEY,
        source_table VARCHAR(128) NOT NULL,
        op CHAR(1) NOT NULL,
        row_key TEXT NOT NULL,
        changed_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
    "mysql": f"""CREATE TABLE IF NOT EXISTS {CHANGE_TABLE} (
        change_id BIGINT AUTO_INCREMENT PRIMARY KEY,
        source_table VARCHAR(128) NOT NULL,
        op CHAR(1) NOT NULL,
        row_key TEXT NOT NULL,
        changed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
}

_PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION xn_capture_row() RETURNS trigger AS $$
DECLARE
    r jsonb;
    k jsonb := '[]'::jsonb;
    col text;
BEGIN
    IF TG_OP = 'DELETE' THEN r := to_jsonb(OLD); ELSE r := to_jsonb(NEW); END IF;
    FOREACH col IN ARRAY TG_ARGV LOOP
        k := k || jsonb_build_array(r -> col);
    END LOOP;
    INSERT INTO {CHANGE_TABLE} (source_table, op, row_key)
        VALUES (TG_TABLE_NAME, substr(TG_OP, 1, 1), k::text);
    RETURN NULL;
END
$$ LANGUAGE plpgsql"""


def captured_tables(profile: Profile) -> dict[str, tuple[str, ...]]:
    """Table → key columns, for every table a source of ``profile`` follows."""
    tables: dict[str, tuple[str, ...]] = {}
    for source in profile.sources.values():
        if profile.rules_for(source.name):
            tables.setdefault(source.table, source.key)
    return tables


def _name(table: str, suffix: str = "") -> str:
    if not _SAFE.match(table):
        raise ValueError(f"table name {table!r} cannot be used in a trigger name")
    return f"xn_cap_{table.lower()}{suffix}"


def install_statements(profile: Profile, dialect: str) -> list[str]:
    """The DDL that ``install`` runs (also shown to a DBA who prefers to run it by hand)."""
    out = [_CHANGE_DDL[dialect]]
    if dialect == "postgresql":
        out.append(_PG_FUNCTION)
    for table, key in captured_tables(profile).items():
        if dialect == "sqlite":
            for op, when, ref in (("I", "INSERT", "NEW"), ("U", "UPDATE", "NEW"),
                                  ("D", "DELETE", "OLD")):
                values = ", ".join(f"{ref}.{k}" for k in key)
                out.append(
                    f"CREATE TRIGGER IF NOT EXISTS {_name(table, '_' + op.lower())} "
                    f"AFTER {when} ON {table} FOR EACH ROW BEGIN "
                    f"INSERT INTO {CHANGE_TABLE} (source_table, op, row_key) "
                    f"VALUES ('{table}', '{op}', json_array({values})); END")
        elif dialect == "postgresql":
            args = ", ".join(f"'{k.lower()}'" for k in key)
            out.append(f"DROP TRIGGER IF EXISTS {_name(table)} ON {table}")
            out.append(f"CREATE TRIGGER {_name(table)} AFTER INSERT OR UPDATE OR DELETE "
                       f"ON {table} FOR EACH ROW EXECUTE FUNCTION xn_capture_row({args})")
        else:
            for op, when, ref in (("I", "INSERT", "NEW"), ("U", "UPDATE", "NEW"),
                                  ("D", "DELETE", "OLD")):
                values = ", ".join(f"{ref}.{k}" for k in key)
                out.append(f"DROP TRIGGER IF EXISTS {_name(table, '_' + op.lower())}")
                out.append(
                    f"CREATE TRIGGER {_name(table, '_' + op.lower())} AFTER {when} ON {table} "
                    f"FOR EACH ROW INSERT INTO {CHANGE_TABLE} (source_table, op, row_key) "
                    f"VALUES ('{table}', '{op}', JSON_ARRAY({values}))")
    return out


def install(db: SourceDb, profile: Profile) -> list[str]:
    """Create the change table and the triggers (idempotent); returns the tables covered."""
    for statement in install_statements(profile, db.dialect):
        db.execute(statement)
    db.commit()
    return sorted(captured_tables(profile))


def uninstall(db: SourceDb, profile: Profile, *, drop_changes: bool = True) -> None:
    """Remove the triggers (and, by default, the change table)."""
    for table in captured_tables(profile):
        if db.dialect == "postgresql":
            db.execute(f"DROP TRIGGER IF EXISTS {_name(table)} ON {table}")
        else:
            for op in "iud":
                db.execute(f"DROP TRIGGER IF EXISTS {_name(table, '_' + op)}")
    if drop_changes:
        db.execute(f"DROP TABLE IF EXISTS {CHANGE_TABLE}")
        if db.dialect == "postgresql":
            db.execute("DROP FUNCTION IF EXISTS xn_capture_row()")
    db.commit()
