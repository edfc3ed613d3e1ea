"""The profile loader is strict: every mistake is a ConfigError naming the file and the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.mapping import check_profile, errors, load_profile, profile_from_data
from shared.errors import ConfigError

PROFILES = Path(__file__).resolve().parents[2] / "firmware_configs" / "profiles"

MINIMAL: dict[str, Any] = {
    "profile": "mini",
    "sources": {"t_case": {"key": "id", "updated_at": "updated_at"}},
    "events": [{
        "type": "case.completed",
        "source": "t_case",
        "fields": {"case_id": "case_no", "at": "done_at",
                   "result_code": {"column": "result", "codes": "result"}},
    }],
    "codes": {"result": {"0": 0, "6": 6}},
}


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    change(data)
    return data


@pytest.mark.parametrize("name", ["reference", "exchange", "flowable"])
def test_shipped_profiles_load_and_check_clean(name: str) -> None:
    profile = load_profile(PROFILES / f"{name}.yaml")
    assert profile.name == name
    assert check_profile(profile) == []
    produced = {rule.type for rule in profile.events}
    assert produced == {"case.accepted", "case.refused", "case.step", "case.supplement_requested",
                        "case.supplement_received", "case.suspended", "case.resumed",
                        "case.completed", "case.rated", "case.rating_rectified"}


def test_minimal_profile_loads(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, MINIMAL))
    assert profile.capture.mode == "trigger"
    assert profile.sources["t_case"].key == ("id",)
    assert errors(check_profile(profile)) == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    (lambda d: d["sources"]["t_case"].update(kee="id"), "unknown key 'sources.t_case.kee'"),
    (lambda d: d["events"][0].update(sauce="t_case"), "unknown key 'events[0].sauce'"),
    (lambda d: d["events"][0]["fields"]["result_code"].update(colum="x"),
     "unknown key 'events[0].fields.result_code.colum'"),
    (lambda d: d["events"][0].update(when=[{"column": "a", "equal": "1"}]),
     "unknown key 'events[0].when[0].equal'"),
    (lambda d: d.update(capture={"mode": "cdc"}), "capture.mode: 'cdc' is not one of"),
    (lambda d: d.update(capture={"pol_seconds": 3}), "unknown key 'capture.pol_seconds'"),
    (lambda d: d["events"][0].update(source="nowhere"), "no source 'nowhere'"),
    (lambda d: d["events"][0]["fields"]["result_code"].update(codes="results"),
     "no code table 'results'"),
    (lambda d: d["events"][0]["fields"].update(fee_charged_fen={"const": 1.5}), "no floats"),
    (lambda d: d.update(timezone="Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    (lambda d: d.update(encoding="klingon"), "unknown text encoding 'klingon'"),
    (lambda d: d["events"][0]["fields"].update(at="done at"), "not a plain column name"),
    (lambda d: d["events"].append(copy.deepcopy(d["events"][0])), "is already used by events[0]"),
    (lambda d: d["events"][0]["fields"].update(at={"column": "a", "const": "b"}),
     "exactly one of column, const, fields"),
    (lambda d: d.pop("profile"), "missing required key 'profile'"),
    (lambda d: d["sources"]["t_case"].update(key=[]), "sources.t_case.key must be"),
])
def test_every_mistake_names_the_file_and_key(tmp_path: Path, change: Any, expected: str) -> None:
    path = _write(tmp_path, _broken(change))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_unreadable_or_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile(bad)


def test_in_memory_profiles_say_where_they_came_from() -> None:
    with pytest.raises(ConfigError, match="<memory>: unknown key 'x'"):
        profile_from_data({**MINIMAL, "x": 1})
