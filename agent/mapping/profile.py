"""Mapping profiles: the YAML that says how a department's tables become events (docs/mapping.md).

Loading is strict: an unknown key, a wrong type or a reference to something undefined raises
:class:`~shared.errors.ConfigError` naming the file and the key path (``events[3].fields.case_id``).
Whether the profile produces *valid events* is checked separately by
:func:`agent.mapping.check.check_profile`, and whether the database has what it names by
:func:`agent.mapping.check.check_database`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.config import read_yaml
from shared.errors import ConfigError

CAPTURE_MODES = ("trigger", "watermark")
VALUE_TYPES = ("auto", "string", "int", "fen", "yuan", "datetime", "bool")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_OFFSET = re.compile(r"^(UTC)?([+-])(\d{2}):(\d{2})$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_UNSET: Any = object()


@dataclass(frozen=True)
class FieldSpec:
    """Where one body field's value comes from and how it is converted."""

    column: str | None = None
    const: Any = _UNSET
    type: str = "auto"
    codes: str | None = None
    default: Any = _UNSET
    format: str | None = None
    encoding: str | None = None
    fields: Mapping[str, FieldSpec] | None = None
    max_length: int | None = None

    @property
    def has_const(self) -> bool:
        return self.const is not _UNSET

    @property
    def has_default(self) -> bool:
        return self.default is not _UNSET

    def columns(self) -> list[str]:
        """Every source column this field (and its sub-fields) reads."""
        cols = [self.column] if self.column else []
        for sub in (self.fields or {}).values():
            cols.extend(sub.columns())
        return cols


@dataclass(frozen=True)
class Condition:
    """One test on a row's column; an event rule applies when all of its conditions hold."""

    column: str
    equals: str | None = None
    one_of: tuple[str, ...] | None = None
    none_of: tuple[str, ...] | None = None
    null: bool | None = None


@dataclass(frozen=True)
class Source:
    """A captured table: its key, its change-time columns and an optional enriching query."""

    name: str
    table: str
    key: tuple[str, ...]
    updated_at: str | None = None
    recorded_at: str | None = None
    query: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class EventRule:
    """One event type produced from rows of one source."""

    name: str
    type: str
    source: str
    fields: Mapping[str, FieldSpec]
    when: tuple[Condition, ...] = ()
    recorded_at: str | None = None
    where: str = ""

    def columns(self) -> list[str]:
        """Every source column this rule reads (conditions, fields, recorded_at)."""
        cols = [c.column for c in self.when]
        for spec in self.fields.values():
            cols.extend(spec.columns())
        if self.recorded_at:
            cols.append(self.recorded_at)
        return cols


@dataclass(frozen=True)
class CaptureSettings:
    """How the agent follows the source: triggers + change table, or watermark polling."""

    mode: str = "trigger"
    poll_ms: int = 250
    overlap_seconds: int = 300
    reconcile_seconds: int = 3600
    batch_size: int = 500


@dataclass(frozen=True)
class Limits:
    """What counts as an absurd value (the row becomes a mapping error, not an event)."""

    max_text: int = 4000
    max_fen: int = 10_000_000_000
    max_days: int = 3650
    max_raw: int = 200


@dataclass(frozen=True)
class Profile:
    """A loaded, structurally valid mapping profile."""

    name: str
    version: int
    description: str
    timezone: tzinfo
    output_timezone: tzinfo
    encoding: str
    capture: CaptureSettings
    limits: Limits
    codes: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, Source]
    events: tuple[EventRule, ...]
    path: str = "<memory>"
    by_source: Mapping[str, tuple[EventRule, ...]] = field(default_factory=dict)

    def rules_for(self, source: str) -> tuple[EventRule, ...]:
        """The event rules fed by ``source`` (empty for a source no rule uses)."""
        return self.by_source.get(source, ())


