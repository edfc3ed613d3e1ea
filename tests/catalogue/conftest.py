"""The web fixture of tests/web (``hub``: an app on a seeded database, users of every role)."""

from tests.web.conftest import hub  # noqa: F401
