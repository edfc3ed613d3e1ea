"""A small Prometheus registry and the text exposition format (version 0.0.4).

The hub registers its own metrics once at start and updates them from any thread::

    from hub.web.metrics import REGISTRY
    ingested = REGISTRY.counter("xiaoneng_ingest_records_total", "Records stored by ingest.", ["agent_id"])
    ingested.labels(agent_id="a1").inc(50)
    lag = REGISTRY.gauge("xiaoneng_scheduler_lag_seconds", "How late the scheduler's last tick ran.")
    lag.set(0.4)

Figures that live in the database (agents online, quarantine by reason) are read at scrape time by
*collectors*: callables returning :class:`Family` objects (see :meth:`Registry.add_collector`).
Names follow ``promtool check metrics``: ``[a-z_][a-z0-9_]*``, counters end in ``_total``, every
family has HELP and TYPE, a family appears once.
"""

from __future__ import annotations

import abc
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
LABEL_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
TYPES = ("counter", "gauge", "histogram", "untyped")
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LabelValues = tuple[str, ...]


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True, slots=True)
class Sample:
    """One line of a family: ``name{labels} value``; ``suffix`` is ``_bucket``/``_sum``/``_count``."""

    labels: tuple[tuple[str, str], ...]
    value: float
    suffix: str = ""


@dataclass(slots=True)
class Family:
    """A metric family as exposed: name, help, type and samples."""

    name: str
    help: str
    type: str
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_name(self.name, self.type)
        if self.type not in TYPES:
            raise ValueError(f"metric {self.name}: unknown type {self.type!r}")

    def add(self, value: float, **labels: str) -> Family:
        """Append a sample; returns self for chaining."""
        for key in labels:
            if not LABEL_RE.match(key) or key.startswith("__"):
                raise ValueError(f"metric {self.name}: invalid label name {key!r}")
        self.samples.append(Sample(tuple(sorted(labels.items())), float(value)))
        return self

    def render(self) -> str:
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.type}"]
        for s in self.samples:
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in s.labels)
            label_part = "{" + label_text + "}" if label_text else ""
            lines.append(f"{self.name}{s.suffix}{label_part} {_number(s.value)}")
        return "\n".join(lines) + "\n"


def check_name(name: str, kind: str) -> None:
    """Refuse a name promtool would reject or warn about."""
    if not NAME_RE.match(name) or name.startswith("__"):
        raise ValueError(f"invalid metric name {name!r}: use lower-case letters, digits and '_'")
    if kind == "counter" and not name.endswith("_total"):
        raise ValueError(f"counter {name!r} must end in _total")
    if kind != "counter" and name.endswith("_total"):
        raise ValueError(f"{kind} {name!r} must not end in _total (only counters do)")


class _Metric(abc.ABC):
    kind = "untyped"

    def __init__(self, name: str, help: str, labelnames: Sequence[str]) -> None:
        check_name(name, self.kind)
        if not help.strip():
            raise ValueError(f"metric {name!r} needs a help text")
        for label in labelnames:
            if not LABEL_RE.match(label) or label.startswith("__") or (self.kind == "histogram" and label == "le"):
                raise ValueError(f"metric {name!r}: invalid label name {label!r}")
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"metric {self.name} takes labels {list(self.labelnames)}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    @abc.abstractmethod
    def family(self) -> Family:
        """The metric's samples, for the exposition."""


class _Value:
    """A child of a counter or gauge (one label combination)."""

    def __init__(self, metric: _Scalar, key: LabelValues) -> None:
        self._metric = metric
        self._key = key

    def inc(self, amount: float = 1.0) -> None:
        self._metric._add(self._key, amount)

    def set(self, value: float) -> None:
        self._metric._set(self._key, value)

    def dec(self, amount: float = 1.0) -> None:
        self._metric._add(self._key, -amount)


class _Scalar(_Metric):
    def __init__(self, name: str, help: str, labelnames: Sequence[str]) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[LabelValues, float] = {}
        if not self.labelnames:
            self._values[()] = 0.0

    def labels(self, **labels: str) -> _Value:
        """The child for one label combination."""
        return _Value(self, self._key(labels))

    def _add(self, key: LabelValues, amount: float) -> None:
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def _set(self, key: LabelValues, value: float) -> None:
        with self._lock:
            self._values[key] = float(value)

    def value(self, **labels: str) -> float:
        """The current value of one label combination (0 if never touched)."""
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def family(self) -> Family:
        fam = Family(self.name, self.help, self.kind)
        with self._lock:
            items = sorted(self._values.items())
        for key, value in items:
            fam.add(value, **dict(zip(self.labelnames, key, strict=True)))
        return fam


