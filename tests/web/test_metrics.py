"""/metrics and the metrics registry (prometheus_client behind it): the exposition format promtool accepts."""

from __future__ import annotations

import math
import re
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import Counter, Histogram

from hub.web.metrics import CONTENT_TYPE, Family, Registry
from tests.support.required import need_tool
from tests.web.conftest import Hub

NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
SAMPLE = re.compile(r'^([a-z_][a-z0-9_]*)(\{((?:[a-z_][a-z0-9_]*="(?:[^"\\\n]|\\[\\n"])*",?)*)\})? (\S+)$')
LABEL = re.compile(r'([a-z_][a-z0-9_]*)="((?:[^"\\\n]|\\[\\n"])*)"')


def check_exposition(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The rules of ``promtool check metrics`` that apply to us; returns samples by name and labels."""
    assert text.endswith("\n")
    families: dict[str, str] = {}
    helped: set[str] = set()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    current = None
    for line in text[:-1].split("\n"):  # only \n separates lines in this format
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert NAME.match(name) and help_text.strip(), line
            assert name not in helped, f"HELP twice for {name}"
            helped.add(name)
            current = name
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name == current and name not in families, f"TYPE without its HELP first: {line}"
            assert kind in {"counter", "gauge", "histogram", "untyped"}, line
            assert (kind == "counter") == name.endswith("_total"), f"counter naming: {name}"
            families[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels_text, value = match.group(1), match.group(3) or "", match.group(4)
            family = current
            assert family is not None and family in families
            suffixes = ("_bucket", "_sum", "_count") if families[family] == "histogram" else ("",)
            assert any(name == family + s for s in suffixes), f"{name} outside its family {family}"
            labels = tuple(LABEL.findall(labels_text))
            assert len({k for k, _ in labels}) == len(labels), line
            number = float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
            key = tuple(sorted(labels))
            assert key not in samples.setdefault(name, {}), f"duplicate series {line}"
            samples[name][key] = number
    for name, kind in families.items():
        if kind == "histogram":
            for key, count in samples.get(name + "_count", {}).items():
                buckets = sorted(((float(dict(k)["le"]), v) for k, v in samples[name + "_bucket"].items()
                                  if tuple(p for p in k if p[0] != "le") == key))
                values = [v for _, v in buckets]
                assert values == sorted(values) and buckets[-1][0] == math.inf and values[-1] == count
    return samples


def test_registry_renders_valid_text() -> None:
    registry = Registry()
    counter = registry.counter("xiaoneng_ingest_records_total", "Records stored.", ["agent_id"])
    counter.labels(agent_id='a"1\\x\n').inc(5)
    counter.labels(agent_id="a2").inc()
    gauge = registry.gauge("xiaoneng_scheduler_lag_seconds", "Scheduler lag.\nSecond line \\ here.")
    gauge.set(0.25)
    hist = registry.histogram("xiaoneng_ingest_batch_seconds", "Batch time.", ["kind"], buckets=(0.1, 1))
    for value in (0.05, 0.5, 5):
        hist.labels(kind="records").observe(value)
    registry.add_collector(lambda: [Family("xiaoneng_things", "Things.", "gauge").add(3, state="x")])
    text = registry.render()
    samples = check_exposition(text)
    assert samples["xiaoneng_ingest_records_total"][(("agent_id", 'a\\"1\\\\x\\n'),)] == 5
    assert samples["xiaoneng_ingest_batch_seconds_count"][(("kind", "records"),)] == 3
    assert samples["xiaoneng_ingest_batch_seconds_bucket"][(("kind", "records"), ("le", "1.0"))] == 2
    assert "Second line \\\\ here." in text and "\nSecond" not in text
    assert registry.counter("xiaoneng_ingest_records_total", "again", ["agent_id"]) is counter
    assert "_created" not in text, "created series are switched off"
    assert registry.value("xiaoneng_ingest_records_total", agent_id="a2") == 1
    assert registry.value("xiaoneng_ingest_batch_seconds_sum", kind="records") == pytest.approx(5.55)
    assert registry.value("xiaoneng_things", state="x") == 3
    assert registry.value("xiaoneng_things", state="y") is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.counter("xiaoneng_records", "x"), "must end in _total"),
        (lambda r: r.gauge("xiaoneng_records_total", "x"), "must not end in _total"),
        (lambda r: r.gauge("Xiaoneng-Records", "x"), "invalid metric name"),
        (lambda r: r.gauge("xiaoneng_x", " "), "needs a help text"),
        (lambda r: r.gauge("xiaoneng_x", "x", ["Bad-Label"]), "invalid label name"),
        (lambda r: r.histogram("xiaoneng_h", "x", ["le"]), "invalid label name"),
    ],
)
def test_registry_refuses_what_promtool_would_flag(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call(Registry())


def test_registry_conflicts_and_counter_rules() -> None:
    registry = Registry()
    counter = registry.counter("xiaoneng_a_total", "A.")
    with pytest.raises(ValueError):
        registry.gauge("xiaoneng_a_total", "A.")
    with pytest.raises(ValueError):
        counter.inc(-1)
    with pytest.raises(ValueError):
        registry.counter("xiaoneng_b_total", "B.", ["x"]).labels(y="1")
    registry.add_collector(lambda: [Family("xiaoneng_a_total", "dup", "counter")])
    with pytest.raises(ValueError, match="produced twice"):
        registry.render()


def test_metrics_are_prometheus_clients_and_collectors_run_only_at_scrape() -> None:
    registry = Registry()
    assert isinstance(registry.counter("xiaoneng_c_total", "C."), Counter)
    assert isinstance(registry.histogram("xiaoneng_h_seconds", "H.", ["kind"]), Histogram)
    calls: list[int] = []

    def collector() -> list[Family]:
        calls.append(1)
        return [Family("xiaoneng_c2_total", "C2.", "counter").add(2, kind="a")]

    registry.add_collector(collector)
    assert calls == [], "registering a collector must not run it (it may read a database)"
    assert 'xiaoneng_c2_total{kind="a"} 2.0' in registry.render() and calls == [1]


def test_family_rules() -> None:
    with pytest.raises(ValueError, match="must end in _total"):
        Family("xiaoneng_records", "x", "counter")
    with pytest.raises(ValueError, match="unknown type"):
        Family("xiaoneng_h", "x", "histogram")
    family = Family("xiaoneng_f", "F.", "gauge").add(1, site="a")
    with pytest.raises(ValueError, match="differ"):
        family.add(2, agent="b")
    with pytest.raises(ValueError, match="invalid label name"):
        Family("xiaoneng_g", "G.", "gauge").add(1, **{"Bad-Label": "x"})
    assert family.render() == '# HELP xiaoneng_f F.\n# TYPE xiaoneng_f gauge\nxiaoneng_f{site="a"} 1.0\n'


def test_extra_family_yields_to_a_registered_one() -> None:
    registry = Registry()
    registry.gauge("xiaoneng_agents_online", "Agents online.").set(7)
    text = registry.render([Family("xiaoneng_agents_online", "From the database.", "gauge").add(2),
                            Family("xiaoneng_agents", "Agents.", "gauge").add(3, state="online")])
    samples = check_exposition(text)
    assert samples["xiaoneng_agents_online"][()] == 7 and samples["xiaoneng_agents"][(("state", "online"),)] == 3


@given(st.text(max_size=40), st.floats(allow_nan=True, allow_infinity=True))
def test_any_label_value_and_number_stay_parsable(value: str, number: float) -> None:
    registry = Registry()
    registry.gauge("xiaoneng_g", "G.", ["v"]).labels(v=value).set(number)
    samples = check_exposition(registry.render())
    (got,) = samples["xiaoneng_g"].values()
    assert (math.isnan(got) and math.isnan(number)) or got == number


def test_metrics_endpoint(hub: Hub) -> None:
    token = hub.token("telecom", "prometheus")
    hub.login("admin").get("/overview")  # some traffic for the request metrics
    response = hub.client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.headers["Content-Type"] == CONTENT_TYPE
    text = response.get_data(as_text=True)
    samples = check_exposition(text)
    assert samples["xiaoneng_agents_online"][()] == 2
    assert samples["xiaoneng_agents"][(("state", "offline"),)] == 1
    assert samples["xiaoneng_quarantine_records"] == {
        (("reason", "bad_signature"),): 1, (("reason", "broken_chain"),): 1,
        (("reason", "equivocation"),): 1, (("reason", "unknown_agent"),): 1}
    assert samples["xiaoneng_agent_up"][(("agent_id", "agent-down"), ("site_id", "hall-b"))] == 0
    assert samples["xiaoneng_agent_rtt_seconds"][(("agent_id", "agent-ok"), ("site_id", "hall-a"))] == 0.042
    assert samples["xiaoneng_agent_outbox_depth"][(("agent_id", "agent-down"), ("site_id", "hall-b"))] == 850
    assert not any(dict(k).get("agent_id") == "agent-old" for k in samples["xiaoneng_agent_up"]), "revoked"
    assert samples["xiaoneng_logins_total"][(("outcome", "success"),)] == 1
    assert samples["xiaoneng_http_requests_total"][(("code", "200"), ("endpoint", "overview.page"))] == 1


def test_registered_metric_wins_over_the_database_one(hub: Hub) -> None:
    hub.registry.gauge("xiaoneng_agents_online", "Agents online, as ingest counts them.").set(7)
    text = hub.login("admin").get("/metrics").get_data(as_text=True)
    assert check_exposition(text)["xiaoneng_agents_online"][()] == 7


def test_promtool_accepts_the_exposition(hub: Hub) -> None:
    need_tool("promtool", "prometheus")
    text = hub.login("admin").get("/metrics").get_data(as_text=True)
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_keyed_collector_replaces_the_earlier_one_of_its_key() -> None:
    registry = Registry()
    registry.add_collector(lambda: [Family("xiaoneng_video_viewers", "Viewers.", "gauge").add(1)], key="video")
    registry.add_collector(lambda: [Family("xiaoneng_video_viewers", "Viewers.", "gauge").add(2)], key="video")
    assert registry.value("xiaoneng_video_viewers") == 2  # the component started again: one family, the latest
    registry.add_collector(lambda: [Family("xiaoneng_video_viewers", "Viewers.", "gauge").add(3)])
    with pytest.raises(ValueError, match="produced twice"):  # unkeyed: still an error
        registry.render()
