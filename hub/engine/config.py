"""Engine configuration: rule thresholds, rule switches, other clocks and scoring (DOMAIN.md §4–§6).

Every number of DOMAIN.md is a default of a frozen dataclass here. A YAML file (``firmware_configs/
rules/default.yaml``) may change any of them, and may override :class:`Thresholds` per department
(``departments:``) and per item (``items:``); for a case the item's override is applied on top of
its department's. Unknown keys anywhere are a :class:`ConfigError` naming the key and the file.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

import yaml

from hub.engine.caseclock import SupplementMode
from shared.errors import ConfigError


class Level(enum.StrEnum):
    """Card level."""

    REMINDER = "reminder"  # 预警/提醒
    YELLOW = "yellow"  # 黄牌
    RED = "red"  # 红牌


OfficeHours = tuple[tuple[time, time], ...]


@dataclass(frozen=True)
class Thresholds:
    """Rule thresholds; may differ per department and per item."""

    reminder_days: int = 1  # R1: remind when at most this many promised days remain
    reminder_grace_minutes: int = 60  # R1: a reminder moment older than this when known is dropped
    supervision_days: int = 3  # R2 and other cards: 督办 deadline in working days
    max_extension_days: int = 10  # R9: legal maximum of extensions (行政许可法 art. 42)
    supplement_mode: SupplementMode = SupplementMode.PAUSE  # 补正: pause or restart the count
    max_supplement_requests: int = 1  # R6: more 补正 requests than this is a card
    min_processing_minutes: int = 5  # R7: a 承诺件 completed faster than this is implausible
    report_delay_hours: int = 24  # R8: reported later than this after it happened
    absence_minutes: int = 15  # R10: nobody at a window for longer than this in office hours
    absence_yellow_after: int = 2  # R10: the n-th such absence of a day is a yellow card
    office_hours: OfficeHours = ((time(9), time(12)), (time(13, 30), time(17, 30)))
    rating_rectify_days: int = 15  # R11: a bad rating must be rectified within (working days)
    bad_rating_levels: frozenset[int] = frozenset({4, 5})
    reason_required_codes: frozenset[int] = frozenset({1, 2, 3, 5, 7})
    no_fee: bool = False  # R4: the item charges no fee at all
    fee_standard_fen: int | None = None  # R4: overrides fee_standard_fen of case.accepted


@dataclass(frozen=True)
class RuleSetting:
    """Switch and level of one rule."""

    enabled: bool = True
    level: Level | None = None  # None: the rule's default level


@dataclass(frozen=True)
class DisclosureConfig:
    """Open-government-information requests (2019 regulation; DOMAIN.md §6)."""

    answer_days: int = 20
    max_extension_days: int = 20
    max_extensions: int = 1
    supplement_notice_days: int = 7


@dataclass(frozen=True)
class ComplaintConfig:
    """Complaints (DOMAIN.md §6)."""

    accept_days: int = 5
    answer_days: int = 15
    answer_unit: str = "G"
    staff_flag_from: int = 2  # the n-th substantiated complaint of a year flags the staff member


@dataclass(frozen=True)
class ScoringConfig:
    """The 100-point scheme of DOMAIN.md §5 (scores are rates; card deductions capped per block)."""

    on_time_points: float = 30.0  # timeliness: × the on-time rate (early ones included)
    early_points: float = 10.0  # timeliness: × the early rate
    yellow_weight: float = 3.0  # a standing yellow card's weight
    red_weight: float = 10.0  # a standing red card's weight
    min_cases: int = 20  # n = cases completed in the period, at least this (divisor of card weights)
    card_scale: float = 100.0  # a block loses card_scale × Σ weight / n
    time_rules: tuple[str, ...] = ("R2", "R3", "R9")  # time cards (办件时效)
    time_card_cap: float = 20.0  # the timeliness block loses at most this to cards
    conformity_points: float = 15.0
    conformity_rules: tuple[str, ...] = ("R5", "R6", "R7", "R8", "R10")  # process cards (规范性)
    conformity_card_cap: float = 15.0
    review_rules: tuple[str, ...] = ("R7",)  # cards that count only once upheld (人工复核属实)
    fee_points: float = 10.0
    fee_rules: tuple[str, ...] = ("R4",)  # fee violations (收费合规)
    fee_card_cap: float = 10.0
    complaint_points: float = 15.0  # × the share of complaints answered on time
    complaint_deduction: float = 2.0  # per substantiated complaint
    satisfaction_points: float = 20.0  # × the share of satisfied ratings among all ratings
    satisfied_levels: frozenset[int] = frozenset({1, 2, 3})  # 非常满意, 满意, 基本满意
    rating_rules: tuple[str, ...] = ("R11",)  # cards of unrectified bad ratings
    rating_card_deduction: float = 1.0  # satisfaction points per such card
    grades: tuple[tuple[str, float], ...] = (("优秀", 90.0), ("良好", 80.0), ("合格", 60.0))
    failing_grade: str = "不合格"
    department_blocks: tuple[str, ...] = (
        "timeliness", "conformity", "fees", "complaints", "satisfaction",
    )  # fmt: skip
    window_blocks: tuple[str, ...] = ("timeliness", "conformity", "satisfaction")
    staff_blocks: tuple[str, ...] = ("timeliness", "conformity", "complaints", "satisfaction")
    item_blocks: tuple[str, ...] = ("timeliness", "conformity", "fees", "satisfaction")


@dataclass(frozen=True)
class EngineConfig:
    """Everything the pure engine is configured with."""

    thresholds: Thresholds = Thresholds()
    rules: Mapping[str, RuleSetting] = field(default_factory=dict)
    departments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    items: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    disclosure: DisclosureConfig = DisclosureConfig()
    complaints: ComplaintConfig = ComplaintConfig()
    scoring: ScoringConfig = ScoringConfig()
    source: str = "<defaults>"
    _cache: dict[tuple[str, str], Thresholds] = field(
        default_factory=dict, compare=False, repr=False
    )

    def for_case(self, item_code: str | None, dept_code: str | None) -> Thresholds:
        """The thresholds of a case: defaults, then the department's, then the item's overrides."""
        key = (item_code or "", dept_code or "")
        hit = self._cache.get(key)
        if hit is None:
            changes = {**self.departments.get(key[1], {}), **self.items.get(key[0], {})}
            hit = dataclasses.replace(self.thresholds, **changes) if changes else self.thresholds
            self._cache[key] = hit
        return hit

    def rule(self, rule_id: str) -> RuleSetting:
        """The setting of ``rule_id`` (enabled with its default level when not configured)."""
        return self.rules.get(rule_id, _DEFAULT_SETTING)


_DEFAULT_SETTING = RuleSetting()


# -- parsing --------------------------------------------------------------------------------------

Parser = Callable[[Any, str], Any]


def _int(minimum: int = 0) -> Parser:
    def parse(value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"{where}: must be an integer >= {minimum}, got {value!r}")
        return value

    return parse


def _number(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1e9:
        return float(value)
    raise ConfigError(f"{where}: must be a number from 0 to 1e9, got {str(value)[:40]}")


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string, got {value!r}")
    return value


def _enum(kind: type[enum.Enum]) -> Parser:
    def parse(value: Any, where: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            allowed = [m.value for m in kind]
            raise ConfigError(f"{where}: must be one of {allowed}, got {value!r}") from None

    return parse


def _int_set(value: Any, where: str) -> frozenset[int]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: must be a list of integers, got {value!r}")
    return frozenset(_int()(v, f"{where}[{i}]") for i, v in enumerate(value))


def _optional(inner: Parser) -> Parser:
    def parse(value: Any, where: str) -> Any:
        return None if value is None else inner(value, where)

    return parse


def _clock_time(value: str, where: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a time like 09:00") from None


def _office_hours(value: Any, where: str) -> OfficeHours:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: must be a list like ['09:00-12:00', '13:30-17:30']")
    out: list[tuple[time, time]] = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(item, str) or item.count("-") != 1:
            raise ConfigError(f"{here}: must be 'HH:MM-HH:MM', got {item!r}")
        begin, end = (_clock_time(part, here) for part in item.split("-"))
        if end <= begin or (out and begin < out[-1][1]):
            raise ConfigError(f"{here}: {item!r} must end after it starts and follow the previous")
        out.append((begin, end))
    return tuple(out)


def _grades(value: Any, where: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: must map grade names to minimum scores")
    pairs = [(_text(k, where), _number(v, f"{where}.{k}")) for k, v in value.items()]
    return tuple(sorted(pairs, key=lambda p: -p[1]))


def _blocks(value: Any, where: str) -> tuple[str, ...]:
    allowed = {"timeliness", "conformity", "fees", "complaints", "satisfaction"}
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: must be a list of block names {sorted(allowed)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown block(s) {unknown}; allowed {sorted(allowed)}")
    return tuple(value)


RULE_IDS = frozenset(f"R{i}" for i in range(1, 12))


def _rule_ids(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(v in RULE_IDS for v in value):
        raise ConfigError(f"{where}: must be a list of rule ids R1..R11, got {value!r}")
    return tuple(value)


def _enum_unit(value: Any, where: str) -> str:
    if value not in ("G", "Z"):
        raise ConfigError(f"{where}: must be 'G' or 'Z', got {value!r}")
    return str(value)


THRESHOLD_FIELDS: dict[str, Parser] = {
    "reminder_days": _int(),
    "reminder_grace_minutes": _int(),
    "supervision_days": _int(1),
    "max_extension_days": _int(),
    "supplement_mode": _enum(SupplementMode),
    "max_supplement_requests": _int(1),
    "min_processing_minutes": _int(),
    "report_delay_hours": _int(1),
    "absence_minutes": _int(1),
    "absence_yellow_after": _int(1),
    "office_hours": _office_hours,
    "rating_rectify_days": _int(1),
    "bad_rating_levels": _int_set,
    "reason_required_codes": _int_set,
    "no_fee": _bool,
    "fee_standard_fen": _optional(_int()),
}
RULE_FIELDS: dict[str, Parser] = {"enabled": _bool, "level": _enum(Level)}
DISCLOSURE_FIELDS: dict[str, Parser] = {
    "answer_days": _int(1),
    "max_extension_days": _int(),
    "max_extensions": _int(),
    "supplement_notice_days": _int(1),
}
COMPLAINT_FIELDS: dict[str, Parser] = {
    "accept_days": _int(1),
    "answer_days": _int(1),
    "answer_unit": _enum_unit,
    "staff_flag_from": _int(1),
}
SCORING_FIELDS: dict[str, Parser] = {
    **{
        name: _number
        for name in (
            "on_time_points", "early_points", "yellow_weight", "red_weight", "card_scale",
            "time_card_cap", "conformity_points", "conformity_card_cap", "fee_points", "fee_card_cap",
            "complaint_points", "complaint_deduction", "satisfaction_points", "rating_card_deduction",
        )
    },  # fmt: skip
    "min_cases": _int(1),
    "time_rules": _rule_ids,
    "conformity_rules": _rule_ids,
    "review_rules": _rule_ids,
    "fee_rules": _rule_ids,
    "satisfied_levels": _int_set,
    "rating_rules": _rule_ids,
    "grades": _grades,
    "failing_grade": _text,
    "department_blocks": _blocks,
    "window_blocks": _blocks,
    "staff_blocks": _blocks,
    "item_blocks": _blocks,
}
TOP_KEYS = frozenset(
    {"version", "thresholds", "rules", "departments", "items", "disclosure", "complaints", "scoring"}
)


def _section(raw: Any, fields: Mapping[str, Parser], where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(fields))}")
        out[key] = fields[key](value, f"{where}.{key}")
    return out


def _overrides(raw: Any, where: str) -> dict[str, Mapping[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must map codes to threshold overrides")
    return {str(code): _section(v, THRESHOLD_FIELDS, f"{where}.{code}") for code, v in raw.items()}


def parse_config(text: str, source: str) -> EngineConfig:
    """Parse and validate a YAML config; :class:`ConfigError` names ``source`` and the key."""
    try:
        raw = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"{source}: not valid YAML ({str(exc)[:200]})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    unknown = sorted(set(map(str, raw)) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(TOP_KEYS)}")
    if raw.get("version", 1) != 1:
        raise ConfigError(f"{source}: version must be 1, got {raw.get('version')!r}")
    rules_raw = raw.get("rules") or {}
    if not isinstance(rules_raw, dict):
        raise ConfigError(f"{source}: rules: must map rule ids (R1..R11) to settings")
    rules = {}
    for rule_id, setting in rules_raw.items():
        if rule_id not in RULE_IDS:
            raise ConfigError(f"{source}: rules: unknown rule {rule_id!r}; rules are R1..R11")
        rules[rule_id] = RuleSetting(**_section(setting, RULE_FIELDS, f"{source}: rules.{rule_id}"))
    return EngineConfig(
        thresholds=Thresholds(**_section(raw.get("thresholds"), THRESHOLD_FIELDS, f"{source}: thresholds")),
        rules=rules,
        departments=_overrides(raw.get("departments"), f"{source}: departments"),
        items=_overrides(raw.get("items"), f"{source}: items"),
        disclosure=DisclosureConfig(
            **_section(raw.get("disclosure"), DISCLOSURE_FIELDS, f"{source}: disclosure")
        ),
        complaints=ComplaintConfig(
            **_section(raw.get("complaints"), COMPLAINT_FIELDS, f"{source}: complaints")
        ),
        scoring=ScoringConfig(**_section(raw.get("scoring"), SCORING_FIELDS, f"{source}: scoring")),
        source=source,
    )


def load_config(path: str | Path) -> EngineConfig:
    """Read and validate a YAML config file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    return parse_config(text, str(path))
