"""Working days, counting and office hours of the simulated halls."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from simulator.workdays import (
    add_office_minutes,
    counted_date,
    dates_between,
    in_office,
    is_workday,
    office_minutes_between,
)

TZ = ZoneInfo("Asia/Shanghai")


def test_domain_worked_example_2026_national_day() -> None:
    # DOMAIN.md §3: accepted Thu 2026-09-24, limit 5 G → due 2026-10-09.
    assert counted_date(date(2026, 9, 24), 5, "G") == date(2026, 10, 9)
    assert is_workday(date(2026, 10, 10))  # 调休 Saturday
    assert not is_workday(date(2026, 9, 25))  # Mid-Autumn


def test_natural_days_and_pauses() -> None:
    start = date(2026, 3, 2)
    assert counted_date(start, 3, "Z") == date(2026, 3, 5)
    paused = dates_between(date(2026, 3, 3), date(2026, 3, 4))
    assert counted_date(start, 3, "Z", paused) == date(2026, 3, 7)
    assert counted_date(start, 0, "G") == start


def test_years_without_holiday_data_fall_back_to_weekdays() -> None:
    assert is_workday(date(2031, 1, 6))  # a Monday, no data: Monday–Friday
    assert not is_workday(date(2031, 1, 5))


moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1)).map(
    lambda d: d.replace(tzinfo=TZ, microsecond=0))


@given(moments, st.floats(min_value=0.5, max_value=5000))
def test_office_minutes_land_in_office_and_add_up(start: datetime, minutes: float) -> None:
    end = add_office_minutes(start, minutes)
    assert end > start
    assert in_office(end) or in_office(end - timedelta(seconds=1))
    assert abs(office_minutes_between(start, end) - minutes) < 1e-6 * max(1.0, minutes)
