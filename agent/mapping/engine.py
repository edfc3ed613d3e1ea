"""The mapping engine: one source row in, the events it means out. Pure: no I/O, no clock.

``map_row(profile, source, row)`` applies every event rule of ``source`` whose conditions hold.
A rule that cannot be applied to the row (missing required field, unparseable date, unknown code,
undecodable text, absurd size, a column that is not there) yields an ``agent.mapping_error``
event instead — naming the source, table, row key, column, reason and the raw values (truncated)
— and the other rules of the same row still produce their events. Nothing here raises for bad
*data*; only a programming error (an unknown source name) raises.

Each :class:`Event` carries a ``key`` — ``source:row-key:rule-name`` — that identifies "this rule
applied to this row". Capture de-duplicates on (key, body): re-reading an unchanged row emits
nothing, an update that changes what a rule produces emits the new version.

``ts`` of an event is when the department system *recorded* it (the rule's ``recorded_at``
column, usually the row's creation time), else the event's own time. The hub's late-reporting
rule (R8) compares it with the event's ``at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from agent.mapping.convert import (
    Unmappable,
    code_key,
    decode_text,
    preview,
    to_bool,
    to_datetime,
    to_fen,
    to_int,
    to_text,
)
from agent.mapping.profile import Condition, EventRule, FieldSpec, Profile, Source
from shared.errors import ConfigError
from shared.events import EVENTS, FieldRule, event_problems

MAPPING_ERROR = "agent.mapping_error"
ROW_DELETED = "agent.row_deleted"
_ANY = FieldRule("any")
_LIMIT_PARTS = {"value": FieldRule("days"), "unit": FieldRule("id", ("G", "Z"))}
_TIME_FIELDS = ("at", "accepted_at", "started_at")
_FALLBACK_TS = "1970-01-01T08:00:00+08:00"


@dataclass(frozen=True, slots=True)
class Event:
    """One event: ``(type, ts, body)`` plus the identity ``key`` capture de-duplicates on."""

    type: str
    ts: str
    body: dict[str, Any]
    key: str = ""

    @property
    def is_error(self) -> bool:
        return self.type == MAPPING_ERROR


class _Row:
    """A row with case-insensitive column names (PostgreSQL folds ``ID_`` to ``id_``)."""

    __slots__ = ("values",)

    def __init__(self, row: Mapping[str, Any]):
        self.values = {str(k).lower(): v for k, v in row.items()}

    def has(self, column: str) -> bool:
        return column.lower() in self.values

    def get(self, column: str) -> Any:
        try:
            return self.values[column.lower()]
        except KeyError:
            raise Unmappable(
                "missing_column", f"the row has no column {column!r} (renamed or dropped?)", column
            ) from None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Mapper:
    """Applies one rule to one row; raises :class:`Unmappable` on the first bad value."""

    def __init__(self, profile: Profile, source: Source, row: _Row):
        self.profile, self.source, self.row = profile, source, row

    def raw(self, column: str, encoding: str | None = None) -> Any:
        value = self.row.get(column)
        try:
            return decode_text(value, encoding or self.source.encoding or self.profile.encoding)
        except Unmappable as exc:
            exc.column = column
            raise

    def matches(self, conditions: tuple[Condition, ...]) -> bool:
        for cond in conditions:
            value = self.raw(cond.column)
            blank = _is_blank(value)
            if cond.null is not None:
                if blank != cond.null:
                    return False
                continue
            if blank:
                return False
            text = code_key(value)
            if cond.equals is not None and text != cond.equals:
                return False
            if cond.one_of is not None and text not in cond.one_of:
                return False
            if cond.none_of is not None and text in cond.none_of:
                return False
        return True

    def body(self, rule: EventRule) -> dict[str, Any]:
        spec = EVENTS.get(rule.type)
        body: dict[str, Any] = {}
        for name, field_spec in rule.fields.items():
            field_rule = (spec.rule(name) if spec else None) or _ANY
            required = spec is not None and name in spec.required
            value = self.value(field_spec, field_rule, required, name)
            if value is not None:
                body[name] = value
        return body

    def value(self, spec: FieldSpec, rule: FieldRule, required: bool, name: str) -> Any:
        if spec.fields is not None:
            return self.nested(spec, rule, required, name)
        column = spec.column or ""
        try:
            raw = spec.const if spec.has_const else self.raw(column, spec.encoding)
            if _is_blank(raw) and not (rule.kind == "text" and isinstance(raw, str)):
                raw = None
            if raw is None and spec.has_default:
                raw = spec.default
            if raw is None:
                if not required:
                    return None
                if rule.kind == "text":
                    # An absent reason/opinion is a fact for the rules (R5, R9), not bad data.
                    return ""
                raise Unmappable("missing_required", f"{name} is required but {column} is NULL")
            if spec.codes:
                raw = self.translate(spec.codes, raw)
            value = self.convert(spec, rule, raw)
            if rule.choices is not None and value not in rule.choices:
                raise Unmappable(
                    "bad_value",
                    f"{name} must be one of {', '.join(map(str, rule.choices))}, got {value!r}",
                )
            return value
        except Unmappable as exc:
            exc.column = exc.column or column
            raise

    def nested(self, spec: FieldSpec, rule: FieldRule, required: bool, name: str) -> Any:
        parts = _LIMIT_PARTS if rule.kind == "limit" else {}
        assert spec.fields is not None
        values: dict[str, Any] = {}
        missing: list[str] = []
        for sub_name, sub in spec.fields.items():
            sub_rule = parts.get(sub_name, _ANY)
            value = self.value(sub, sub_rule, False, f"{name}.{sub_name}")
            if value is None:
                missing.append(sub.column or sub_name)
            else:
                values[sub_name] = value
        if not values:
            if required:
                raise Unmappable(
                    "missing_required", f"{name} is required but {', '.join(missing)} is NULL",
                    missing[0] if missing else "",
                )
            return None
        if missing:
            raise Unmappable(
                "missing_required", f"{name} is incomplete: {', '.join(missing)} is NULL",
                missing[0],
            )
        return values

    def translate(self, table_name: str, raw: Any) -> Any:
        table = self.profile.codes[table_name]
        key = code_key(raw)
        if key in table:
            return table[key]
        if "*" in table:
            return table["*"]
        known = ", ".join(list(table)[:12])
        raise Unmappable("unknown_code", f"code {key[:40]!r} is not in code table "
                         f"{table_name!r} (known: {known})")

    def convert(self, spec: FieldSpec, rule: FieldRule, raw: Any) -> Any:
        limits = self.profile.limits
        kind, vtype = rule.kind, spec.type
        if vtype == "datetime" or kind == "ts":
            return to_datetime(raw, spec.format, self.profile.timezone,
                               self.profile.output_timezone)
        if vtype == "yuan":
            return to_fen(raw, yuan=True, high=limits.max_fen)
        if vtype == "fen" or kind == "fen":
            return to_fen(raw, yuan=False, high=limits.max_fen)
        if kind == "days":
            return to_int(raw, low=0, high=limits.max_days)
        if vtype == "int" or kind == "int":
            return to_int(raw)
        if vtype == "bool" or kind == "bool":
            return to_bool(raw)
        max_len = spec.max_length or limits.max_text
        if vtype == "string" or kind in ("id", "text"):
            return to_text(raw, max_len, strip=kind != "text")
        if kind == "limit":
            raise Unmappable("bad_value", "a limit needs fields: {value: ..., unit: ...}")
        return _auto(raw, max_len)


def _auto(raw: Any, max_len: int) -> Any:
    """An extra field with no declared type: keep integers and text, render times, no floats."""
    if isinstance(raw, int):
        return to_int(raw)
    if isinstance(raw, Decimal) and raw.is_finite() and raw == raw.to_integral_value():
        return to_int(raw)
    if isinstance(raw, (float, Decimal)):
        raise Unmappable("bad_number", f"{raw!r} is fractional: declare type: yuan or int")
    if isinstance(raw, (datetime, date)):
        return raw.isoformat()
    return to_text(raw, max_len, strip=False)


def row_key(source: Source, row: Mapping[str, Any] | _Row, max_raw: int = 200) -> dict[str, str]:
    """The row's key columns as JSON-safe text (``"?"`` for a key column the row lacks)."""
    view = row if isinstance(row, _Row) else _Row(row)
    return {
        col: preview(view.values[col.lower()], max_raw) if view.has(col) else "?"
        for col in source.key
    }


