"""The filters of the cases board and the card queue: names, allowed values, validation.

Pages and the API read the same query arguments; a value outside its vocabulary is a 400 that
names the argument (``status must be one of …``), never a silent empty list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from werkzeug.exceptions import BadRequest

CASE_STATUSES = ("normal", "reminder", "yellow", "red", "paused", "provisional", "completed")
"""normal / reminder (R1) / yellow / red (overdue, cards) / paused (暂停计时) / provisional deadline /
completed."""
CARD_LEVELS = ("reminder", "yellow", "red")
CARD_STATES = ("raised", "notified", "appealed", "upheld", "withdrawn", "rectified", "closed")
CARD_TABS = ("action", "supervise", "rectify", "appeal", "all", "historical", "withdrawn")
"""needs action / 待督办 / 待整改 / 申诉中 / all / 历史 / 已撤销 (``hub.supervision.cardviews``)."""
_DATE = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True)
class Filter:
    """One query argument: free text up to ``max_len`` characters, or one of ``choices``."""

    name: str
    description: str
    choices: tuple[str, ...] = ()
    max_len: int = 64
    date: bool = False
    month: bool = False

    def schema(self) -> dict[str, object]:
        """Its JSON schema (OpenAPI parameters)."""
        if self.choices:
            return {"type": "string", "enum": list(self.choices)}
        if self.date:
            return {"type": "string", "format": "date", "pattern": _DATE.pattern}
        if self.month:
            return {"type": "string", "pattern": _MONTH.pattern}
        return {"type": "string", "maxLength": self.max_len}

    def clean(self, raw: str) -> str:
        value = raw.strip()
        if self.choices and value not in self.choices:
            raise BadRequest(f"{self.name} must be one of {', '.join(self.choices)}")
        if self.date and not (_DATE.match(value) and _real_date(value)):
            raise BadRequest(f"{self.name} must be a date YYYY-MM-DD (years 2000-2099), got {value[:20]!r}")
        if self.month and not (_MONTH.match(value) and _real_date(value + "-01")):
            raise BadRequest(f"{self.name} must be a month YYYY-MM (years 2000-2099), got {value[:20]!r}")
        if len(value) > self.max_len:
            raise BadRequest(f"{self.name} is longer than {self.max_len} characters")
        return value


CASE_FILTERS = (
    Filter("q", "search: case number, item, applicant or staff", max_len=100),
    Filter("dept", "department code"),
    Filter("item", "item code"),
    Filter("window", "window id"),
    Filter("status", "case status", CASE_STATUSES),
    Filter("from", "accepted on or after (YYYY-MM-DD)", date=True),
    Filter("to", "accepted on or before (YYYY-MM-DD)", date=True),
)
CARD_FILTERS = (
    Filter("level", "card level", CARD_LEVELS),
    Filter("state", "card state", CARD_STATES),
    Filter("dept", "department code"),
    Filter("case", "case number"),
    Filter("rule", "rule id (R1 … R11)", max_len=16),
    Filter("tab", "needs action / supervise (raised) / rectify (notified, upheld) / appeal / all / historical / "
           "withdrawn; the API's default is all", CARD_TABS),
    Filter("month", "cards whose moment is in this month (YYYY-MM)", month=True),
    Filter("from", "moment on or after (YYYY-MM-DD)", date=True),
    Filter("to", "moment on or before (YYYY-MM-DD)", date=True),
    Filter("standing", "1: standing cards only (yellow or red, not appealed or withdrawn); 0: any", ("0", "1")),
    Filter("historical", "1: historical cards only (imported history), 0: live cards only", ("0", "1")),
)


def parse(filters: tuple[Filter, ...], args: Mapping[str, str]) -> dict[str, str]:
    """The non-empty, valid filters among ``args``; BadRequest naming the first invalid one."""
    out: dict[str, str] = {}
    for f in filters:
        raw = args.get(f.name, "")
        if raw and raw.strip():
            out[f.name] = f.clean(raw)
    return out  # from after to is valid: nothing matches


def _real_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
