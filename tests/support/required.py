"""System software the suite needs: a failure under ``make test`` / CI, a skip only elsewhere.

``make test`` installs the Debian packages first (``scripts/system-deps.sh``) and sets
``XIAONENG_STRICT=1``; there a missing tool, browser or database server is a broken set-up and must
fail, never pass as a silent skip. A bare ``pytest`` on a developer machine without them skips
with what to install.
"""

from __future__ import annotations

import os
import shutil

import pytest


def strict() -> bool:
    """True under ``make test`` or CI."""
    return os.environ.get("XIAONENG_STRICT") == "1" or os.environ.get("CI", "").lower() in ("1", "true")


def missing(message: str) -> None:
    """Fail (strict) or skip the current test because ``message`` names what is missing."""
    if strict():
        pytest.fail(f"{message} (make test installs it: scripts/system-deps.sh)")
    pytest.skip(message)


def need_tool(name: str, package: str) -> str:
    """The path of the command ``name`` (from Debian package ``package``), or fail/skip."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (Debian package {package})")
        raise AssertionError("unreachable")  # pragma: no cover - missing() always raises
    return path
