"""Pure model of the item catalogue: items, validation of imported rows, checks of cases.

A row (from CSV, Excel or the edit form) is a mapping of column keys (:data:`COLUMNS`) to text;
:func:`parse_rows` turns rows into :class:`CatalogueItem` or a list of :class:`RowError` that name
the file row and the column in Chinese and English. :func:`check_case` compares a case's own
fields (from its ``case.accepted`` / ``case.completed`` records) with the catalogue's item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

UNITS = {"G": "G", "Z": "Z", "工作日": "G", "自然日": "Z", "g": "G", "z": "Z"}
MAX_DAYS = 3650
MAX_FEE_FEN = 100_000_000
MAX_BASIS = 500

#: (key, Chinese header, English header); the export writes the Chinese headers, import takes either.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("item_code", "事项编码", "item_code"),
    ("item_name", "事项名称", "item_name"),
    ("dept_code", "部门编码", "dept_code"),
    ("statutory_limit", "法定时限", "statutory_limit"),
    ("statutory_unit", "法定时限单位", "statutory_unit"),
    ("promised_limit", "承诺时限", "promised_limit"),
    ("promised_unit", "承诺时限单位", "promised_unit"),
    ("fee_fen", "收费标准（分）", "fee_fen"),
    ("legal_basis", "设定依据", "legal_basis"),
)
KEYS = tuple(c[0] for c in COLUMNS)
REQUIRED = ("item_code", "item_name", "dept_code", "statutory_limit", "statutory_unit", "promised_limit",
            "promised_unit")  # fmt: skip
_HEADER_TO_KEY = {h.strip().lower(): c[0] for c in COLUMNS for h in c}
_HEADER_TO_KEY.update({"收费标准": "fee_fen", "收费标准(分)": "fee_fen"})
_ZH = {c[0]: c[1] for c in COLUMNS}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


@dataclass(frozen=True, slots=True)
class Limit:
    """A time limit: ``value`` days in ``unit`` G (working days, 工作日) or Z (natural days, 自然日)."""

    value: int
    unit: str

    def label(self) -> str:
        return f"{self.value} {'工作日' if self.unit == 'G' else '自然日'}"

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One approval item (事项) of the catalogue."""

    item_code: str
    item_name: str
    dept_code: str
    statutory: Limit
    promised: Limit
    fee_fen: int = 0
    legal_basis: str = ""

    def row(self) -> dict[str, str]:
        """The item as a row of text (for export and the edit form)."""
        return {
            "item_code": self.item_code, "item_name": self.item_name, "dept_code": self.dept_code,
            "statutory_limit": str(self.statutory.value), "statutory_unit": self.statutory.unit,
            "promised_limit": str(self.promised.value), "promised_unit": self.promised.unit,
            "fee_fen": str(self.fee_fen), "legal_basis": self.legal_basis,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem of one cell (or a whole row when ``column`` is empty), for people to fix."""

    row: int
    column: str
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        where_zh = f"第 {self.row} 行" + (f"「{_ZH.get(self.column, self.column)}」列" if self.column else "")
        where_en = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where_zh}：{self.message_zh} / {where_en}: {self.message_en}"


class CatalogueError(ValueError):
    """A catalogue file or form that cannot be accepted; ``errors`` lists every problem found."""

    def __init__(self, errors: list[RowError] | str) -> None:
        self.errors: list[RowError] = [] if isinstance(errors, str) else list(errors)
        text = errors if isinstance(errors, str) else "\n".join(str(e) for e in self.errors[:50])
        if not isinstance(errors, str) and len(self.errors) > 50:
            text += f"\n… 另有 {len(self.errors) - 50} 处 / {len(self.errors) - 50} more"
        super().__init__(text)


def header_keys(header: Iterable[Any]) -> list[str | None]:
    """The column key of each header cell (None for a column the catalogue does not use).

    Raises :class:`CatalogueError` when a required column is missing or one appears twice."""
    keys: list[str | None] = []
    for cell in header:
        text = "" if cell is None else str(cell).strip().lstrip("\ufeff").lower()
        keys.append(_HEADER_TO_KEY.get(text))
    present = [k for k in keys if k]
    errors = [RowError(1, k, "缺少此列", "column missing") for k in REQUIRED if k not in present]
    errors += [RowError(1, k, "此列出现两次", "column appears twice") for k in set(present)
               if present.count(k) > 1]  # fmt: skip
    if errors:
        raise CatalogueError(errors)
    return keys


def _int(row: int, key: str, text: str, top: int, errors: list[RowError]) -> int | None:
    text = text.strip()
    if text.endswith(".0"):  # Excel numbers read as floats
        text = text[:-2]
    if not text.isdigit() or not text.isascii():
        errors.append(RowError(row, key, f"须为 0 到 {top} 的整数，而不是「{text}」",
                               f"must be a whole number 0..{top}, not {text!r}"))
        return None
    value = int(text)
    if value > top:
        errors.append(RowError(row, key, f"不能大于 {top}", f"must not exceed {top}"))
        return None
    return value


def _unit(row: int, key: str, text: str, errors: list[RowError]) -> str | None:
    unit = UNITS.get(text.strip())
    if unit is None:
        errors.append(RowError(row, key, f"须为 G（工作日）或 Z（自然日），而不是「{text.strip()}」",
                               f"must be G (working days) or Z (natural days), not {text.strip()!r}"))
    return unit


def parse_row(row_no: int, cells: Mapping[str, str], errors: list[RowError]) -> CatalogueItem | None:
    """One item from a row of text, or None with the row's problems appended to ``errors``."""
    before = len(errors)
    value = {k: (cells.get(k) or "").strip() for k in KEYS}
    for key in REQUIRED:
        if not value[key]:
            errors.append(RowError(row_no, key, "不能为空", "must not be empty"))
    if len(errors) > before:
        return None
    for key in ("item_code", "dept_code"):
        if not _CODE.match(value[key]):
            errors.append(RowError(row_no, key, "只能由字母、数字、._- 组成，至多 40 个字符",
                                   "letters, digits and ._- only, at most 40 characters"))
    if len(value["item_name"]) > 200:
        errors.append(RowError(row_no, "item_name", "至多 200 个字", "at most 200 characters"))
    if len(value["legal_basis"]) > MAX_BASIS:
        errors.append(RowError(row_no, "legal_basis", f"至多 {MAX_BASIS} 个字", f"at most {MAX_BASIS} characters"))
    s_val = _int(row_no, "statutory_limit", value["statutory_limit"], MAX_DAYS, errors)
    s_unit = _unit(row_no, "statutory_unit", value["statutory_unit"], errors)
    p_val = _int(row_no, "promised_limit", value["promised_limit"], MAX_DAYS, errors)
    p_unit = _unit(row_no, "promised_unit", value["promised_unit"], errors)
    fee = _int(row_no, "fee_fen", value["fee_fen"] or "0", MAX_FEE_FEN, errors)
    if len(errors) > before or s_val is None or s_unit is None or p_val is None or p_unit is None or fee is None:
        return None
    statutory, promised = Limit(s_val, s_unit), Limit(p_val, p_unit)
    if longer(promised, statutory):
        errors.append(RowError(row_no, "promised_limit",
                               f"承诺时限（{promised.label()}）长于法定时限（{statutory.label()}）",
                               "the promised limit is longer than the statutory one"))
        return None
    return CatalogueItem(value["item_code"], value["item_name"], value["dept_code"], statutory, promised, fee,
                         value["legal_basis"])  # fmt: skip


def parse_rows(rows: Iterable[tuple[int, Mapping[str, str]]]) -> list[CatalogueItem]:
    """Items from ``(file row number, cells)``; raises :class:`CatalogueError` listing every problem
    (and for an empty file or an item code that appears twice)."""
    errors: list[RowError] = []
    items: list[CatalogueItem] = []
    seen: dict[str, int] = {}
    for row_no, cells in rows:
        if not any((v or "").strip() for v in cells.values()):
            continue  # blank line
        item = parse_row(row_no, cells, errors)
        if item is None:
            continue
        if item.item_code in seen:
            errors.append(RowError(row_no, "item_code", f"事项编码与第 {seen[item.item_code]} 行重复",
                                   f"item code repeats row {seen[item.item_code]}"))
            continue
        seen[item.item_code] = row_no
        items.append(item)
    if errors:
        raise CatalogueError(errors)
    if not items:
        raise CatalogueError("文件中没有事项 / the file holds no items")
    return items


def longer(a: Limit, b: Limit) -> bool:
    """Whether limit ``a`` is longer than ``b``. Across units a working day counts as 7/5 natural
    days (a week of five working days), so ``22 Z`` is longer than ``15 G`` but ``21 Z`` is not."""
    if a.unit == b.unit:
        return a.value > b.value
    a_days = a.value * 7 / 5 if a.unit == "G" else a.value
    b_days = b.value * 7 / 5 if b.unit == "G" else b.value
    return a_days > b_days


# --- checks of cases ---------------------------------------------------------------------------

FINDING_CODES = ("unknown_item", "promised_over_statutory", "statutory_differs", "promised_differs",
                 "fee_standard_above", "fee_charged_above")  # fmt: skip


@dataclass(frozen=True, slots=True)
class CaseFields:
    """What a case itself says (from its records); None where the records say nothing."""

    item_code: str
    promised: Limit | None = None
    statutory: Limit | None = None
    fee_standard_fen: int | None = None
    fee_charged_fen: int | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A disagreement of a case with the catalogue: ``code`` (:data:`FINDING_CODES`), the case's
    value and the catalogue's — a :class:`Limit`, an amount in fen, or an item code (text) — for the
    UI to word in its language (:meth:`text` gives the Chinese)."""

    code: str
    case_value: Limit | int | str | None = None
    catalogue_value: Limit | int | str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The finding in Chinese (command line, logs)."""
        return f"{self.code}: {_zh(self.case_value)} / {_zh(self.catalogue_value)}"


def _zh(value: Limit | int | str | None) -> str:
    if isinstance(value, Limit):
        return value.label()
    if isinstance(value, int):
        return f"{value / 100:.2f} 元"
    return value or ""


def check_case(item: CatalogueItem | None, case: CaseFields) -> list[Finding]:
    """The findings of ``case`` against the catalogue's ``item`` (None: the item is not in the
    catalogue). Pure; the order is that of :data:`FINDING_CODES`."""
    out: list[Finding] = []
    if case.promised is not None and case.statutory is not None and longer(case.promised, case.statutory):
        out.append(Finding("promised_over_statutory", case.promised, case.statutory))
    if item is None:
        out.insert(0, Finding("unknown_item", case.item_code, None))
        return out
    if case.statutory is not None and case.statutory != item.statutory:
        out.append(Finding("statutory_differs", case.statutory, item.statutory))
    if case.promised is not None and case.promised != item.promised:
        out.append(Finding("promised_differs", case.promised, item.promised))
    if case.fee_standard_fen is not None and case.fee_standard_fen > item.fee_fen:
        out.append(Finding("fee_standard_above", case.fee_standard_fen, item.fee_fen))
    if case.fee_charged_fen is not None and case.fee_charged_fen > item.fee_fen:
        out.append(Finding("fee_charged_above", case.fee_charged_fen, item.fee_fen))
    return out


def limit_of(value: Any) -> Limit | None:
    """A :class:`Limit` from a record body's ``{"value": int, "unit": "G"|"Z"}`` (None if not one)."""
    if isinstance(value, Mapping) and isinstance(value.get("value"), int) and value.get("unit") in ("G", "Z"):
        return Limit(int(value["value"]), str(value["unit"]))
    return None


def case_fields(accepted: Mapping[str, Any] | None, completed: Mapping[str, Any] | None,
                item_code: str) -> CaseFields:  # fmt: skip
    """:class:`CaseFields` from the bodies of a case's ``case.accepted`` and ``case.completed``."""
    acc = accepted or {}
    done = completed or {}
    std = acc.get("fee_standard_fen")
    charged = done.get("fee_charged_fen")
    return CaseFields(
        item_code=str(acc.get("item_code") or item_code),
        promised=limit_of(acc.get("promised_limit")),
        statutory=limit_of(acc.get("statutory_limit")),
        fee_standard_fen=std if isinstance(std, int) and not isinstance(std, bool) else None,
        fee_charged_fen=charged if isinstance(charged, int) and not isinstance(charged, bool) else None,
    )
