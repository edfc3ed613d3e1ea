"""``xiaoneng-hub supervision rejudge``: a store written under older card rules is judged again."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hub.cli import main
from hub.supervision.cli import rejudge_store
from tests.supervision.conftest import Month
from tests.supervision.helpers import query, service


def test_rejudge_decides_every_card_again_and_keeps_what_people_did(month: Month) -> None:
    before = query(month.db, "SELECT key, state FROM cards ORDER BY key")
    assert before, "the month has cards"
    card_id = query(month.db, "SELECT card_id FROM cards WHERE rule = 'R2'")[0][0]
    month.service.act(str(card_id), "close", "monitor1", "已核实办结", month.clock())
    month.service.stop()

    kept, removed = rejudge_store(month.db)
    assert (kept, removed) == (1, len(before) - 1)
    assert query(month.db, "SELECT COUNT(*) FROM cases") == [(0,)]
    assert query(month.db, "SELECT COUNT(*) FROM sup_state") == [(0,)]
    assert query(month.db, "SELECT state FROM cards") == [("closed",)]  # the monitor's close is kept

    again = service(month.db, month.clock)
    try:
        while again.step():
            pass
        again.step()
    finally:
        again.stop()
    after = query(month.db, "SELECT key FROM cards ORDER BY key")
    # the same cards, but no reminder: judged again on 11-12, the reminders' moments are history
    assert [k for (k,) in after] == [k for k, _ in before if not k.startswith("R1|")]
    assert query(month.db, "SELECT COUNT(*) FROM cases") == [(5,)]
    actors = query(month.db, f"SELECT actor FROM card_actions WHERE card_id = '{card_id}' ORDER BY id")
    assert actors == [("system",), ("monitor1",)]  # rectified by D's completion, closed by the monitor


def test_rejudge_command_refuses_a_missing_store_with_a_clear_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["supervision", "rejudge", "--data", str(tmp_path), "--yes"])
    assert result.exit_code != 0 and "no hub store" in result.output
