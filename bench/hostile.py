#!/usr/bin/env python3
"""Hostile-input benchmark: one agent login floods every topic an agent may publish with malformed
payloads (``simulator.hostile``) while another agent delivers signed batches, through a real
Mosquitto configured by ``hub.broker`` and the hub's ingest service. Prints one JSON object.

    python bench/hostile.py --json
    python bench/hostile.py --payloads 200000 --qos1-share 0.5 --json
    python bench/hostile.py --only records --qos1-share 1 --json   # the worst case for the records path

``hub_loop_deaths`` counts the hub's MQTT loop found dead (sampled every 50 ms) plus its restarts;
``legit_lost`` the legitimate records never stored; ``legit_p99_ms_during_flood`` the 99th
percentile of publish-to-acknowledgement time of the batches published during the flood;
``hub_rss_growth_mb`` the peak growth of the hub process (hub and the legitimate agent's client;
the flooder runs in a child process) over its size before the flood.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.hostile import run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--payloads", type=int, default=100_000, help="malformed payloads to publish (default 100000)")
    ap.add_argument("--qos1-share", type=float, default=0.2,
                    help="share of the record-topic garbage sent with QoS 1 (default 0.2)")
    ap.add_argument("--only", choices=("records", "health", "status", "answer"), default=None,
                    help="flood one topic only (default: every topic an agent may publish)")
    ap.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    ap.add_argument("--details", action="store_true", help="also print the hub's counters")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # the hub logs every kept quarantine; the counters say it all
    with tempfile.TemporaryDirectory(prefix="xn-hostile-") as tmp:
        r = run(Path(tmp), payloads=args.payloads, qos1_share=args.qos1_share, only=args.only)
    result = {"flooded_topics": args.only or "all", "qos1_share": args.qos1_share, **r.to_json()}
    if not args.details:
        result.pop("counters")
    print(json.dumps(result))
    return 0 if r.hub_loop_deaths == 0 and r.legit_lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
