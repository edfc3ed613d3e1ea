"""Capture from department databases into the outbox (DESIGN.md §4.4, docs/mapping.md).

Public API::

    db = connect_source("postgresql://agent@10.1.2.3/approval")
    install(db, profile)                                  # trigger mode: change table + triggers
    runner = CaptureRunner(profile, url, outbox, name="dept-a", state_dir=data_dir)
    agent.add_thread(runner.run, "capture-dept-a")        # polls until stopped
    runner.health()                                       # state, lag, counters (no floats)
"""

from __future__ import annotations

from agent.capture.database import SourceDb, connect_source, is_connection_error
from agent.capture.runner import CaptureConfig, CaptureRunner
from agent.capture.sink import EventSink
from agent.capture.trigger_mode import SchemaDrift, TriggerCapture
from agent.capture.triggers import CHANGE_TABLE, install, install_statements, uninstall
from agent.capture.watermark_mode import WatermarkCapture

__all__ = [
    "CHANGE_TABLE",
    "CaptureConfig",
    "CaptureRunner",
    "EventSink",
    "SchemaDrift",
    "SourceDb",
    "TriggerCapture",
    "WatermarkCapture",
    "connect_source",
    "install",
    "install_statements",
    "is_connection_error",
    "uninstall",
]