class _Reader:
    """Type-checked access to one YAML mapping, remembering the key path for messages."""

    def __init__(self, data: Any, where: str, path: str, allowed: set[str]):
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: {where or 'top level'} must be a mapping, got {_tn(data)}")
        for key in data:
            if not isinstance(key, str) or key not in allowed:
                raise ConfigError(
                    f"{path}: unknown key {_join(where, str(key))!r} "
                    f"(allowed: {', '.join(sorted(allowed))})"
                )
        self.data, self.where, self.path = data, where, path

    def at(self, key: str) -> str:
        return _join(self.where, key)

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.at(key)}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _UNSET) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is _UNSET:
                raise ConfigError(f"{self.path}: missing required key {self.at(key)!r}")
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in _as_tuple(kind):
            raise self.fail(key, f"must be {_kinds(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise self.fail(key, f"must be {_kinds(kind)}, got {_tn(value)}")
        return value

    def ident(self, key: str, default: Any = _UNSET) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and not _IDENT.match(value):
            raise self.fail(key, f"{value!r} is not a plain table/column name")
        return value

    def positive(self, key: str, default: int) -> int:
        value = self.get(key, int, default)
        if value <= 0:
            raise self.fail(key, f"must be a positive integer, got {value}")
        return int(value)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kinds(kind: type | tuple[type, ...]) -> str:
    names = {"str": "a string", "int": "an integer", "dict": "a mapping", "list": "a list"}
    return " or ".join(names.get(k.__name__, k.__name__) for k in _as_tuple(kind))


def _tn(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def parse_zone(value: str, path: str = "<memory>", key: str = "timezone") -> tzinfo:
    """``Asia/Shanghai``, ``UTC`` or a fixed offset such as ``+08:00``."""
    if value.upper() == "UTC":
        return UTC
    m = _OFFSET.match(value)
    if m:
        delta = timedelta(hours=int(m.group(3)), minutes=int(m.group(4)))
        return timezone(-delta if m.group(2) == "-" else delta)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{path}: {key}: unknown time zone {value!r}") from None


def _encoding(value: str, path: str, key: str) -> str:
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise ConfigError(f"{path}: {key}: unknown text encoding {value!r}") from None


def _scalar_text(value: Any) -> str:
    """How code keys and condition values are compared: as trimmed text."""
    return str(value).strip()


def _load_codes(data: Any, path: str) -> dict[str, Mapping[str, Any]]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: codes must be a mapping of code tables, got {_tn(data)}")
    tables: dict[str, Mapping[str, Any]] = {}
    for name, table in data.items():
        if not isinstance(table, dict) or not table:
            raise ConfigError(f"{path}: codes.{name} must be a non-empty mapping of code → value")
        entries: dict[str, Any] = {}
        for code, value in table.items():
            if isinstance(value, (dict, list, float)) or value is None:
                raise ConfigError(f"{path}: codes.{name}.{code}: value must be a string or integer")
            entries[_scalar_text(code)] = value
        tables[str(name)] = MappingProxyType(entries)
    return tables


_FIELD_KEYS = {"column", "const", "type", "codes", "default", "format", "encoding", "fields",
               "max_length"}


def _load_field(data: Any, where: str, path: str, codes: dict[str, Mapping[str, Any]]) -> FieldSpec:
    if isinstance(data, str):
        if not _IDENT.match(data):
            raise ConfigError(f"{path}: {where}: {data!r} is not a plain column name")
        return FieldSpec(column=data)
    r = _Reader(data, where, path, _FIELD_KEYS)
    sources = [k for k in ("column", "const", "fields") if k in data]
    if len(sources) != 1:
        raise ConfigError(
            f"{path}: {where}: give exactly one of column, const, fields (got {sources or 'none'})"
        )
    code_ref = data.get("codes")
    code_name: str | None = None
    if isinstance(code_ref, dict):
        code_name = f"{where}#inline"
        codes.update(_load_codes({code_name: code_ref}, path))
    elif code_ref is not None:
        code_name = r.get("codes", str)
        if code_name not in codes:
            raise r.fail("codes", f"no code table {code_name!r} under codes: "
                         f"(defined: {', '.join(sorted(codes)) or 'none'})")
    value_type = r.get("type", str, "auto")
    if value_type not in VALUE_TYPES:
        raise r.fail("type", f"{value_type!r} is not one of {', '.join(VALUE_TYPES)}")
    encoding = r.get("encoding", str, None)
    sub_fields = None
    if "fields" in data:
        raw = r.get("fields", dict)
        sub_fields = MappingProxyType(
            {str(k): _load_field(v, f"{where}.fields.{k}", path, codes) for k, v in raw.items()}
        )
    const = data.get("const", _UNSET)
    if isinstance(const, float) or isinstance(data.get("default"), float):
        raise ConfigError(f"{path}: {where}: no floats in events: write money in fen")
    return FieldSpec(
        column=r.ident("column", None),
        const=const,
        type=value_type,
        codes=code_name,
        default=data.get("default", _UNSET),
        format=r.get("format", str, None),
        encoding=_encoding(encoding, path, r.at("encoding")) if encoding else None,
        fields=sub_fields,
        max_length=r.positive("max_length", 0) if "max_length" in data else None,
    )


def _condition_values(r: _Reader, key: str) -> tuple[str, ...] | None:
    values = r.get(key, list, None)
    if values is None:
        return None
    if not values or any(isinstance(v, (dict, list)) or v is None for v in values):
        raise r.fail(key, "must be a non-empty list of strings or integers")
    return tuple(_scalar_text(v) for v in values)


def _load_condition(data: Any, where: str, path: str) -> Condition:
    r = _Reader(data, where, path, {"column", "equals", "in", "not_in", "is_null"})
    tests = [k for k in ("equals", "in", "not_in", "is_null") if k in data]
    if len(tests) != 1:
        raise ConfigError(f"{path}: {where}: give exactly one of equals, in, not_in, is_null")
    equals = r.get("equals", (str, int), None)
    return Condition(
        column=r.ident("column"),
        equals=None if equals is None else _scalar_text(equals),
        one_of=_condition_values(r, "in"),
        none_of=_condition_values(r, "not_in"),
        null=r.get("is_null", bool, None),
    )


def _load_source(name: str, data: Any, path: str, default_encoding: str | None) -> Source:
    where = f"sources.{name}"
    if not _IDENT.match(name):
        raise ConfigError(f"{path}: {where}: source name must be a plain identifier")
    r = _Reader(data, where, path, {"table", "key", "updated_at", "recorded_at", "query",
                                    "encoding"})
    key = data.get("key")
    if isinstance(key, str):
        key = [key]
    if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
        raise ConfigError(f"{path}: {where}.key must be a column name or a list of them")
    for k in key:
        if not _IDENT.match(k):
            raise ConfigError(f"{path}: {where}.key: {k!r} is not a plain column name")
    encoding = r.get("encoding", str, None)
    return Source(
        name=name,
        table=r.ident("table", name),
        key=tuple(key),
        updated_at=r.ident("updated_at", None),
        recorded_at=r.ident("recorded_at", None),
        query=r.get("query", str, None),
        encoding=_encoding(encoding, path, f"{where}.encoding") if encoding else default_encoding,
    )


def _load_event(
    data: Any, where: str, path: str, sources: Mapping[str, Source],
    codes: dict[str, Mapping[str, Any]],
) -> EventRule:
    r = _Reader(data, where, path, {"type", "name", "source", "when", "fields", "recorded_at"})
    type_ = r.get("type", str)
    source = r.get("source", str)
    if source not in sources:
        raise r.fail("source", f"no source {source!r} under sources: "
                     f"(defined: {', '.join(sorted(sources)) or 'none'})")
    name = r.get("name", str, type_)
    if not _NAME.match(name):
        raise r.fail("name", f"{name!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    when_raw = r.get("when", (list, dict), [])
    if isinstance(when_raw, dict):
        when_raw = [when_raw]
    when = tuple(_load_condition(c, f"{where}.when[{i}]", path) for i, c in enumerate(when_raw))
    fields_raw = r.get("fields", dict)
    fields = {
        str(k): _load_field(v, f"{where}.fields.{k}", path, codes) for k, v in fields_raw.items()
    }
    if "recorded_at" in data:
        recorded = data["recorded_at"]
        if recorded is not None and not (isinstance(recorded, str) and _IDENT.match(recorded)):
            raise r.fail("recorded_at", "must be a column name or null")
    else:
        recorded = sources[source].recorded_at
    return EventRule(
        name=name, type=type_, source=source, fields=MappingProxyType(fields), when=when,
        recorded_at=recorded, where=where,
    )


_TOP_KEYS = {"profile", "version", "description", "timezone", "output_timezone", "encoding",
             "capture", "limits", "codes", "sources", "events"}


def profile_from_data(data: Any, path: str = "<memory>") -> Profile:
    """Build a :class:`Profile` from already-parsed YAML; raises ConfigError on any problem."""
    r = _Reader(data, "", path, _TOP_KEYS)
    name = r.get("profile", str)
    version = r.get("version", int, 1)
    encoding = _encoding(r.get("encoding", str, "utf-8"), path, "encoding")
    zone = parse_zone(r.get("timezone", str, "Asia/Shanghai"), path, "timezone")
    out_zone = parse_zone(r.get("output_timezone", str, "Asia/Shanghai"), path, "output_timezone")
    cap = _Reader(data.get("capture") or {}, "capture", path,
                  {"mode", "poll_ms", "overlap_seconds", "reconcile_seconds", "batch_size"})
    mode = cap.get("mode", str, "trigger")
    if mode not in CAPTURE_MODES:
        raise cap.fail("mode", f"{mode!r} is not one of {', '.join(CAPTURE_MODES)}")
    capture = CaptureSettings(
        mode=mode,
        poll_ms=cap.positive("poll_ms", 250),
        overlap_seconds=cap.get("overlap_seconds", int, 300),
        reconcile_seconds=cap.positive("reconcile_seconds", 3600),
        batch_size=cap.positive("batch_size", 500),
    )
    lim = _Reader(data.get("limits") or {}, "limits", path,
                  {"max_text", "max_fen", "max_days", "max_raw"})
    limits = Limits(
        max_text=lim.positive("max_text", 4000),
        max_fen=lim.positive("max_fen", 10_000_000_000),
        max_days=lim.positive("max_days", 3650),
        max_raw=lim.positive("max_raw", 200),
    )
    codes = _load_codes(data.get("codes"), path)
    sources_raw = r.get("sources", dict)
    if not sources_raw:
        raise ConfigError(f"{path}: sources: define at least one source table")
    sources = {str(k): _load_source(str(k), v, path, encoding) for k, v in sources_raw.items()}
    events_raw = r.get("events", list)
    events = tuple(
        _load_event(e, f"events[{i}]", path, sources, codes) for i, e in enumerate(events_raw)
    )
    seen: dict[tuple[str, str], str] = {}
    for rule in events:
        other = seen.setdefault((rule.source, rule.name), rule.where)
        if other != rule.where:
            raise ConfigError(
                f"{path}: {rule.where}: event name {rule.name!r} is already used by {other} "
                f"for source {rule.source!r}; give one of them a distinct 'name'"
            )
    by_source: dict[str, tuple[EventRule, ...]] = {}
    for rule in events:
        by_source[rule.source] = by_source.get(rule.source, ()) + (rule,)
    return Profile(
        name=name,
        version=version,
        description=r.get("description", str, ""),
        timezone=zone,
        output_timezone=out_zone,
        encoding=encoding,
        capture=capture,
        limits=limits,
        codes=MappingProxyType(codes),
        sources=MappingProxyType(sources),
        events=events,
        path=path,
        by_source=MappingProxyType(by_source),
    )


def load_profile(path: str | Path) -> Profile:
    """Read and structurally check a profile file; raises ConfigError naming file and key."""
    return profile_from_data(read_yaml(path), str(path))
