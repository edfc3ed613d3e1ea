"""The clock and calendar commands, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hub.engine.clock_cli import calendar_group, clock_group
from tests.engine.helpers import FAKE_2027


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(clock_group, list(args), input=stdin)
    return result.exit_code, result.output


def test_due_worked_example_human_and_json() -> None:
    code, out = run("due", "--accepted", "2026-09-24", "--limit", "5", "--unit", "G")
    assert code == 0 and out.startswith("2026-10-09")
    code, out = run("due", "--accepted", "2026-09-24", "--limit", "5", "--json")
    assert code == 0 and json.loads(out) == {"due_date": "2026-10-09", "provisional": False}


def test_due_with_pauses_extension_and_unit_z() -> None:
    code, out = run(
        "due", "--accepted", "2026-09-24", "--limit", "5", "--pause", "2026-09-28:2026-09-29",
        "--extension", "1", "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["due_date"] == "2026-10-13"
    code, out = run("due", "--accepted", "2026-09-24", "--limit", "5", "--unit", "z", "--json")
    assert json.loads(out)["due_date"] == "2026-09-29"
    code, out = run("due", "--accepted", "2026-09-24", "--limit", "5", "--pause", "2026-09-28:")
    assert code == 0 and out.startswith("paused")


def test_due_provisional_then_with_a_calendar_file(tmp_path: Path) -> None:
    code, out = run("due", "--accepted", "2026-12-24", "--limit", "10")
    assert code == 0 and "PROVISIONAL" in out and "2027" in out
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(FAKE_2027), encoding="utf-8")
    code, out = run("due", "--accepted", "2026-12-24", "--limit", "10", "--calendar", str(path), "--json")
    assert json.loads(out) == {"due_date": "2027-01-09", "provisional": False}


def test_due_errors_are_usage_errors(tmp_path: Path) -> None:
    code, out = run("due", "--limit", "5")
    assert code == 2 and "--accepted" in out
    code, out = run("due", "--accepted", "2026-13-01", "--limit", "5")
    assert code == 2 and "not a valid" in out
    code, out = run("due", "--accepted", "2026-09-24", "--limit", "5", "--pause", "2026-09-28")
    assert code == 2 and "START:END" in out
    code, out = run("due", "--jsonl", "--limit", "5", stdin="")
    assert code == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"year": 2027, "days": [1]}', encoding="utf-8")
    code, out = run("due", "--accepted", "2026-09-24", "--limit", "5", "--calendar", str(bad))
    assert code == 1 and "bad.json: days[0]" in out


def test_jsonl_one_result_per_line_and_bad_lines_continue() -> None:
    lines = [
        {"accepted": "2026-09-24", "limit": 5, "unit": "G"},
        "this is not json",
        {"accepted": "2026-09-24", "limit": 5, "pauses": [["2026-09-28", "2026-09-29"]]},
        {"accepted": "2026-09-24", "limit": -1},
        {"accepted": "2026-09-24", "limit": 5, "pauses": [["2026-09-28", None]]},
        {"accepted": "2026-12-24", "limit": 10, "extension": 0},
        {"accepted": "2026-09-24", "limit": 5, "colour": "red"},
        [1, 2],
        "",
        {"accepted": "2026-09-24", "limit": 0, "unit": "Z"},
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    code, out = run("due", "--jsonl", stdin=text)
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(lines)
    assert results[0] == {"due_date": "2026-10-09", "provisional": False}
    assert "not JSON" in results[1]["error"]
    assert results[2] == {"due_date": "2026-10-12", "provisional": False}
    assert "non-negative" in results[3]["error"]
    assert results[4] == {"due_date": None, "provisional": False}
    assert results[5] == {"due_date": "2027-01-07", "provisional": True}
    assert "colour" in results[6]["error"]
    assert "object" in results[7]["error"]
    assert results[8] == {"error": "empty line"}
    assert results[9] == {"due_date": "2026-09-24", "provisional": False}


def cal(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(calendar_group, list(args))
    return result.exit_code, result.output


def test_calendar_check_and_load(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    path.write_text(json.dumps(FAKE_2027), encoding="utf-8")
    code, out = cal("check", str(path))
    assert code == 0 and "OK, year 2027" in out and "2027-01-04 Mon: off" in out
    assert "2027-01-09 Sat: working" in out and "provisional" in out
    code, out = cal("check", "--json", str(path))
    report = json.loads(out)
    assert report["year"] == 2027 and {"date": "2027-01-01", "working": False} in report["changed"]
    folder = tmp_path / "calendar"
    code, out = cal("load", str(path), "--calendar-dir", str(folder))
    assert code == 0 and (folder / "2027.json").is_file()
    code, out = cal("check", "--calendar-dir", str(folder), str(path))
    assert code == 0 and f"replaces {folder / '2027.json'}" in out
    # Once installed, the clock command sees the year through --calendar-dir.
    result = CliRunner().invoke(
        clock_group,
        ["due", "--accepted", "2026-12-24", "--limit", "10", "--calendar-dir", str(folder), "--json"],
    )
    assert json.loads(result.output) == {"due_date": "2027-01-09", "provisional": False}


def test_calendar_check_rejects_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "2027.json"
    path.write_text('{"year": 2027, "days": [{"name": "x", "date": "2027-1-1", "isOffDay": true}]}')
    code, out = cal("check", str(path))
    assert code == 1 and f"{path}: days[0]" in out
    folder = tmp_path / "calendar"
    code, out = cal("load", str(path), "--calendar-dir", str(folder))
    assert code == 1 and not (folder / "2027.json").exists()


def test_every_command_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "engine.md").read_text(encoding="utf-8")
    for group in (clock_group, calendar_group):
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            assert f"{group.name} {name}" in doc, f"{group.name} {name} is not in docs/engine.md"
            for param in command.params:
                for opt in getattr(param, "opts", []):
                    if opt.startswith("--"):
                        assert opt in doc, f"{group.name} {name} {opt} is not documented"
