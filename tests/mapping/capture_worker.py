"""A capture process for the kill tests: ``python -m tests.mapping.capture_worker PROFILE URL OUTBOX``.

Polls the source into the outbox until it is killed.
"""

from __future__ import annotations

import sys
import time

from agent.capture import CaptureRunner
from agent.capture.backfill import BackfillSettings
from agent.mapping import load_profile
from agent.outbox import Outbox
from tests.mapping.capture_support import fixed_now


def main(profile_path: str, url: str, outbox_path: str) -> None:
    outbox = Outbox(outbox_path, "a1", synchronous="NORMAL")
    runner = CaptureRunner(load_profile(profile_path), url, outbox, name="t", mode="trigger",
                           now=fixed_now, backoff=(0.01, 0.1),
                           # small windows in small transactions: kills land inside windows
                           backfill=BackfillSettings(window=100, chunk=20))
    print("ready", flush=True)
    while True:
        time.sleep(min(runner.step(), 0.02))


if __name__ == "__main__":
    main(*sys.argv[1:4])
