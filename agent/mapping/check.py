"""Checking a profile: against the event schema, and against the live database.

``check_profile`` finds what would make every row fail (a required field nobody maps, a code
table that translates to a value the schema refuses, a limit without a unit, watermark capture on
a source with no ``updated_at``). ``check_database`` asks the database itself, through any DB-API
connection (sqlite3, psycopg, PyMySQL), whether every table and column the profile names exists,
and names *every* one that does not — what an IT person needs the first time they map a database.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent.mapping.convert import Unmappable, to_int
from agent.mapping.profile import EventRule, FieldSpec, Profile, Source
from shared.events import EVENTS, UNITS, FieldRule, field_problem

_ALIAS = re.compile(r"\bAS\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_PRODUCED_BY_AGENT = ("agent.mapping_error", "agent.row_deleted", "agent.health",
                      "agent.capture_gap")
_TYPES_FOR = {
    "yuan": ("fen", "any"),
    "fen": ("fen", "any"),
    "datetime": ("ts", "any"),
    "int": ("int", "days", "fen", "any"),
    "bool": ("bool", "any"),
    "string": ("id", "text", "any"),
}


@dataclass(frozen=True)
class Problem:
    """One finding; ``level`` is ``error`` (the profile cannot work) or ``warning``."""

    level: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """Only the errors."""
    return [p for p in problems if p.level == "error"]


def _coerce_for(rule: FieldRule, value: Any) -> Any:
    """What the engine would make of a code-table or const value for a field of ``rule``."""
    if rule.kind in ("int", "days", "fen"):
        try:
            return to_int(value)
        except Unmappable:
            return value
    if rule.kind in ("id", "text") and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _check_values(rule: FieldRule, values: Iterable[Any], where: str, what: str) -> list[Problem]:
    problems = []
    for value in values:
        why = field_problem(rule, _coerce_for(rule, value))
        if why:
            problems.append(Problem("error", where, f"{what} value {value!r} {why}"))
    return problems


def _check_field(profile: Profile, rule: EventRule, name: str, spec: FieldSpec,
                 field_rule: FieldRule, where: str) -> list[Problem]:
    problems: list[Problem] = []
    if spec.type != "auto" and field_rule.kind not in _TYPES_FOR[spec.type]:
        problems.append(Problem("error", where, f"type {spec.type} does not fit a "
                                f"{field_rule.kind} field"))
    if field_rule.kind == "limit":
        parts = set(spec.fields or {})
        if parts != {"value", "unit"}:
            problems.append(Problem("error", where, "a limit needs exactly fields: value and unit "
                                    f"(got {', '.join(sorted(parts)) or 'a plain column'})"))
            return problems
        assert spec.fields is not None
        problems += _check_field(profile, rule, f"{name}.value", spec.fields["value"],
                                 FieldRule("days"), f"{where}.fields.value")
        problems += _check_field(profile, rule, f"{name}.unit", spec.fields["unit"],
                                 FieldRule("id", UNITS), f"{where}.fields.unit")
        return problems
    if spec.fields is not None and field_rule.kind != "any":
        problems.append(Problem("error", where, f"{name} is a {field_rule.kind}, not an object"))
    if spec.codes:
        table = profile.codes[spec.codes]
        problems += _check_values(field_rule, table.values(), where, f"code table {spec.codes!r}")
    if spec.has_const:
        problems += _check_values(field_rule, [spec.const], where, "const")
    if spec.has_default:
        problems += _check_values(field_rule, [spec.default], where, "default")
    return problems


def _check_rule(profile: Profile, rule: EventRule) -> list[Problem]:
    if rule.type in _PRODUCED_BY_AGENT:
        return [Problem("error", rule.where, f"{rule.type} is produced by the agent itself")]
    spec = EVENTS.get(rule.type)
    if spec is None:
        known = ", ".join(t for t in EVENTS if t.startswith(("case.", "complaint.", "disclosure.")))
        return [Problem("error", rule.where, f"unknown event type {rule.type!r} (known: {known})")]
    problems = [
        Problem("error", f"{rule.where}.fields", f"required field {name!r} of {rule.type} is not "
                "mapped (give it a column, a const or a default)")
        for name in spec.required if name not in rule.fields
    ]
    for name, field_spec in rule.fields.items():
        where = f"{rule.where}.fields.{name}"
        field_rule = spec.rule(name)
        if field_rule is None:
            problems.append(Problem("warning", where, f"{name!r} is not a field of {rule.type}; "
                                    "it is passed on as an extra field (a typo?)"))
            field_rule = FieldRule("any")
        problems += _check_field(profile, rule, name, field_spec, field_rule, where)
    return problems


#: Optional by the event schema, but what the supervision attributes a complaint with: without it a
#: complaint has a clock but counts against no department (DOMAIN.md §5, §6).
_ATTRIBUTED_BY = {"complaint.filed": "target_dept"}


def check_profile(profile: Profile) -> list[Problem]:
    """Problems that make the profile unable to produce valid events (plus warnings)."""
    problems: list[Problem] = []
    for rule in profile.events:
        problems += _check_rule(profile, rule)
        needed = _ATTRIBUTED_BY.get(rule.type)
        if needed and needed not in rule.fields:
            problems.append(Problem("warning", f"{rule.where}.fields", f"{rule.type} maps no {needed}: "
                                    "the hub keeps the complaint's clock but cannot count it against a "
                                    "department (scores, report)"))
    for name, source in profile.sources.items():
        where = f"sources.{name}"
        if not profile.rules_for(name):
            problems.append(Problem("warning", where, "no event uses this source"))
        if profile.capture.mode == "watermark" and not source.updated_at:
            problems.append(Problem("error", where, "watermark capture needs updated_at: the "
                                    "column (or query column) that changes on every update"))
    return problems


def _columns(conn: Any, sql: str) -> set[str]:
    """Lower-cased column names of ``sql``'s result, read without fetching a row."""
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return {str(d[0]).lower() for d in cur.description or ()}
    finally:
        cur.close()


