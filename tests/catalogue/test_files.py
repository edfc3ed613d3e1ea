"""Catalogue files: CSV and Excel import (good and bad), export round-trip, versions, the CLI."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from hub.catalogue import store
from hub.catalogue.files import read_csv, read_file, read_xlsx, write_csv, write_xlsx
from hub.catalogue.model import CatalogueError, CatalogueItem, Limit
from hub.catalogue.sample import sample_items
from hub.cli import main

GOOD_CSV = (
    "事项编码,事项名称,部门编码,法定时限,法定时限单位,承诺时限,承诺时限单位,收费标准（分）,设定依据\n"
    "990100001001,食品经营许可,SCJG,20,G,5,工作日,0,《食品经营许可管理办法》\n"
    ",,,,,,,,\n"
    "990100007002,居民身份证申领,GA,60,Z,30,自然日,2000,\n"
)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_good_csv_is_read_with_chinese_headers_and_units() -> None:
    items = read_csv(GOOD_CSV.encode("utf-8-sig"))
    assert [i.item_code for i in items] == ["990100001001", "990100007002"]
    assert items[0].promised == Limit(5, "G") and items[1].statutory == Limit(60, "Z")
    assert items[1].fee_fen == 2000 and items[0].legal_basis == "《食品经营许可管理办法》"
    assert read_csv(GOOD_CSV.encode("gb18030")) == items


def test_a_good_xlsx_with_english_headers_and_numbers() -> None:
    data = _xlsx([["item_code", "item_name", "dept_code", "statutory_limit", "statutory_unit", "promised_limit",
                   "promised_unit", "fee_fen", "extra"],
                  ["A-1", "建设工程规划许可", "ZRZY", 20, "G", 15.0, "G", None, "ignored"]])  # fmt: skip
    assert read_xlsx(data) == [CatalogueItem("A-1", "建设工程规划许可", "ZRZY", Limit(20, "G"), Limit(15, "G"), 0, "")]


def test_bad_csv_names_every_row_and_column() -> None:
    bad = ("item_code,item_name,dept_code,statutory_limit,statutory_unit,promised_limit,promised_unit,fee_fen\n"
           "A1,x,D,20,G,30,G,0\n"
           "A2,y,D,2a,Q,3,G,-1\n"
           "A3,,D,1,G,1,G,0\n"
           "A4,z,D,10,G,10,Z,0\n"
           "A4,z,D,10,G,10,G,0\n")  # fmt: skip
    with pytest.raises(CatalogueError) as caught:
        read_csv(bad.encode())
    where = [(e.row, e.column) for e in caught.value.errors]
    assert where == [(2, "promised_limit"), (3, "statutory_limit"), (3, "statutory_unit"), (3, "fee_fen"),
                     (4, "item_name"), (6, "item_code")]  # fmt: skip
    text = str(caught.value)
    assert "第 3 行「法定时限单位」列" in text and "row 3, column statutory_unit" in text
    assert "长于法定时限" in text and "repeats row 5" in text


def test_bad_xlsx_and_bad_headers() -> None:
    data = _xlsx([["事项编码", "事项名称", "部门编码", "法定时限", "法定时限单位", "承诺时限"],
                  ["A1", "x", "D", 20, "G", 5]])  # fmt: skip
    with pytest.raises(CatalogueError, match="column missing") as caught:
        read_xlsx(data)
    assert [(e.row, e.column) for e in caught.value.errors] == [(1, "promised_unit")]
    numeric = _xlsx([["item_code", "item_name", "dept_code", "statutory_limit", "statutory_unit", "promised_limit",
                      "promised_unit"],
                     [99010000001001000, "x", "D", 20, "G", 5, "G"], [1234, "y", "D", 20, "G", 5, "G"]])
    with pytest.raises(CatalogueError, match="format the column as text") as caught:
        read_xlsx(numeric)
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "item_code")]
    with pytest.raises(CatalogueError, match="not a readable .xlsx"):
        read_xlsx(b"not a zip")
    with pytest.raises(CatalogueError, match="no items"):
        read_csv(GOOD_CSV.splitlines()[0].encode())
    with pytest.raises(CatalogueError, match="unsupported file type"):
        read_file("items.txt", b"")


def test_export_round_trips_in_both_formats() -> None:
    items = sample_items()
    assert len(items) == 94
    assert read_csv(write_csv(items)) == items
    assert read_xlsx(write_xlsx(items)) == items


def test_every_import_and_edit_is_a_version(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "hub.sqlite", isolation_level=None)
    store.ensure_schema(conn)
    assert store.current_version(conn) is None and store.items(conn) == []
    first = read_csv(GOOD_CSV.encode())
    v1 = store.save_version(conn, first, username="admin", source="import", note="a.csv", at="2026-12-01T00:00:00Z")
    changed = CatalogueItem("990100001001", "食品经营许可", "SCJG", Limit(20, "G"), Limit(3, "G"), 0, "")
    v2, before = store.edit_item(conn, changed, username="admin", at="2026-12-02T00:00:00Z")
    assert (v1.version, v2.version, before) == (1, 2, first[0])
    assert store.item(conn, "990100001001") == changed
    assert store.item(conn, "990100001001", version=1) == first[0]
    assert [(v.version, i.promised.value if i else None) for v, i in store.history(conn, "990100001001")] == [
        (2, 3), (1, 5)]
    assert [i.item_code for i in store.items(conn, q="身份证")] == ["990100007002"]
    assert [i.item_code for i in store.items(conn, dept="SCJG")] == ["990100001001"]
    with pytest.raises(CatalogueError, match="nothing changed"):
        store.edit_item(conn, changed, username="admin", at="2026-12-03T00:00:00Z")
    store.save_version(conn, first[1:], username="cli", source="import", note="b.csv", at="2026-12-04T00:00:00Z")
    assert [(v.version, i) for v, i in store.history(conn, "990100001001")][0] == (3, None)
    assert [v.version for v in store.versions(conn)] == [3, 2, 1]


def test_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    sample = tmp_path / "sample.xlsx"
    result = runner.invoke(main, ["catalogue", "sample", "-o", str(sample)])
    assert result.exit_code == 0, result.output
    data = tmp_path / "data"
    result = runner.invoke(main, ["catalogue", "import", str(sample), "--data", str(data)])
    assert result.exit_code == 0 and "version 1" in result.output, result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD_CSV.replace(",20,G,5,", ",20,G,50,"), encoding="utf-8")
    result = runner.invoke(main, ["catalogue", "import", str(bad), "--data", str(data)])
    assert result.exit_code == 1 and "第 2 行「承诺时限」列" in result.output
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["catalogue", "export", "--data", str(data), "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_csv(out.read_bytes()) == sample_items()
    result = runner.invoke(main, ["catalogue", "show", "--data", str(data)])
    assert "94 items" in result.output and "食品经营许可" in result.output
    result = runner.invoke(main, ["catalogue", "show", "--data", str(data), "--history"])
    assert result.output.startswith("v1 ") and "sample.xlsx" in result.output
    from hub.auth.audit import list_audit

    conn = sqlite3.connect(data / "hub.sqlite")
    conn.row_factory = sqlite3.Row
    entries, _ = list_audit(conn, action="catalogue.import")
    assert [(e.username, e.target, e.detail["items"]) for e in entries] == [("cli", "v1", 94)]


def test_the_shipped_sample_is_the_simulators_catalogue() -> None:
    shipped = Path(__file__).resolve().parents[2] / "docs" / "samples" / "catalogue-sample.csv"
    assert read_csv(shipped.read_bytes()) == sample_items()
