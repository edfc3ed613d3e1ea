"""WorkCalendar: the official arrangement, loaded files, the fallback year and the index."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from hub.engine.arrangement import load_arrangement, parse_arrangement
from hub.engine.calendar import WorkCalendar
from shared.errors import ConfigError
from tests.engine.helpers import FAKE_2027, d, fake_2027

REPO = Path(__file__).resolve().parents[2]
CAL = WorkCalendar()

TIAOXIU_2026 = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
HOLIDAYS_2026 = [
    "2026-01-01", "2026-01-02",
    "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
    "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05", "2026-06-19",
    "2026-09-25", "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07",
]  # fmt: skip


@pytest.mark.parametrize("day", TIAOXIU_2026)
def test_2026_tiaoxiu_weekend_days_are_working(day: str) -> None:
    assert d(day).weekday() >= 5
    assert CAL.is_workday(d(day))


@pytest.mark.parametrize("day", HOLIDAYS_2026)
def test_2026_weekday_holidays_are_off(day: str) -> None:
    assert d(day).weekday() < 5
    assert not CAL.is_workday(d(day))


def test_every_day_2004_to_2026_agrees_with_chinese_calendar() -> None:
    day = date(2004, 1, 1)
    while day <= date(2026, 12, 31):
        assert CAL.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_covered_years_and_provisional_fallback() -> None:
    assert CAL.covered_years == frozenset(range(2004, 2027))
    assert not CAL.is_provisional_year(2026)
    assert CAL.is_provisional_year(2027)
    assert CAL.source_of(2027) == "provisional (Monday-Friday)"
    # 2027 falls back to Monday-Friday and never raises.
    assert CAL.is_workday(d("2027-01-01"))  # a Friday: no data says it is a holiday
    assert not CAL.is_workday(d("2027-01-02"))
    assert CAL.any_provisional(d("2026-12-30"), d("2027-01-01"))
    assert not CAL.any_provisional(d("2026-12-01"), d("2026-12-31"))


def test_loading_a_year_returns_a_new_calendar_with_a_higher_version() -> None:
    new = CAL.with_arrangement(fake_2027())
    assert new.version == CAL.version + 1
    assert CAL.is_provisional_year(2027) and not new.is_provisional_year(2027)
    assert not new.is_workday(d("2027-01-04"))  # the file's holiday
    assert new.is_workday(d("2027-01-09"))  # the file's 调休 Saturday
    assert new.is_workday(d("2027-01-05"))  # unlisted weekday
    assert new.source_of(2027) == "fake-2027.json"
    assert not CAL.is_workday(d("2026-10-01"))  # other years untouched


def test_a_loaded_file_overrides_the_package_for_its_year() -> None:
    data = {"year": 2026, "days": [{"name": "测试", "date": "2026-03-02", "isOffDay": True}]}
    new = CAL.with_arrangement(parse_arrangement(json.dumps(data), "override.json"))
    assert not new.is_workday(d("2026-03-02"))
    assert new.is_workday(d("2026-10-01"))  # the whole year comes from the file now


def test_adjacent_year_entries_apply_unless_that_year_has_its_own_file() -> None:
    data = {
        "year": 2027,
        "days": [
            {"name": "元旦", "date": "2026-12-31", "isOffDay": True},
            {"name": "元旦", "date": "2027-01-01", "isOffDay": True},
        ],
    }
    new = CAL.with_arrangement(parse_arrangement(json.dumps(data), "x.json"))
    assert not new.is_workday(d("2026-12-31"))
    own = {"year": 2026, "days": [{"name": "x", "date": "2026-01-01", "isOffDay": True}]}
    newer = new.with_arrangement(parse_arrangement(json.dumps(own), "own-2026.json"))
    assert newer.is_workday(d("2026-12-31"))


def test_shipped_2026_file_equals_the_package_data() -> None:
    loaded = load_arrangement(REPO / "firmware_configs" / "calendar" / "2026.json")
    assert CAL.with_arrangement(loaded).index.work == CAL.index.work
    assert CAL.builtin_arrangement(2026).to_json() == loaded.to_json()


def test_index_lookups() -> None:
    assert CAL.workdays_between(d("2026-09-24"), d("2026-10-09")) == 5
    assert CAL.workdays_between(d("2026-10-09"), d("2026-09-24")) == 0
    assert CAL.nth_workday_after(d("2026-09-24"), 5) == d("2026-10-09")
    assert CAL.nth_workday_after(d("2026-10-01"), 1) == d("2026-10-08")
    with pytest.raises(ValueError):
        CAL.nth_workday_after(d("2026-10-01"), 0)
    with pytest.raises(ValueError, match="outside"):
        CAL.is_workday(d("1999-12-31"))
    with pytest.raises(ValueError, match="beyond"):
        CAL.nth_workday_after(d("2099-12-01"), 100)


def _bad(entry: object, where: str = "days[1]") -> str:
    doc = {"year": 2027, "days": [FAKE_2027["days"][0], entry]}
    with pytest.raises(ConfigError) as info:
        parse_arrangement(json.dumps(doc, ensure_ascii=False), "2027.json")
    message = str(info.value)
    assert message.startswith("2027.json: "), message
    assert where in message, message
    return message


def test_strict_validation_names_the_file_and_the_entry() -> None:
    assert "not a valid" in _bad({"name": "x", "date": "2027-02-30", "isOffDay": True})
    assert "isOffDay" in _bad({"name": "x", "date": "2027-02-01", "isOffDay": "yes"})
    assert "unexpected ['extra']" in _bad(
        {"name": "x", "date": "2027-02-01", "isOffDay": True, "extra": 1}
    )
    assert "missing ['name']" in _bad({"date": "2027-02-01", "isOffDay": True})
    assert "already listed" in _bad(FAKE_2027["days"][0])
    assert "adjacent" in _bad({"name": "x", "date": "2030-01-01", "isOffDay": True})
    assert "weekday" in _bad({"name": "x", "date": "2027-02-01", "isOffDay": False})
    assert "non-empty" in _bad({"name": " ", "date": "2027-02-01", "isOffDay": True})
    assert "YYYY-MM-DD" in _bad({"name": "x", "date": "2027-2-1", "isOffDay": True})
    assert "object" in _bad(["2027-02-01"])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "not valid JSON"),
        ("[]", "top level"),
        ('{"year": 2027, "days": [], "holidays": []}', "unknown key(s) ['holidays']"),
        ('{"year": "2027", "days": []}', "'year'"),
        ('{"year": 2027}', "'days'"),
        ('{"year": 2027, "days": []}', "no day of 2027"),
    ],
)
def test_strict_validation_of_the_document(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="^f.json: ") as info:
        parse_arrangement(text, "f.json")
    assert fragment in str(info.value)


def test_load_arrangement_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.json: cannot read"):
        load_arrangement(tmp_path / "missing.json")
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(FAKE_2027), encoding="utf-8")
    assert load_arrangement(path).year == 2027


def test_round_trip_to_json() -> None:
    arrangement = fake_2027()
    again = parse_arrangement(json.dumps(arrangement.to_json()), "again")
    assert again.days == arrangement.days
