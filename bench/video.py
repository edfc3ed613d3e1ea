#!/usr/bin/env python3
"""Video benchmark of one agent camera: capture + analytics + VP8 encode at 640x480, 15 fps, sent
over WebRTC on loopback to a viewer in another process. Prints one JSON object.

    python bench/video.py --json [--seconds 20]

The agent side (this process) runs the demo camera profile: the synthetic hall (rendered, as a
camera would deliver it), the watchdog, the presence and queue analytics, and a CameraTrack encoding
VP8. The viewer (a child process, so that its decoding is not counted) reads the timestamp burnt
into each frame when it was rendered and reports glass-to-glass latency. CPU is this process's
user + system time over wall time, in percent of one core, measured twice: capture + analytics
alone, then capture + analytics + encode and send.

Not measured here (they belong to the hub's relay): hub_cpu_percent_per_viewer, viewers_per_stream
and RSS growth with viewers joining and leaving; they are printed as null.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "firmware_configs" / "cameras" / "demo-hall-cam1.yaml"


def loopback_only() -> None:
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


def viewer(conn: Connection, seconds: float) -> None:
    """Child process: answer the offer, receive for ``seconds``, send back the latencies."""
    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
    from av import VideoFrame

    from agent.camera import stamp
    from agent.camera.rtc import rtc_configuration

    loopback_only()

    async def run() -> dict[str, Any]:
        pc = RTCPeerConnection(rtc_configuration())
        latencies: list[int] = []
        frames = 0
        tasks: list[asyncio.Task[None]] = []

        async def consume(track: MediaStreamTrack) -> None:
            nonlocal frames
            while True:
                frame = cast(VideoFrame, await track.recv())
                frames += 1
                value = stamp.read(frame.to_ndarray(format="bgr24"))
                if value is not None:
                    latencies.append(int(time.time() * 1000) - value)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            tasks.append(asyncio.ensure_future(consume(track)))

        offer = conn.recv()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        conn.send(pc.localDescription.sdp)
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pc.close()
        return {"latencies": latencies, "frames": frames}

    conn.send(asyncio.run(run()))


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--json", action="store_true", help="print JSON (the only format)")
    args = parser.parse_args()

    from aiortc import RTCPeerConnection, RTCSessionDescription

    from agent.camera.config import load_profile
    from agent.camera.pipeline import CameraPipeline
    from agent.camera.rtc import CameraTrack, publish, rtc_configuration

    loopback_only()
    profile = load_profile(PROFILE)
    events: list[str] = []
    me = psutil.Process()
    with tempfile.TemporaryDirectory() as snapshots:
        pipeline = CameraPipeline(profile, lambda t, b, ts: events.append(t), Path(snapshots))
        pipeline.start()
        time.sleep(2.0)  # warm up: detectors loaded, first decisions made
        c0, w0, f0 = cpu_seconds(me), time.monotonic(), pipeline.frames
        time.sleep(args.seconds)
        analytics_cpu = 100 * (cpu_seconds(me) - c0) / (time.monotonic() - w0)
        analytics_fps = (pipeline.frames - f0) / (time.monotonic() - w0)

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=viewer, args=(child, args.seconds + 4.0), daemon=True)
        proc.start()

        async def send() -> float:
            pc = RTCPeerConnection(rtc_configuration())
            publish(pc, CameraTrack(pipeline.latest, fps=profile.fps, size=profile.size))
            await pc.setLocalDescription(await pc.createOffer())
            parent.send(pc.localDescription.sdp)
            answer = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            await asyncio.sleep(2.0)  # connect, first keyframe
            c1, w1 = cpu_seconds(me), time.monotonic()
            await asyncio.sleep(args.seconds)
            cpu = 100 * (cpu_seconds(me) - c1) / (time.monotonic() - w1)
            await pc.close()
            return cpu

        full_cpu = asyncio.run(send())
        result = parent.recv()
        proc.join(10)
        pipeline.stop()

    latencies = sorted(result["latencies"])
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else None
    print(json.dumps({
        "glass_to_glass_ms_p50": statistics.median(latencies) if latencies else None,
        "glass_to_glass_ms_p95": p95,
        "agent_cpu_percent_per_camera": round(full_cpu, 1),
        "agent_cpu_percent_capture_analytics": round(analytics_cpu, 1),
        "camera": {"size": list(profile.size), "fps": profile.fps, "analysis_fps": profile.analysis_fps,
                   "measured_fps": round(analytics_fps, 1), "windows": len(profile.windows)},
        "frames_received": result["frames"],
        "stamped_frames": len(latencies),
        "events": len(events),
        "hub_cpu_percent_per_viewer": None,
        "viewers_per_stream": None,
        "rss_growth_percent": None,
        "cores": psutil.cpu_count(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
