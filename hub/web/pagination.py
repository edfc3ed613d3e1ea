"""``?page=&per_page=`` parsing and the page envelope of list responses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import BadRequest


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which slice of a list to return (``page`` counts from 1)."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @classmethod
    def parse(cls, args: Mapping[str, str], default: int, maximum: int) -> PageRequest:
        """Read ``page`` and ``per_page`` from query arguments; 400 with the rule when invalid."""
        return cls(_int(args, "page", 1, 1, 1_000_000), _int(args, "per_page", default, 1, maximum))


def _int(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer between {low} and {high}, got {raw[:20]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be an integer between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list and where it sits in the whole."""

    items: Sequence[Any]
    page: int
    per_page: int
    total: int
    total_is_estimate: bool = False  # ``total`` is a capped count: a lower bound, not exact

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def envelope(self, items: Sequence[Any] | None = None) -> dict[str, Any]:
        """The JSON shape of every list endpoint."""
        return {
            "items": list(self.items if items is None else items),
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "pages": self.pages,
            "total_is_estimate": self.total_is_estimate,
        }