def _rollback(conn: Any) -> None:
    with contextlib.suppress(Exception):  # best effort; sqlite3 outside a transaction is fine
        conn.rollback()


def _probe(conn: Any, sql: str) -> tuple[set[str] | None, str]:
    try:
        cols = _columns(conn, sql)
        _rollback(conn)
        return cols, ""
    except Exception as exc:  # noqa: BLE001 - any driver's error means "not readable"
        _rollback(conn)
        return None, str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(
            exc).__name__


def _needed(profile: Profile, source: Source) -> dict[str, list[str]]:
    """column (lower-case) → what uses it."""
    needed: dict[str, list[str]] = {}

    def add(column: str | None, user: str) -> None:
        if column:
            needed.setdefault(column.lower(), []).append(user)

    for k in source.key:
        add(k, f"sources.{source.name}.key")
    add(source.updated_at, f"sources.{source.name}.updated_at")
    add(source.recorded_at, f"sources.{source.name}.recorded_at")
    for rule in profile.rules_for(source.name):
        for cond in rule.when:
            add(cond.column, f"{rule.where}.when")
        for name, spec in rule.fields.items():
            for col in spec.columns():
                add(col, f"{rule.where}.fields.{name}")
        add(rule.recorded_at, f"{rule.where}.recorded_at")
    return needed


def check_database(profile: Profile, conn: Any) -> list[Problem]:
    """Every table and column the profile names that the database does not have.

    ``conn`` is an open DB-API connection (sqlite3, psycopg, PyMySQL). Column names compare
    case-insensitively. Read-only: each probe is ``SELECT … WHERE 1=0`` and is rolled back.
    """
    problems: list[Problem] = []
    for name, source in profile.sources.items():
        where = f"sources.{name}"
        table_cols, why = _probe(conn, f"SELECT * FROM {source.table} WHERE 1=0")
        if table_cols is None:
            needed = ", ".join(sorted(_needed(profile, source)))
            problems.append(Problem("error", where, f"table {source.table} does not exist or "
                                    f"cannot be read ({why}); it should have columns {needed}"))
            continue
        if source.query:
            out_cols, why = _probe(conn, f"SELECT * FROM ({source.query}) xn_q WHERE 1=0")
            if out_cols is None:
                problems.append(Problem("error", f"{where}.query", f"the query fails: {why}"))
                # Name what we can: columns the rules read that the query passes through from
                # its table (not computed under an alias) and that the table lacks.
                aliases = {a.lower() for a in _ALIAS.findall(source.query)}
                for column, users in sorted(_needed(profile, source).items()):
                    if column not in aliases and column not in table_cols:
                        problems.append(Problem(
                            "error", where, f"column {column} is missing from table "
                            f"{source.table} (used by {', '.join(dict.fromkeys(users))})"))
                continue
            for k in source.key:
                if k.lower() not in table_cols:
                    problems.append(Problem("error", f"{where}.key", f"column {k} is missing "
                                            f"from table {source.table}"))
            available, what = out_cols, "the query's result"
        else:
            available, what = table_cols, f"table {source.table}"
        for column, users in sorted(_needed(profile, source).items()):
            if column not in available:
                problems.append(Problem("error", where, f"column {column} is missing from {what} "
                                        f"(used by {', '.join(dict.fromkeys(users))})"))
    return problems
