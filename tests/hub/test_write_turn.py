"""Writers of the hub database take turns in arrival order: a busy ingest cannot starve another."""

from __future__ import annotations

import threading
import time

from hub.service import WriteTurn


def test_a_waiting_writer_gets_the_next_turn_and_turns_are_reentrant() -> None:
    turn = WriteTurn()
    order: list[str] = []
    stop = threading.Event()
    holding = threading.Event()

    def busy_ingest() -> None:  # takes turn after turn, back to back
        while not stop.is_set():
            with turn:
                holding.set()
                with turn:  # re-entrant
                    order.append("ingest")
                # the transaction's own work: it lets other threads run (and ask for a turn) while
                # this one holds it, as a real COMMIT does — without it the ingest could loop many
                # times between the other thread reading `asked` and asking
                time.sleep(0.002)

    ingest = threading.Thread(target=busy_ingest)
    ingest.start()
    try:
        assert holding.wait(10)
        asked = len(order)
        with turn:
            order.append("supervision")
            index = len(order) - 1
        stop.set()
    finally:
        stop.set()
        ingest.join(10)
    assert not ingest.is_alive()
    assert index - asked <= 2  # served after the turn in progress (and the one already queued)