class Counter(_Scalar):
    """A monotonically increasing count."""

    kind = "counter"

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (≥ 0) to the unlabelled counter."""
        self.labels().inc(amount)

    def _add(self, key: LabelValues, amount: float) -> None:
        if amount < 0:
            raise ValueError(f"counter {self.name} cannot decrease")
        super()._add(key, amount)

    def _set(self, key: LabelValues, value: float) -> None:
        raise TypeError(f"counter {self.name} cannot be set; use inc()")


class Gauge(_Scalar):
    """A value that goes up and down."""

    kind = "gauge"

    def set(self, value: float) -> None:
        self.labels().set(value)

    def inc(self, amount: float = 1.0) -> None:
        self.labels().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self.labels().dec(amount)


class Histogram(_Metric):
    """Observations counted in cumulative buckets (for latencies)."""

    kind = "histogram"

    def __init__(
        self, name: str, help: str, labelnames: Sequence[str], buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> None:
        super().__init__(name, help, labelnames)
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError(f"histogram {name}: buckets must be distinct finite numbers")
        self.bounds = tuple(bounds)
        self._data: dict[LabelValues, tuple[list[int], float, int]] = {}

    def observe(self, value: float, **labels: str) -> None:
        """Count one observation."""
        key = self._key(labels)
        with self._lock:
            counts, total, n = self._data.get(key, ([0] * len(self.bounds), 0.0, 0))
            for i, bound in enumerate(self.bounds):
                if value <= bound:
                    counts[i] += 1
            self._data[key] = (counts, total + value, n + 1)

    def family(self) -> Family:
        fam = Family(self.name, self.help, self.kind)
        with self._lock:
            items = sorted((k, (list(c), s, n)) for k, (c, s, n) in self._data.items())
        for key, (counts, total, n) in items:
            base = tuple(zip(self.labelnames, key, strict=True))
            for bound, count in zip(self.bounds, counts, strict=True):
                fam.samples.append(Sample(tuple(sorted((*base, ("le", _number(bound))))), count, "_bucket"))
            fam.samples.append(Sample(tuple(sorted((*base, ("le", "+Inf")))), n, "_bucket"))
            fam.samples.append(Sample(base, total, "_sum"))
            fam.samples.append(Sample(base, n, "_count"))
        return fam


Collector = Callable[[], Iterable[Family]]


class Registry:
    """Holds metrics and collectors; :meth:`render` produces the exposition text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}
        self._collectors: list[Collector] = []

    def _register(self, metric: _Metric) -> _Metric:
        with self._lock:
            existing = self._metrics.get(metric.name)
            if existing is not None:
                same = type(existing) is type(metric) and existing.labelnames == metric.labelnames
                if not same:
                    raise ValueError(f"metric {metric.name} already registered with another type or labels")
                return existing  # registering twice (e.g. a restarted component) returns the same one
            self._metrics[metric.name] = metric
            return metric

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Counter:
        """Register (or fetch) a counter."""
        metric = self._register(Counter(name, help, labelnames))
        if not isinstance(metric, Counter):
            raise TypeError(f"metric {name} is not a counter")
        return metric

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Gauge:
        """Register (or fetch) a gauge."""
        metric = self._register(Gauge(name, help, labelnames))
        if not isinstance(metric, Gauge):
            raise TypeError(f"metric {name} is not a gauge")
        return metric

    def histogram(
        self, name: str, help: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        """Register (or fetch) a histogram."""
        metric = self._register(Histogram(name, help, labelnames, buckets))
        if not isinstance(metric, Histogram):
            raise TypeError(f"metric {name} is not a histogram")
        return metric

    def add_collector(self, collector: Collector) -> None:
        """Call ``collector`` at every scrape; it returns families computed then."""
        with self._lock:
            self._collectors.append(collector)

    def families(self, extra: Iterable[Family] = ()) -> list[Family]:
        """Every family, sorted by name; a name produced twice is an error."""
        with self._lock:
            metrics = list(self._metrics.values())
            collectors = list(self._collectors)
        fams = [m.family() for m in metrics]
        for collector in collectors:
            fams.extend(collector())
        fams.extend(extra)
        seen: set[str] = set()
        for fam in fams:
            if fam.name in seen:
                raise ValueError(f"metric family {fam.name} produced twice")
            seen.add(fam.name)
        return sorted(fams, key=lambda f: f.name)

    def render(self, extra: Iterable[Family] = ()) -> str:
        """The text exposition of every family (plus ``extra``)."""
        return "".join(f.render() for f in self.families(extra))


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = Registry()
"""The hub's process-wide registry; ``create_app`` uses it unless given another."""
