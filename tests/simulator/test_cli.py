"""xiaoneng-sim: the click commands, on SQLite files and (when reachable) on the servers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.cli import main, parse_rate
from simulator.planner import Violations
from tests.simulator.servers import DIALECTS, fresh_database

DOCS = [Path(__file__).resolve().parents[2] / "docs" / name for name in ("mapping.md", "simulator.md")]


def _ok(args: list[str]) -> str:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("dialect", DIALECTS)
def test_init_backfill_run_status(tmp_path: Path, dialect: str) -> None:
    with fresh_database(dialect, tmp_path) as url:
        out = _ok(["init", "--db", url, "--schema", "exchange", "--departments", "2",
                   "--seed", "4", "--violations", "overdue=0.2"])
        assert "2 departments, 11 windows" in out
        out = _ok(["backfill", "--db", url, "--days", "2"])
        assert "cases planned" in out
        out = _ok(["run", "--db", url, "--rate", "30/h", "--speed", "3600", "--duration", "1800",
                   "--always"])
        assert "stopped" in out
        out = _ok(["status", "--db", url])
        accepted = int(re.search(r"up_pro_accept\s+(\d+)", out).group(1))  # type: ignore[union-attr]
        assert accepted > 20


def test_catalogue_command_prints_the_item_catalogue() -> None:
    data = json.loads(_ok(["catalogue", "--format", "json", "--departments", "1"]))
    assert data["departments"][0]["name"] == "市市场监督管理局"
    assert data["departments"][0]["items"][0]["item_name"] == "食品经营许可"
    assert "食品经营许可" in _ok(["catalogue"])


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["init", "--db", "oracle://x/y"])
    assert bad.exit_code != 0 and "unsupported database URL" in bad.output
    url = f"sqlite:///{tmp_path / 'd.db'}"
    _ok(["init", "--db", url, "--departments", "1"])
    again = runner.invoke(main, ["init", "--db", url])
    assert again.exit_code == 1 and "already exist" in again.output
    missing = runner.invoke(main, ["run", "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert missing.exit_code == 2 and "no such SQLite database" in missing.output
    assert not (tmp_path / "none.db").exists()
    (tmp_path / "empty.db").touch()
    empty = runner.invoke(main, ["status", "--db", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert empty.exit_code == 1 and "not initialised" in empty.output
    wrong = runner.invoke(main, ["backfill", "--db", url, "--violations", "speeding=1"])
    assert wrong.exit_code == 1 and "unknown violation 'speeding'" in wrong.output


def test_rates() -> None:
    assert parse_rate("2/min") == 2.0
    assert parse_rate("120/h") == 2.0
    assert parse_rate("1/s") == 60.0
    assert parse_rate("0.5") == 0.5
    with pytest.raises(Exception, match="positive rate"):
        parse_rate("fast")


def test_every_command_is_documented() -> None:
    text = "".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    for name in main.commands:
        assert f"xiaoneng-sim {name}" in text, f"docs/mapping.md or simulator.md does not explain {name}"


def test_help_shows_the_default_violation_rates() -> None:
    text = _ok(["--help"])
    for name, rate, card, _doc in Violations.describe():
        assert f"{name}={rate:g}" in text and card.split()[0] in text
    assert "docs/simulator.md" in text


def test_rates_prints_a_plausible_month() -> None:
    data = json.loads(_ok(["rates", "--json"]))
    assert data["cards_per_100_cases"] <= 2.0 and len(data["departments"]) == 20
    assert len(data["grades"]) >= 3 and data["departments_unfair"] == 0
    assert "R2" in _ok(["rates", "--violations", "overdue=0.5"])
