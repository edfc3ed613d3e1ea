"""The hub's Prometheus metrics, kept and exposed by ``prometheus_client``.

The hub registers its own metrics once at start and updates them from any thread; they are
``prometheus_client``'s own :class:`~prometheus_client.Counter`, :class:`~prometheus_client.Gauge` and
:class:`~prometheus_client.Histogram`::

    from hub.web.metrics import REGISTRY
    ingested = REGISTRY.counter("xiaoneng_ingest_records_total", "Records stored by ingest.", ["agent_id"])
    ingested.labels(agent_id="a1").inc(50)
    lag = REGISTRY.gauge("xiaoneng_scheduler_lag_seconds", "How late the scheduler's last tick ran.")
    lag.set(0.4)
    REGISTRY.histogram("xiaoneng_ingest_batch_seconds", "Batch time.", ["kind"]).labels(kind="records").observe(0.2)

Figures that live in the database or in a running service (agents online, quarantine by reason,
ingest counters) are read at scrape time by *collectors*: callables returning :class:`Family` objects
(see :meth:`Registry.add_collector`); an adapter hands them to ``prometheus_client`` as
``CounterMetricFamily``/``GaugeMetricFamily``. The exposition is ``prometheus_client.generate_latest``
(text format 0.0.4).

``prometheus_client`` accepts names promtool flags (UTF-8 names, gauges ending in ``_total``, counters
without it, which it silently renames), so this module keeps promtool's rules itself: names
``[a-z_][a-z0-9_]*``, counters and only counters end in ``_total``, every family has a help text, a
family appears once. ``*_created`` series are switched off (:func:`prometheus_client.disable_created_metrics`):
promtool and our dashboards expect none.

One process: the hub (web server, ingest, supervision, notifier, video relay) runs as one Python
process; its only child is the Mosquitto broker. So every metric lives in this process's memory and
``prometheus_client``'s multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) is not used. Should the hub
ever fork workers, their metrics would need that mode (and collectors would run in one process only).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric, UnknownMetricFamily

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_BUCKETS",
    "REGISTRY",
    "Collector",
    "Counter",
    "Family",
    "Gauge",
    "Histogram",
    "Registry",
    "check_name",
]

# No *_created series (process-wide; the hub is this library's only user in the process). Untyped upstream.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
LABEL_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
FAMILY_TYPES = ("counter", "gauge", "untyped")
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""What ``generate_latest`` produces: ``text/plain; version=0.0.4; charset=utf-8``."""

_log = logging.getLogger("hub.web")


def check_name(name: str, kind: str) -> None:
    """Refuse a name promtool would reject or warn about."""
    if not NAME_RE.match(name) or name.startswith("__"):
        raise ValueError(f"invalid metric name {name!r}: use lower-case letters, digits and '_'")
    if kind == "counter" and not name.endswith("_total"):
        raise ValueError(f"counter {name!r} must end in _total")
    if kind != "counter" and name.endswith("_total"):
        raise ValueError(f"{kind} {name!r} must not end in _total (only counters do)")


