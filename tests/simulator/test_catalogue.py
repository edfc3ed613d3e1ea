"""The simulated city's catalogue: realistic, complete and deterministic."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.canonical import canonical
from simulator.catalogue import build_catalogue, credit_check_char, org_check_char
from simulator.catalogue_data import DEPARTMENTS

REQUIRED_DEPARTMENTS = (
    "市市场监督管理局", "市自然资源和规划局", "市生态环境局", "市交通运输局", "市卫生健康委",
    "市住房和城乡建设局", "市公安局", "市民政局", "市人力资源和社会保障局", "市教育局",
    "市文化广电旅游局", "市商务局", "市农业农村局", "市水利局", "市应急管理局", "市税务局",
    "市医疗保障局", "市城市管理局", "市林业局", "市行政审批服务局",
)


def test_default_city_has_20_departments_and_67_windows() -> None:
    cat = build_catalogue()
    assert [d.name for d in cat.departments] == list(REQUIRED_DEPARTMENTS)
    assert len(cat.windows) == 67
    assert all(d.windows and d.items and d.officers for d in cat.departments)
    assert len(cat.items) >= 90


def test_codes_and_ids_are_unique_and_well_formed() -> None:
    cat = build_catalogue()
    for values in ([d.code for d in cat.departments], [d.credit_code for d in cat.departments],
                   [w.window_id for w in cat.windows], [s.staff_id for s in cat.staff],
                   [i.code for i in cat.items]):
        assert len(values) == len(set(values))
    for item in cat.items:
        assert re.fullmatch(r"990100\d{11}", item.code), item.code
    for dept in cat.departments:
        code = dept.credit_code
        assert re.fullmatch(r"11990100[0-9]{8}[0-9X][0-9A-Y]", code), code
        assert credit_check_char(code[:17]) == code[17]
        assert org_check_char(code[8:16]) == code[16]


def test_items_are_real_with_lawful_limits_and_integer_fees() -> None:
    cat = build_catalogue()
    names = [i.name for i in cat.items]
    for wanted in ("食品经营许可", "建设工程规划许可", "排污许可", "药品零售", "道路旅客运输经营许可",
                   "道路货物运输经营许可", "酒类批发许可"):
        assert any(wanted in n for n in names), wanted
    for item in cat.items:
        assert item.statutory.unit in ("G", "Z") and item.promised.unit in ("G", "Z")
        assert 0 <= item.promised.value <= item.statutory.value, item.name
        assert isinstance(item.fee_fen, int) and item.fee_fen >= 0
        assert item.case_kind == (1 if item.promised.value == 0 else 2)
        assert item.steps
    free = [i for i in cat.items if i.fee_fen == 0]
    assert len(free) > 0.85 * len(cat.items)  # most items are free
    assert {i.fee_fen for i in cat.items} >= {8000, 55000, 2000, 12000}  # published standards
    assert any(i.promised.unit == "Z" for i in cat.items)
    assert any(i.case_kind == 1 for i in cat.items)
    canonical(cat.to_dict())  # no floats anywhere


def test_staff_have_chinese_names_and_windows_have_clerks() -> None:
    cat = build_catalogue()
    for staff in cat.staff:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", staff.name), staff.name
    for window in cat.windows:
        assert 2 <= len(window.staff) <= 3
        assert all(s.window_id == window.window_id for s in window.staff)


@given(st.integers(min_value=0, max_value=2**32))
def test_same_seed_same_catalogue(seed: int) -> None:
    assert build_catalogue(seed).to_dict() == build_catalogue(seed).to_dict()


def test_seed_changes_people_not_items() -> None:
    a, b = build_catalogue(1), build_catalogue(2)
    assert [i.code for i in a.items] == [i.code for i in b.items]
    assert [s.name for s in a.staff] != [s.name for s in b.staff]


def test_a_subset_has_the_same_names_as_the_whole_city() -> None:
    whole = build_catalogue(7)
    part = build_catalogue(7, ["GA", "SCJG"])
    assert [d.code for d in part.departments] == ["GA", "SCJG"]
    for dept in part.departments:
        assert dept == whole.department(dept.code)
    assert build_catalogue(7, 3).departments == whole.departments[:3]


@pytest.mark.parametrize("bad", [0, 21, ["NOPE"]])
def test_bad_department_selection_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        build_catalogue(1, bad)  # type: ignore[arg-type]


def test_window_counts_sum_to_67() -> None:
    assert sum(d[2] for d in DEPARTMENTS) == 67


def test_hall_and_windows_are_named_as_a_city_names_them() -> None:
    """The hall is the city's 政务服务中心 with a window zone per department; windows are numbered
    across the centre and named by their business; the 出件 window hands out, never accepts."""
    cat = build_catalogue()
    numbers = [int(w.name.split("号窗口（")[0]) for w in cat.windows]
    assert numbers == list(range(1, 68))
    scjg = cat.department("SCJG")
    assert scjg.windows[0].hall == "明州市政务服务中心 一楼 市场监管窗口区"
    assert scjg.windows[0].name == "1号窗口（市场监管·综合受理）"
    assert scjg.windows[1].name == "2号窗口（市场监管·食品经营许可）"
    assert scjg.windows[-1].name.endswith("·办结出件）") and not scjg.windows[-1].accepts
    assert cat.department("LY").windows[0].hall.startswith("明州市政务服务中心 三楼")
    for dept in cat.departments:
        assert any(w.accepts for w in dept.windows)
        for w in dept.windows:
            assert w.item_code is None or w.item_code in {i.code for i in dept.items}


def test_applications_are_made_at_a_window_that_accepts_them() -> None:
    rng = random.Random(3)
    scjg = build_catalogue().department("SCJG")
    food = scjg.items[0]
    chosen = [scjg.window_for(food, rng) for _ in range(500)]
    assert all(w.accepts for w in chosen)
    assert 0.75 < sum(w.item_code == food.code for w in chosen) / 500 < 0.9
