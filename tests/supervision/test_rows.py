"""Case rows: the hot-path writing of the clock column and the memoised due dates behind them."""

from __future__ import annotations

import json

import pytest

from hub.engine.calendar import WorkCalendar
from hub.engine.caseclock import CaseClock, SupplementMode
from hub.engine.cases import CaseState
from hub.engine.clock import Limit, Pause, Unit, due_date
from hub.engine.config import Thresholds
from hub.supervision.rows import clock_json, clock_text_of, compute_row
from tests.engine.helpers import d

CAL = WorkCalendar()


def _case(clock: CaseClock | None) -> CaseState:
    case = CaseState("C1", Thresholds())
    case.clock = clock
    return case


def test_the_clock_column_is_the_json_of_the_clock() -> None:
    plain = CaseClock(d("2026-09-24"), Limit(5, Unit.G), Limit(20, Unit.G))
    natural = CaseClock(d("2026-09-24"), Limit(0, Unit.Z), None, SupplementMode.RESTART)
    paused = CaseClock(d("2026-09-24"), Limit(5, Unit.G), Limit(20, Unit.Z))
    paused.supplement_requested(d("2026-09-25"))
    paused.supplement_received(d("2026-09-28"))
    paused.suspended(d("2026-09-29"), 2)
    paused.suspended(d("2026-09-30"), 1, 3)
    done = CaseClock(d("2026-09-24"), Limit(5, Unit.G), Limit(20, Unit.G))
    done.complete(d("2026-10-09"))
    for clock in (None, plain, natural, paused, done):
        case = _case(clock)
        assert clock_text_of(case) == json.dumps(clock_json(case), ensure_ascii=False)


def test_a_row_keeps_the_record_only_columns_and_refuses_others() -> None:
    case = _case(CaseClock(d("2026-09-24"), Limit(5, Unit.G), Limit(20, Unit.G)))
    row = compute_row(case, CAL, d("2026-09-25"), names={"applicant_name": "张三", "dept_name": ""})
    assert row.applicant_name == "张三" and row.dept_name is None and row.due_date == "2026-10-09"
    again = compute_row(case, CAL, d("2026-09-25"), old=row, names={"staff_name": "李四"})
    assert again.applicant_name == "张三" and again.staff_name == "李四"
    with pytest.raises(ValueError, match="status"):
        compute_row(case, CAL, d("2026-09-25"), names={"status": "red"})


def test_memoised_due_dates_equal_fresh_ones_and_errors_are_not_memoised() -> None:
    fresh = WorkCalendar()
    for start in ("2026-09-24", "2026-09-30", "2026-12-31"):
        for limit in (0, 1, 5, 20):
            for unit in (Unit.G, Unit.Z):
                first = due_date(fresh, d(start), limit, unit, extension=2)
                assert due_date(fresh, d(start), limit, unit, extension=2) is first  # memoised
                assert due_date(fresh, d(start), limit, unit, (Pause(d(start), d(start)),), 2) == first
    for _ in range(2):  # a negative limit is an error every time
        with pytest.raises(ValueError, match="negative"):
            due_date(fresh, d("2026-09-24"), 1, Unit.G, extension=-5)
