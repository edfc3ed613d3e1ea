"""Suite-wide settings. Hypothesis keeps its files (example database, caches) in a temporary
directory, not in ``.hypothesis/`` of the working tree: a test run writes only into temporary
directories."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import configuration, settings

_HOME = Path(tempfile.gettempdir()) / "xiaoneng-test-hypothesis"
configuration.set_hypothesis_home_dir(str(_HOME))
settings.register_profile("xiaoneng", database=None)
settings.load_profile("xiaoneng")