def key_text(key: Mapping[str, str]) -> str:
    """``id=17`` / ``PROJID=A1,SN=2``: a row key as one string."""
    return ",".join(f"{k}={v}" for k, v in key.items())


def _as_ts(now: str | datetime | None, profile: Profile) -> str | None:
    if now is None:
        return None
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=profile.timezone)
        return now.astimezone(profile.output_timezone).isoformat(timespec="seconds")
    return now


def _source(profile: Profile, source: str) -> Source:
    try:
        return profile.sources[source]
    except KeyError:
        raise ConfigError(
            f"{profile.path}: no source {source!r} (defined: {', '.join(profile.sources)})"
        ) from None


def _record_time(mapper: _Mapper, rule: EventRule, body: dict[str, Any]) -> str:
    if rule.recorded_at:
        raw = mapper.raw(rule.recorded_at)
        if not _is_blank(raw):
            try:
                return to_datetime(raw, None, mapper.profile.timezone,
                                   mapper.profile.output_timezone)
            except Unmappable as exc:
                exc.column = rule.recorded_at
                raise
    for name in _TIME_FIELDS:
        if isinstance(body.get(name), str):
            return str(body[name])
    raise Unmappable("missing_required", "the event has no time (at / accepted_at / started_at)")


def _fallback_ts(mapper: _Mapper, now: str | None) -> str:
    if now:
        return now
    for column in (mapper.source.updated_at, mapper.source.recorded_at):
        if column and mapper.row.has(column):
            try:
                return to_datetime(mapper.row.get(column), None, mapper.profile.timezone,
                                   mapper.profile.output_timezone)
            except Unmappable:
                continue
    return _FALLBACK_TS


