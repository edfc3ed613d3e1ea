"""The report tests use the supervision tests' month of two departments."""

from tests.supervision.conftest import month  # noqa: F401
