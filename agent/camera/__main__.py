"""``python -m agent.camera validate PROFILE...`` and ``python -m agent.camera run PROFILE``.

``validate`` checks camera profiles (exit 1 and the exact error otherwise); ``run`` runs one camera
for a while and prints its events and feed states as JSON lines (for installers checking a camera).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from agent.camera.config import load_profile
from agent.camera.events import Body
from agent.camera.pipeline import CameraPipeline
from agent.camera.watchdog import FeedStatus
from shared.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.camera")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="check camera profiles")
    check.add_argument("profiles", nargs="+", type=Path)
    run = sub.add_parser("run", help="run one camera and print its events")
    run.add_argument("profile", type=Path)
    run.add_argument("--seconds", type=float, default=30.0)
    run.add_argument("--snapshots", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.command == "validate":
        failed = False
        for path in args.profiles:
            try:
                profile = load_profile(path)
            except ConfigError as exc:
                print(exc, file=sys.stderr)
                failed = True
            else:
                print(f"{path}: ok ({profile.camera_id}, {len(profile.windows)} windows)")
        return 1 if failed else 0

    try:
        profile = load_profile(args.profile)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    snapshots = args.snapshots or Path(tempfile.mkdtemp(prefix="xn-snapshots-"))

    def emit(type_: str, body: Body, ts: str) -> None:
        print(json.dumps({"type": type_, "ts": ts, "body": body}, ensure_ascii=False), flush=True)

    def status(s: FeedStatus) -> None:
        print(json.dumps({"feed": s.body(profile.camera_id)}, ensure_ascii=False), flush=True)

    pipeline = CameraPipeline(profile, emit, snapshots, on_status=status)
    pipeline.start()
    try:
        time.sleep(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.stop()
    print(json.dumps({"frames": pipeline.frames, "analysed": pipeline.analysed,
                      "snapshots": str(snapshots)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
