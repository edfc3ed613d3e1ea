"""Where the browser tests put their screenshots: never into the working tree.

A test run writes its screenshots and downloads under a temporary directory
(``$XN_TEST_ARTIFACTS`` or ``<tmp>/xiaoneng-test-artifacts``), one folder per run. The pictures in
``docs/screenshots/`` are refreshed only on request: ``make screenshots`` runs the tests that make
them with ``XN_SCREENSHOTS`` set to that folder, and :func:`keep_screenshot` copies them there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

RUN = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"


def artifacts_root() -> Path:
    base = os.environ.get("XN_TEST_ARTIFACTS") or str(Path(tempfile.gettempdir()) / "xiaoneng-test-artifacts")
    return Path(base) / RUN


def artifact_dir(name: str) -> Path:
    path = artifacts_root() / name.replace("/", "_")
    path.mkdir(parents=True, exist_ok=True)
    return path


def keep_screenshot(source: Path, name: str) -> Path | None:
    """Copy a run's screenshot to ``$XN_SCREENSHOTS/<name>`` when pictures for the docs were asked
    for (``make screenshots``); otherwise leave it with the run's artifacts. Returns the copy."""
    folder = os.environ.get("XN_SCREENSHOTS")
    if not folder:
        return None
    target = Path(folder) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