def _check_labels(name: str, labelnames: Iterable[str], reserved: tuple[str, ...] = ()) -> tuple[str, ...]:
    names = tuple(labelnames)
    for label in names:
        if not LABEL_RE.match(label) or label.startswith("__") or label in reserved:
            raise ValueError(f"metric {name!r}: invalid label name {label!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"metric {name!r}: a label name appears twice in {list(names)}")
    return names


def _exposed_name(metric: Metric) -> str:
    """The family name in the text format (``prometheus_client`` keeps counters without ``_total``)."""
    return metric.name + "_total" if metric.type == "counter" else metric.name


class Family:
    """A metric family a collector computes at scrape time: ``Family(name, help, type).add(value, **labels)``.

    Every sample of a family has the same label names (the first :meth:`add` sets them).
    """

    __slots__ = ("_labelnames", "_rows", "help", "name", "type")

    def __init__(self, name: str, help: str, type: str) -> None:
        if type not in FAMILY_TYPES:
            raise ValueError(f"metric {name}: unknown type {type!r} (a collector's family is one of {FAMILY_TYPES})")
        check_name(name, type)
        self.name = name
        self.help = help
        self.type = type
        self._labelnames: tuple[str, ...] | None = None
        self._rows: list[tuple[tuple[str, ...], float]] = []

    def add(self, value: float, **labels: str) -> Family:
        """Append a sample; returns self for chaining."""
        names = tuple(sorted(labels))
        if self._labelnames is None:
            self._labelnames = _check_labels(self.name, names)
        elif names != self._labelnames:
            raise ValueError(f"metric {self.name}: labels {list(names)} differ from {list(self._labelnames)}")
        self._rows.append((tuple(str(labels[n]) for n in names), float(value)))
        return self

    def metric(self) -> Metric:
        """The family as ``prometheus_client`` collects it."""
        labelnames = self._labelnames or ()
        family: CounterMetricFamily | GaugeMetricFamily | UnknownMetricFamily
        if self.type == "counter":
            family = CounterMetricFamily(self.name, self.help, labels=labelnames)
        elif self.type == "gauge":
            family = GaugeMetricFamily(self.name, self.help, labels=labelnames)
        else:
            family = UnknownMetricFamily(self.name, self.help, labels=labelnames)
        for values, value in self._rows:
            family.add_metric(values, value)
        return family

    def render(self) -> str:
        """This family alone in the text exposition format."""
        return generate_latest(_Collected([self.metric()])).decode("utf-8")


Collector = Callable[[], Iterable[Family]]


class _FamilyCollector:
    """Adapts one of our collectors (a callable returning :class:`Family` objects) to ``prometheus_client``."""

    def __init__(self, collector: Collector) -> None:
        self._collector = collector

    def describe(self) -> list[Metric]:
        # Nothing known before a scrape: describing must not run the collector (it may read a database).
        return []

    def collect(self) -> Iterator[Metric]:
        for family in self._collector():
            yield family.metric()


class _Collected:
    """Families already collected, in the shape ``generate_latest`` reads."""

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Sequence[Metric]:
        return self._metrics


class Registry:
    """A ``prometheus_client.CollectorRegistry`` with promtool's naming rules and register-or-fetch.

    :meth:`counter`, :meth:`gauge` and :meth:`histogram` return ``prometheus_client`` metrics;
    registering a name again with the same type and labels returns the same object (a restarted
    component keeps counting), with another type or labels it is an error.
    """

    def __init__(self) -> None:
        self.collector_registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._metrics: dict[str, tuple[type, tuple[str, ...], Counter | Gauge | Histogram]] = {}
        self._keyed: dict[str, _FamilyCollector] = {}

    def _fetch(self, kind: type, name: str, labelnames: tuple[str, ...]) -> object | None:
        existing = self._metrics.get(name)
        if existing is None:
            return None
        if existing[0] is not kind or existing[1] != labelnames:
            raise ValueError(f"metric {name} already registered with another type or labels")
        return existing[2]

    def _checked(self, kind: str, name: str, help: str, labelnames: Sequence[str]) -> tuple[str, ...]:
        check_name(name, kind)
        if not help.strip():
            raise ValueError(f"metric {name!r} needs a help text")
        return _check_labels(name, labelnames, ("le",) if kind == "histogram" else ())

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Counter:
        """Register (or fetch) a counter; ``name`` ends in ``_total``."""
        labels = self._checked("counter", name, help, labelnames)
        with self._lock:
            found = self._fetch(Counter, name, labels)
            if isinstance(found, Counter):
                return found
            metric = Counter(name, help, labels, registry=self.collector_registry)
            self._metrics[name] = (Counter, labels, metric)
            return metric

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Gauge:
        """Register (or fetch) a gauge."""
        labels = self._checked("gauge", name, help, labelnames)
        with self._lock:
            found = self._fetch(Gauge, name, labels)
            if isinstance(found, Gauge):
                return found
            metric = Gauge(name, help, labels, registry=self.collector_registry)
            self._metrics[name] = (Gauge, labels, metric)
            return metric

    def histogram(
        self, name: str, help: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        """Register (or fetch) a histogram; observe with ``.labels(...).observe(seconds)``."""
        labels = self._checked("histogram", name, help, labelnames)
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError(f"histogram {name}: buckets must be distinct finite numbers")
        with self._lock:
            found = self._fetch(Histogram, name, labels)
            if isinstance(found, Histogram):
                return found
            metric = Histogram(name, help, labels, registry=self.collector_registry, buckets=bounds)
            self._metrics[name] = (Histogram, labels, metric)
            return metric

    def add_collector(self, collector: Collector, key: str | None = None) -> None:
        """Call ``collector`` at every scrape; it returns families computed then.

        With a ``key`` (e.g. ``"video"``) a later collector of the same key replaces the earlier one:
        a component started again in the same process (a restarted hub, the tests) is scraped once,
        as its latest instance, instead of producing its families twice."""
        adapter = _FamilyCollector(collector)
        with self._lock:
            old = self._keyed.pop(key, None) if key is not None else None
            if old is not None:
                self.collector_registry.unregister(old)
            self.collector_registry.register(adapter)
            if key is not None:
                self._keyed[key] = adapter

    def collect(self, extra: Iterable[Family] = ()) -> list[Metric]:
        """Every family, sorted by name; a name produced twice is an error.

        ``extra`` families (figures the caller read for this scrape) whose name a registered metric
        or collector already produces are left out, with a warning: the registered one wins.
        """
        metrics = list(self.collector_registry.collect())
        seen: set[str] = set()
        for metric in metrics:
            name = _exposed_name(metric)
            if name in seen:
                raise ValueError(f"metric family {name} produced twice")
            seen.add(name)
        for family in extra:
            if family.name in seen:
                _log.warning("metric %s is both registered and read from the database; serving the registered one",
                             family.name)
                continue
            seen.add(family.name)
            metrics.append(family.metric())
        return sorted(metrics, key=_exposed_name)

    def render(self, extra: Iterable[Family] = ()) -> str:
        """The text exposition (``prometheus_client.generate_latest``) of every family plus ``extra``."""
        return generate_latest(_Collected(self.collect(extra))).decode("utf-8")

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one series (``name`` as exposed, e.g. ``…_total``, ``…_count``); None if absent."""
        return self.collector_registry.get_sample_value(name, labels)


REGISTRY = Registry()
"""The hub's process-wide registry; ``create_app`` uses it unless given another."""
