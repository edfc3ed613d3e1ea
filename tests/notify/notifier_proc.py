"""The notifier alone in its own process, as the hub runs it (the restart test kills it).

    python -m tests.notify.notifier_proc DATA_DIR
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from hub.notify.service import NotifyOptions, NotifyService


def main() -> None:
    notifier = NotifyService(Path(sys.argv[1]), options=NotifyOptions(poll_s=0.05),
                             render=lambda month, city: None)  # fmt: skip
    notifier.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    notifier.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
