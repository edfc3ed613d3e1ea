"""The simulated city's departments, windows, staff and approval items (事项目录).

``build_catalogue(seed, departments)`` is deterministic: the same seed and department selection
give the same codes, names and staff. Codes look like a real city's: departments have an
18-character unified social credit code (GB 32100, with valid check characters), items a
17-character implementation code (实施编码: region, item type, department, main item, sub item).
The city is fictional (明州市, region 990100) so simulated data is never mistaken for real data.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.catalogue_data import BRAND_WORDS, DEPARTMENTS, GIVEN, ITEMS, SHORT_NAMES, SURNAMES

CITY = "明州市"
REGION = "990100"
HALL = "明州市政务服务中心"
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True)
class Limit:
    """A time limit: ``value`` days in ``unit`` G (working days) or Z (natural days)."""

    value: int
    unit: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}


@dataclass(frozen=True)
class Item:
    """An approval item (事项) with its limits, fee standard and processing steps."""

    code: str
    name: str
    dept_code: str
    statutory: Limit
    promised: Limit
    fee_fen: int
    steps: tuple[tuple[str, str], ...]

    @property
    def case_kind(self) -> int:
        """1 即办件 (promised 0: decided the same day) or 2 承诺件."""
        return 1 if self.promised.value == 0 else 2


@dataclass(frozen=True)
class Staff:
    """A member of staff: a window clerk (``window_id`` set) or a back-office officer."""

    staff_id: str
    name: str
    dept_code: str
    role: str
    window_id: str | None = None


@dataclass(frozen=True)
class Window:
    """A service window (窗口) of a department in the hall."""

    window_id: str
    name: str
    dept_code: str
    hall: str
    staff: tuple[Staff, ...]
    item_code: str | None = None   # the item this window serves first (None: any)
    accepts: bool = True           # False for the window that only hands out results (出件)


@dataclass(frozen=True)
class Department:
    """A department with its windows, items and back-office officers."""

    seq: int
    code: str
    name: str
    credit_code: str
    windows: tuple[Window, ...]
    items: tuple[Item, ...]
    officers: tuple[Staff, ...]
    industries: tuple[str, ...] = field(default=(), repr=False)

    def window_for(self, item: Item, rng: random.Random) -> Window:
        """The window an application for ``item`` is made at: mostly the item's own window if
        it has one, else any window that accepts applications (综合受理 included)."""
        counters = [w for w in self.windows if w.accepts] or list(self.windows)
        own = [w for w in counters if w.item_code == item.code]
        if own and rng.random() < 0.8:
            return own[0]
        return rng.choice(counters)


@dataclass(frozen=True)
class Catalogue:
    """Everything the simulator draws from; ``to_dict`` is what ``xiaoneng-sim catalogue`` prints."""

    seed: int
    city: str
    region: str
    departments: tuple[Department, ...]

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for d in self.departments for i in d.items)

    @property
    def windows(self) -> tuple[Window, ...]:
        return tuple(w for d in self.departments for w in d.windows)

    @property
    def staff(self) -> tuple[Staff, ...]:
        return tuple(s for d in self.departments for s in (*d.officers,
                                                            *(x for w in d.windows for x in w.staff)))

    def department(self, code: str) -> Department:
        for dept in self.departments:
            if dept.code == code:
                return dept
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        """A plain, float-free description (departments → windows, staff, items)."""
        return {
            "city": self.city,
            "region": self.region,
            "seed": self.seed,
            "departments": [
                {
                    "code": d.code,
                    "name": d.name,
                    "credit_code": d.credit_code,
                    "windows": [
                        {"window_id": w.window_id, "name": w.name, "hall": w.hall,
                         "staff": [{"staff_id": s.staff_id, "name": s.name} for s in w.staff]}
                        for w in d.windows
                    ],
                    "officers": [{"staff_id": s.staff_id, "name": s.name, "role": s.role}
                                 for s in d.officers],
                    "items": [
                        {"item_code": i.code, "item_name": i.name,
                         "statutory_limit": i.statutory.to_dict(),
                         "promised_limit": i.promised.to_dict(),
                         "fee_standard_fen": i.fee_fen, "case_kind": i.case_kind,
                         "steps": [name for _, name in i.steps]}
                        for i in d.items
                    ],
                }
                for d in self.departments
            ],
        }


def credit_check_char(first17: str) -> str:
    """The GB 32100 check character of a unified social credit code's first 17 characters."""
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    """The GB 11714 check character of an organisation code's first 8 digits."""
    total = sum(int(c) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def _credit_code(rng: random.Random) -> str:
    org8 = f"{rng.randrange(10**7, 10**8)}"
    body = f"11{REGION}{org8}{org_check_char(org8)}"
    return body + credit_check_char(body)


def person_name(rng: random.Random) -> str:
    """A plausible Chinese personal name (surname + one or two given characters)."""
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def company_name(rng: random.Random, industries: Sequence[str]) -> str:
    """A plausible company name for a department's applicants."""
    industry = rng.choice(industries) if industries else "实业"
    return f"{CITY[:2]}{rng.choice(BRAND_WORDS)}{industry}有限公司"


def _steps(item_name: str, statutory: int, promised: int) -> tuple[tuple[str, str], ...]:
    if promised == 0:
        return (("JB", "受理即办"),)
    if statutory >= 30 or "许可" in item_name and statutory >= 20 and promised >= 15:
        return (("CB", "承办"), ("SH", "科室审核"), ("FG", "分管领导审批"), ("QF", "局长签发"))
    return (("CB", "承办"), ("SH", "审核"), ("PZ", "批准"))


FLOORS = ("一楼", "二楼", "三楼")
DEPTS_PER_FLOOR = 7


def hall_zone(seq: int, short: str) -> str:
    """Where a department's windows are: ``明州市政务服务中心 一楼 市场监管窗口区``."""
    return f"{HALL} {FLOORS[min(len(FLOORS) - 1, (seq - 1) // DEPTS_PER_FLOOR)]} {short}窗口区"


def _window_plan(short: str, first_no: int, count: int,
                 items: Sequence[tuple[str, str]]) -> list[tuple[str, str | None, bool]]:
    """(name, item code, accepts) of a department's windows, signed as a hall numbers them:
    ``12号窗口（市场监管·食品经营许可）``. The first window takes any of the department's
    applications (综合受理), the last of three or more hands out results (办结出件), the others
    serve its main items (``items``: code, name)."""
    serving = count - 2 if count >= 3 else count - 1
    plan: list[tuple[str, str | None, bool]] = [("综合受理", None, True)]
    plan += [(items[i % len(items)][1], items[i % len(items)][0], True) for i in range(serving)]
    if count >= 3:
        plan.append(("办结出件", None, False))
    return [(f"{first_no + i}号窗口（{short}·{topic}）", code, accepts)
            for i, (topic, code, accepts) in enumerate(plan[:count])]


def build_catalogue(seed: int = 1, departments: int | Sequence[str] = 20) -> Catalogue:
    """The catalogue for ``seed``: the first ``departments`` departments, or those codes.

    Default: 20 departments, 67 windows, 94 items. Raises ValueError for an unknown code or count.
    """
    if isinstance(departments, int):
        if not 1 <= departments <= len(DEPARTMENTS):
            raise ValueError(f"departments must be 1..{len(DEPARTMENTS)}, got {departments}")
        chosen = [d[0] for d in DEPARTMENTS[:departments]]
    else:
        known = {d[0] for d in DEPARTMENTS}
        unknown = [c for c in departments if c not in known]
        if unknown:
            raise ValueError(f"unknown department code(s) {unknown}; known: {sorted(known)}")
        chosen = list(dict.fromkeys(departments))
    rng = random.Random(f"xiaoneng-catalogue/{seed}")
    depts = []
    staff_no = 0
    window_no = 0
    for seq, (code, name, n_windows, industries) in enumerate(DEPARTMENTS, start=1):
        # Draw for every department so that a subset has the same names as the full city.
        credit = _credit_code(rng)
        windows = []
        short = SHORT_NAMES[code]
        zone = hall_zone(seq, short)
        item_codes = [(f"{REGION}00{seq:03d}{main:03d}000", spec[0])
                      for main, spec in enumerate(ITEMS[code], 1)]
        signs = _window_plan(short, window_no + 1, n_windows, item_codes)
        window_no += n_windows
        for w, (wname, item_code, accepts) in enumerate(signs, start=1):
            window_id = f"{code}-{w:02d}"
            clerks = []
            for _ in range(2 if w % 3 else 3):
                staff_no += 1
                clerks.append(Staff(f"S{seq:02d}{staff_no:04d}", person_name(rng), code, "窗口",
                                    window_id))
            windows.append(Window(window_id, wname, code, zone, tuple(clerks), item_code, accepts))
        officers = []
        for role in ("承办", "承办", "审核", "审核", "审批", "签发"):
            staff_no += 1
            officers.append(Staff(f"S{seq:02d}{staff_no:04d}", person_name(rng), code, role))
        items = tuple(
            Item(
                code=item_codes[main - 1][0],
                name=iname,
                dept_code=code,
                statutory=Limit(s_val, s_unit),
                promised=Limit(p_val, p_unit),
                fee_fen=fee,
                steps=_steps(iname, s_val, p_val),
            )
            for main, (iname, s_val, s_unit, p_val, p_unit, fee) in enumerate(ITEMS[code], 1)
        )
        if code in chosen:
            depts.append(Department(seq, code, name, credit, tuple(windows), items,
                                    tuple(officers), industries))
    depts.sort(key=lambda d: chosen.index(d.code))
    return Catalogue(seed, CITY, REGION, tuple(depts))
