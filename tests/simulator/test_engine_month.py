"""simulator/engine_month.py: the simulator's history through the real profiles, ingest and engine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from hub.engine.localtime import LOCAL_TZ
from simulator.engine_month import measure


def test_a_short_history_goes_through_the_engine_without_churn(tmp_path: Path) -> None:
    now = datetime(2026, 12, 3, 8, 0, tzinfo=LOCAL_TZ)
    result = measure(tmp_path, 12, now, departments=5)  # the three schemas: 0–2, 3 and 4
    assert result["month"] == "2026-11"
    assert result["records"] > 1000 and result["mapping_errors"] == 0
    assert result["cases_accepted"] > 300
    assert result["withdrawn_all_time"] == 0
    assert result["cards_per_100_cases"] is not None and result["cards_per_100_cases"] < 10
    assert "R7" not in result["by_rule"] and "R7" not in result["reminders"]
    assert len(result["departments"]) == 5
    # the complaints system is captured too: its complaints and requests fill the report's sections
    assert result["complaints"]["received"] > 0 and result["disclosures"]["received"] > 0
