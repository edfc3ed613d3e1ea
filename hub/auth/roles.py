"""The five roles of the hub (DESIGN.md §4.6) and what each one is for."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role. The value is what the ``users.role`` column stores."""

    ADMIN = "admin"  # everything, including users, devices and the audit log
    MONITOR = "monitor"  # 监控室: watches and acts on cases, cards and halls
    LEADER = "leader"  # 领导: reads everything a monitor sees, changes nothing
    TELECOM = "telecom"  # 电信: the links of the agents only
    DEPARTMENT = "department"  # 部门: its own cases, cards and appeals only

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role named ``value``; ``ValueError`` naming the allowed roles otherwise."""
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown role {value!r} (allowed: {allowed})") from None


ALL_ROLES: frozenset[Role] = frozenset(Role)
