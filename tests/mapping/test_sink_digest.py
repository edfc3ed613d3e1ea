"""The capture sink's content digest: cheap, deterministic, and compatible with older agents' cursors."""

from __future__ import annotations

from typing import Any

import pytest

from agent.capture.sink import EventSink, canonical_digest, digest
from agent.mapping.engine import Event
from shared.errors import CanonicalError


class FakeTx:
    """The outbox transaction as the sink sees it."""

    def __init__(self) -> None:
        self.cursors: dict[str, str] = {}
        self.appended: list[tuple[str, str, dict[str, Any]]] = []

    def append(self, type_: str, ts: str, body: dict[str, Any]) -> int:
        self.appended.append((type_, ts, body))
        return len(self.appended)

    def set_cursor(self, name: str, value: str) -> None:
        self.cursors[name] = value

    def get_cursor(self, name: str) -> str | None:
        return self.cursors.get(name)


def event(body: dict[str, Any], ts: str = "2026-11-02T09:00:00+08:00") -> Event:
    return Event("case.accepted", ts, body, key="src|C1|accepted")


BODY = {"case_id": "C1", "dept_name": "市场监管局", "promised_limit": {"value": 5, "unit": "G"}, "fee": 0,
        "flags": [True, None, "补正"]}


def test_equal_content_equal_digest_whatever_the_key_order_or_ts() -> None:
    reordered = dict(reversed(list(BODY.items())))
    assert digest(event(BODY)) == digest(event(reordered, ts="2026-11-03T10:00:00+08:00"))
    assert len(digest(event(BODY))) == 32


@pytest.mark.parametrize("change", [{"fee": 1}, {"fee": True}, {"dept_name": "市场监管局 "},
                                    {"promised_limit": {"value": 5, "unit": "Z"}}, {"flags": [True, None]}])
def test_a_change_of_content_changes_the_digest(change: dict[str, Any]) -> None:
    assert digest(event({**BODY, **change})) != digest(event(BODY))


def test_an_unchanged_row_is_suppressed_and_a_changed_one_appended() -> None:
    sink, tx = EventSink("cap"), FakeTx()
    assert sink.emit(tx, [event(BODY)]) == 1
    assert sink.emit(tx, [event(dict(BODY))]) == 0
    assert sink.emit(tx, [event({**BODY, "fee": 100})]) == 1
    assert (sink.appended, sink.suppressed, len(tx.appended)) == (2, 1, 2)


def test_a_cursor_an_older_agent_wrote_still_suppresses_and_is_rewritten() -> None:
    sink, tx = EventSink("cap"), FakeTx()
    old = event(BODY)
    tx.cursors[f"ev:cap:{old.key}"] = canonical_digest(old)  # what the agent stored before
    assert sink.emit(tx, [old]) == 0
    assert tx.cursors[f"ev:cap:{old.key}"] == digest(old)
    assert sink.emit(tx, [event({**BODY, "fee": 100})]) == 1


@pytest.mark.parametrize(("value", "reason"), [(float("nan"), "floats"), ("\ud800", "lone surrogate"),
                                               (object(), "no JSON form")])
def test_a_body_without_a_json_form_is_refused_with_its_reason(value: object, reason: str) -> None:
    sink, tx = EventSink("cap"), FakeTx()
    with pytest.raises(CanonicalError, match=reason):
        sink.emit(tx, [event({**BODY, "dept_name": value})])
    assert tx.appended == [] and tx.cursors == {}
