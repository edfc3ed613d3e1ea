"""Catalogue files: CSV (UTF-8, with or without BOM; GB18030 as saved by older Excel) and Excel
``.xlsx`` (openpyxl, first worksheet). Row 1 is the header (Chinese or English column names,
:data:`hub.catalogue.model.COLUMNS`); errors name the file row and the column."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.catalogue.model import COLUMNS, KEYS, CatalogueError, CatalogueItem, RowError, header_keys, parse_rows

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
FORMATS = ("csv", "xlsx")


def format_of(name: str) -> str:
    """``csv`` or ``xlsx`` from a file name; raises :class:`CatalogueError` for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    raise CatalogueError(f"不支持的文件类型「{suffix or name}」：请用 .csv 或 .xlsx / "
                         f"unsupported file type {suffix or name!r}: use .csv or .xlsx")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _items(table: Sequence[Sequence[Any]]) -> list[CatalogueItem]:
    if not table:
        raise CatalogueError("文件是空的 / the file is empty")
    if len(table) > MAX_ROWS + 1:
        raise CatalogueError(f"文件超过 {MAX_ROWS} 行 / the file has more than {MAX_ROWS} rows")
    keys = header_keys(table[0])
    rows = []
    number_codes: list[RowError] = []
    for number, raw in enumerate(table[1:], start=2):
        cells: dict[str, str] = {}
        for key, value in zip(keys, raw, strict=False):
            if key:
                cells[key] = _cell(value)
                if key in ("item_code", "dept_code") and _lossy_number(value):
                    number_codes.append(RowError(
                        number, key, "在 Excel 中是数字，超过 15 位已丢失精度：请把该列设为文本格式后重新填写",
                        "is a number in Excel, which keeps only 15 digits: format the column as text and enter "
                        "the codes again"))  # fmt: skip
        rows.append((number, cells))
    if number_codes:
        raise CatalogueError(number_codes)
    return parse_rows(rows)


def _lossy_number(value: Any) -> bool:
    """A code stored as a number that Excel cannot hold exactly (a float, or more than 15 digits)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, float) or (isinstance(value, int) and len(str(abs(value))) > 15)


def read_csv(data: bytes) -> list[CatalogueItem]:
    """Items from CSV bytes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise CatalogueError("CSV 文件须为 UTF-8 或 GB18030 编码 / the CSV file must be UTF-8 or GB18030") from None
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CatalogueError(f"CSV 格式错误：{exc} / malformed CSV: {exc}") from None
    return _items(table)


def read_xlsx(data: bytes) -> list[CatalogueItem]:
    """Items from the first worksheet of an Excel workbook."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as exc:
        raise CatalogueError(f"无法读取 Excel 文件：{exc} / not a readable .xlsx workbook: {exc}") from None
    try:
        sheet = book.worksheets[0]
        table = [list(row) for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2)]
    finally:
        book.close()
    while table and not any(v not in (None, "") for v in table[-1]):
        table.pop()
    return _items(table)


def read_file(name: str, data: bytes) -> list[CatalogueItem]:
    """Items from a file's name (for its type) and bytes."""
    if len(data) > MAX_BYTES:
        mib = MAX_BYTES // 1024 // 1024
        raise CatalogueError(f"文件超过 {mib} MiB / the file exceeds {mib} MiB")
    return read_csv(data) if format_of(name) == "csv" else read_xlsx(data)


def write_csv(items: Sequence[CatalogueItem]) -> bytes:
    """CSV with a BOM (Excel opens it as UTF-8) and the Chinese headers."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c[1] for c in COLUMNS])
    for item in items:
        row = item.row()
        writer.writerow([row[k] for k in KEYS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_xlsx(items: Sequence[CatalogueItem], title: str = "事项目录") -> bytes:
    """An Excel workbook of one worksheet; limits and fees are numbers."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append([c[1] for c in COLUMNS])
    numeric = {"statutory_limit", "promised_limit", "fee_fen"}
    for item in items:
        row = item.row()
        sheet.append([int(row[k]) if k in numeric else row[k] for k in KEYS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_file(items: Sequence[CatalogueItem], fmt: str) -> bytes:
    """``csv`` or ``xlsx`` bytes of ``items``."""
    if fmt == "csv":
        return write_csv(items)
    if fmt == "xlsx":
        return write_xlsx(items)
    raise CatalogueError(f"format must be one of {FORMATS}")
