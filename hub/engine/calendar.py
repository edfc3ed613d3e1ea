"""The working-day calendar (DOMAIN.md §3) and its precomputed index.

Sources, by precedence for each date: the loaded ``holiday-cn`` file of the date's own year; a day
listed in an adjacent year's file; the ``chinesecalendar`` package (the State Council's arrangement
for the years it covers); Monday–Friday. A year with neither a file nor package data is
*provisional*: Monday–Friday is a guess and every deadline that depends on it says so.

The calendar is immutable. :meth:`WorkCalendar.with_arrangement` returns a new calendar with a
higher :attr:`~WorkCalendar.version`, so holders of computed deadlines know to recompute.

The :class:`WorkdayIndex` turns counting into list lookups: ``cum[i]`` is the number of working
days among day indexes ``< i`` and ``nth[k]`` is the index of the ``k``-th working day, so "the
N-th working day after d" is ``nth[cum[d + 1] + N - 1]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from hub.engine.arrangement import YearArrangement

FIRST_YEAR = 2000
LAST_YEAR = 2099


@dataclass(frozen=True, slots=True, eq=False)
class WorkdayIndex:
    """Cumulative per-day counts over ``[first, last]``; lists are never mutated after building.

    Day index ``i`` is the date with ordinal ``base + i``. ``memo`` holds due dates already
    computed on this index without pauses (:func:`hub.engine.clock.due_date`): a hub's cases share
    few (start date, limit, unit) combinations, and the index never changes.
    """

    base: int
    size: int
    work: bytes
    cum: list[int]
    nth: list[int]
    prov: list[int]
    memo: dict[tuple[int, int, bool], object] = field(default_factory=dict, compare=False, repr=False)

    def index(self, day: date) -> int:
        """The index of ``day``; :class:`ValueError` outside the covered range."""
        i = day.toordinal() - self.base
        if not 0 <= i < self.size:
            raise ValueError(f"{day} is outside the calendar's range")
        return i


def _builtin() -> tuple[dict[date, bool], range]:
    """The ``chinesecalendar`` data: {date: is_working} for listed days, and the covered years."""
    try:
        from chinese_calendar import constants
    except ImportError:  # pragma: no cover - declared dependency; degrade to Monday-Friday
        return {}, range(0)
    listed: dict[date, bool] = {d: False for d in constants.holidays}
    listed.update({d: True for d in constants.workdays})
    years = [d.year for d in constants.holidays]
    return listed, range(min(years), max(years) + 1)


_BUILTIN = _builtin()


class WorkCalendar:
    """Which dates are working days, which years are provisional, and the lookup index."""

    __slots__ = ("_index", "arrangements", "builtin_years", "first_year", "last_year", "version")

    def __init__(
        self,
        arrangements: Iterable[YearArrangement] = (),
        *,
        builtin: bool = True,
        first_year: int = FIRST_YEAR,
        last_year: int = LAST_YEAR,
        version: int = 1,
    ) -> None:
        by_year: dict[int, YearArrangement] = {}
        for arrangement in arrangements:
            by_year[arrangement.year] = arrangement  # a later file of the same year replaces
        if not first_year <= last_year:
            raise ValueError(f"first_year {first_year} is after last_year {last_year}")
        self.arrangements: Mapping[int, YearArrangement] = dict(sorted(by_year.items()))
        self.version = version
        self.builtin_years = _BUILTIN[1] if builtin else range(0)
        self.first_year = first_year
        self.last_year = last_year
        self._index = self._build(_BUILTIN[0] if builtin else {})

    # -- building ------------------------------------------------------------------------------

    def _build(self, builtin: dict[date, bool]) -> WorkdayIndex:
        base = date(self.first_year, 1, 1).toordinal()
        size = date(self.last_year, 12, 31).toordinal() - base + 1
        # Monday-Friday: ordinal 1 (0001-01-01) is a Monday, so weekday = (ordinal - 1) % 7.
        work = bytearray(1 if (base + i - 1) % 7 < 5 else 0 for i in range(size))
        for day, working in builtin.items():
            if day.year in self.builtin_years and day.year not in self.arrangements:
                self._set(work, base, size, day, working)
        for arrangement in self.arrangements.values():  # adjacent-year entries first ...
            for entry in arrangement.days:
                if entry.day.year != arrangement.year and entry.day.year not in self.arrangements:
                    self._set(work, base, size, entry.day, not entry.off)
        for arrangement in self.arrangements.values():  # ... so a year's own file wins
            for entry in arrangement.days:
                if entry.day.year == arrangement.year:
                    self._set(work, base, size, entry.day, not entry.off)
        cum = [0] * (size + 1)
        prov = [0] * (size + 1)
        nth: list[int] = []
        covered = set(self.builtin_years) | set(self.arrangements)
        running = provisional = 0
        year, next_year_start = self.first_year, date(self.first_year + 1, 1, 1).toordinal() - base
        year_provisional = year not in covered
        for i in range(size):
            if i == next_year_start:
                year += 1
                year_provisional = year not in covered
                next_year_start = date(year + 1, 1, 1).toordinal() - base if year < 9999 else size
            if work[i]:
                nth.append(i)
                running += 1
            if year_provisional:
                provisional += 1
            cum[i + 1] = running
            prov[i + 1] = provisional
        return WorkdayIndex(base, size, bytes(work), cum, nth, prov)

    @staticmethod
    def _set(work: bytearray, base: int, size: int, day: date, working: bool) -> None:
        i = day.toordinal() - base
        if 0 <= i < size:
            work[i] = 1 if working else 0

    # -- questions -----------------------------------------------------------------------------

    @property
    def index(self) -> WorkdayIndex:
        """The precomputed lookup arrays (for the clock's fast path)."""
        return self._index

    @property
    def covered_years(self) -> frozenset[int]:
        """Years with official data (package or loaded file)."""
        return frozenset(self.builtin_years) | frozenset(self.arrangements)

    def is_provisional_year(self, year: int) -> bool:
        """True when ``year`` has no official data and falls back to Monday–Friday."""
        return year not in self.builtin_years and year not in self.arrangements

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day (for a provisional year: Monday–Friday)."""
        return bool(self._index.work[self._index.index(day)])

    def source_of(self, year: int) -> str:
        """Where ``year``'s arrangement comes from: a file path, ``chinese_calendar`` or
        ``provisional (Monday-Friday)``."""
        if year in self.arrangements:
            return self.arrangements[year].source
        if year in self.builtin_years:
            return "chinese_calendar"
        return "provisional (Monday-Friday)"

    def workdays_between(self, after: date, until: date) -> int:
        """Working days ``d`` with ``after < d <= until`` (0 when ``until <= after``)."""
        ix = self._index
        a, b = ix.index(after), ix.index(until)
        return max(0, ix.cum[b + 1] - ix.cum[a + 1])

    def nth_workday_after(self, day: date, n: int) -> date:
        """The ``n``-th working day strictly after ``day`` (``n >= 1``)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        ix = self._index
        k = ix.cum[ix.index(day) + 1] + n - 1
        if k >= len(ix.nth):
            raise ValueError(f"{n} working days after {day} is beyond the calendar's range")
        return date.fromordinal(ix.base + ix.nth[k])

    def any_provisional(self, after: date, until: date) -> bool:
        """True when some date ``d`` with ``after < d <= until`` is in a provisional year."""
        ix = self._index
        a, b = ix.index(after), ix.index(until)
        return b > a and ix.prov[b + 1] - ix.prov[a + 1] > 0

    def changed_years(self, other: WorkCalendar) -> set[int]:
        """Years in which ``other`` differs from this calendar (working days or provisional)."""
        out = set()
        for year in range(min(self.first_year, other.first_year),
                          max(self.last_year, other.last_year) + 1):  # fmt: skip
            if self.is_provisional_year(year) != other.is_provisional_year(year):
                out.add(year)
            elif self._year_bits(year) != other._year_bits(year):
                out.add(year)
        return out

    def _year_bits(self, year: int) -> bytes | None:
        if not self.first_year <= year <= self.last_year:
            return None
        ix = self._index
        a = date(year, 1, 1).toordinal() - ix.base
        b = date(year, 12, 31).toordinal() - ix.base
        return ix.work[a : b + 1]

    # -- changes -------------------------------------------------------------------------------

    def with_arrangement(self, arrangement: YearArrangement) -> WorkCalendar:
        """A new calendar with ``arrangement`` loaded (replacing that year's data), version + 1."""
        return WorkCalendar(
            [*self.arrangements.values(), arrangement],
            builtin=bool(self.builtin_years),
            first_year=min(self.first_year, arrangement.year),
            last_year=max(self.last_year, arrangement.year),
            version=self.version + 1,
        )

    def builtin_arrangement(self, year: int) -> YearArrangement:
        """``chinesecalendar``'s data for ``year`` in ``holiday-cn`` shape (to export or compare)."""
        from hub.engine.arrangement import DayEntry

        if year not in _BUILTIN[1]:
            raise ValueError(f"chinese_calendar has no data for {year}")
        from chinese_calendar import constants

        entries = [
            DayEntry(_holiday_name(h), d, True)
            for d, h in constants.holidays.items()
            if d.year == year
        ]
        entries += [
            DayEntry(_holiday_name(h), d, False)
            for d, h in constants.workdays.items()
            if d.year == year
        ]
        return YearArrangement(year, tuple(sorted(entries, key=lambda e: e.day)), "chinese_calendar")

    def __repr__(self) -> str:
        loaded = {y: a.source for y, a in self.arrangements.items()}
        return (
            f"WorkCalendar(version={self.version}, builtin={self.builtin_years.start}.."
            f"{self.builtin_years.stop - 1}, loaded={loaded})"
        )


_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def _holiday_name(holiday: object) -> str:
    name = str(getattr(holiday, "value", holiday))
    return _NAMES.get(name, name)
