"""Declarative mapping of department database rows to case events (DESIGN.md §4.4).

Public API::

    profile = load_profile("firmware_configs/profiles/reference.yaml")   # strict, ConfigError
    problems = check_profile(profile) + check_database(profile, conn)    # list[Problem]
    events = map_row(profile, "appr_case", row_dict)                     # list[Event], pure

An :class:`Event` is ``(type, ts, body, key)``; a row that cannot be mapped yields an
``agent.mapping_error`` event (``event.is_error``) rather than an exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.mapping.check import Problem, check_database, check_profile, errors
from agent.mapping.engine import (
    MAPPING_ERROR,
    ROW_DELETED,
    Event,
    map_delete,
    map_row,
    row_key,
)
from agent.mapping.profile import Profile, Source, load_profile, profile_from_data

__all__ = [
    "MAPPING_ERROR",
    "ROW_DELETED",
    "Event",
    "Problem",
    "Profile",
    "Source",
    "check_database",
    "check_profile",
    "errors",
    "load_profile",
    "map_delete",
    "map_row",
    "profile_from_data",
    "row_key",
    "validate_profile",
]


def validate_profile(path: str | Path, conn: Any = None) -> list[Problem]:
    """Load ``path`` strictly and check it (and, given a DB-API ``conn``, the live database).

    Raises ConfigError if the file itself is malformed; returns the problems otherwise.
    """
    profile = load_profile(path)
    problems = check_profile(profile)
    if conn is not None:
        problems += check_database(profile, conn)
    return problems