def mapping_error(
    profile: Profile, source: Source, rule: EventRule, row: Mapping[str, Any] | _Row,
    failure: Unmappable,
    ts: str,
) -> Event:
    """The ``agent.mapping_error`` event for ``rule`` failing on ``row``."""
    view = row if isinstance(row, _Row) else _Row(row)
    limit = profile.limits.max_raw
    key = row_key(source, view, limit)
    columns = dict.fromkeys([*source.key, *rule.columns(), failure.column])
    raw = {c: preview(view.values[c.lower()], limit) for c in columns if c and view.has(c)}
    body = {
        "source": source.name,
        "table": source.table,
        "key": key,
        "column": failure.column,
        "reason": failure.reason,
        "detail": failure.detail[:500],
        "event_type": rule.type,
        "event_name": rule.name,
        "raw": raw,
        "profile": profile.name,
    }
    return Event(MAPPING_ERROR, ts, body, f"{source.name}:{key_text(key)}:{rule.name}")


def map_row(
    profile: Profile, source: str, row: Mapping[str, Any], *, now: str | datetime | None = None
) -> list[Event]:
    """Every event ``row`` of ``source`` means under ``profile`` (mapping errors included).

    ``now`` (the capture time) stamps mapping-error records; without it they carry the row's
    ``updated_at``. Raises ConfigError only if ``source`` is not in the profile.
    """
    src = _source(profile, source)
    view = _Row(row)
    mapper = _Mapper(profile, src, view)
    now_ts = _as_ts(now, profile)
    events: list[Event] = []
    key: str | None = None
    for rule in profile.rules_for(source):
        try:
            if not mapper.matches(rule.when):
                continue
            body = mapper.body(rule)
            problems = event_problems(rule.type, body)
            if problems:
                raise Unmappable("invalid_event", "; ".join(problems)[:500])
            ts = _record_time(mapper, rule, body)
            if key is None:
                key = key_text(row_key(src, view, profile.limits.max_raw))
            events.append(Event(rule.type, ts, body, f"{src.name}:{key}:{rule.name}"))
        except Unmappable as failure:
            events.append(
                mapping_error(profile, src, rule, view, failure, _fallback_ts(mapper, now_ts))
            )
        except (ArithmeticError, ValueError, TypeError) as exc:
            # A value no converter foresaw: still a record, never a stopped capture.
            unforeseen = Unmappable("internal_error", f"{type(exc).__name__}: {exc}")
            events.append(
                mapping_error(profile, src, rule, view, unforeseen, _fallback_ts(mapper, now_ts))
            )
    return events


def map_delete(
    profile: Profile, source: str, key: Mapping[str, Any], *, now: str | datetime,
    case_id: str | None = None,
) -> Event:
    """The ``agent.row_deleted`` event for a deleted row of ``source`` with key ``key``."""
    src = _source(profile, source)
    shown = {str(k): preview(v, profile.limits.max_raw) for k, v in key.items()}
    body: dict[str, Any] = {"source": src.name, "table": src.table, "key": shown,
                            "profile": profile.name}
    if case_id:
        body["case_id"] = case_id
    ts = _as_ts(now, profile) or _FALLBACK_TS
    return Event(ROW_DELETED, ts, body, f"{src.name}:{key_text(shown)}:deleted")
