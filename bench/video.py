#!/usr/bin/env python3
"""Video benchmark: one agent camera, and the hub's relay fanning it out. Prints one JSON object.

    python bench/video.py --json                       # everything; the churn phase lasts 600 s
    python bench/video.py --json --churn-seconds 120   # a shorter memory run
    python bench/video.py --json --skip-agent          # the relay only

**Agent** (this process): the demo camera profile — the synthetic hall rendered as a camera would
deliver it, the watchdog, the presence and queue analytics — then a CameraTrack encoding VP8 at
640x480, 15 fps, sent over loopback WebRTC to a viewer in a child process (so that decoding is not
counted). CPU is this process's user + system time over wall time, in percent of one core:
capture + analytics alone, then with encoding and sending (``agent_cpu_percent_per_camera``).
``glass_to_glass_direct_ms_*`` is agent → viewer without the hub.

**Relay** (real processes: Mosquitto, ``xiaoneng-hub run``, ``xiaoneng-agent run`` with the demo
camera, ICE on 127.0.0.1): aiortc viewers in a child process join through the hub's HTTP API
(bearer token) like the wall's tiles do. Viewer 0 decodes every frame and reads the timestamp the
synthetic camera burnt into it when it was rendered: ``glass_to_glass_ms_*`` is camera → agent
(encode) → hub relay (forward) → viewer (decode), the whole path. The other viewers count the
complete encoded frames they receive without decoding them (the bench machine has two cores).

- ``hub_cpu_percent_per_viewer``: the hub process's CPU with ``--max-viewers`` viewers minus with
  one, divided by the extra viewers (percent of one core per viewer).
- ``viewers_per_stream``: viewers that received at least 80 % of the camera's frame rate during
  the measurement with ``--max-viewers`` on one upstream.
- ``rss_growth_percent``: the hub's resident memory at the end of a churn phase (viewers joining
  and leaving every ``--churn-every`` s, and everyone leaving once a minute so that the upstream
  stops and starts again) against its start; the median of the first and last three samples.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "firmware_configs" / "cameras" / "demo-hall-cam1.yaml"
CAMERA = "demo-hall-cam1"
AGENT = "hall-agent"


def loopback_only() -> None:
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


def percentiles(values: list[int]) -> tuple[float | None, int | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


# -- agent: capture + analytics + encode, direct to one viewer ----------------------------------


def direct_viewer(conn: Connection, seconds: float) -> None:
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


def bench_agent(seconds: float) -> dict[str, Any]:
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
        time.sleep(seconds)
        analytics_cpu = 100 * (cpu_seconds(me) - c0) / (time.monotonic() - w0)
        analytics_fps = (pipeline.frames - f0) / (time.monotonic() - w0)

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=direct_viewer, args=(child, seconds + 4.0), daemon=True)
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
            await asyncio.sleep(seconds)
            cpu = 100 * (cpu_seconds(me) - c1) / (time.monotonic() - w1)
            await pc.close()
            return cpu

        full_cpu = asyncio.run(send())
        result = parent.recv()
        proc.join(10)
        pipeline.stop()
    p50, p95 = percentiles(result["latencies"])
    return {
        "glass_to_glass_direct_ms_p50": p50,
        "glass_to_glass_direct_ms_p95": p95,
        "agent_cpu_percent_per_camera": round(full_cpu, 1),
        "agent_cpu_percent_capture_analytics": round(analytics_cpu, 1),
        "camera": {"size": list(profile.size), "fps": profile.fps, "analysis_fps": profile.analysis_fps,
                   "measured_fps": round(analytics_fps, 1), "windows": len(profile.windows)},
        "direct_frames_received": result["frames"],
        "events": len(events),
    }


# -- relay: viewers through the hub ---------------------------------------------------------------


def _post(url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - a local http URL built by the bench
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return cast(dict[str, Any], json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{url}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None


def relay_viewers(conn: Connection, base: str, token: str) -> None:
    """Child process: a pool of aiortc viewers of the hub's relay, driven by commands on ``conn``:
    ``("set", n)`` joins or leaves viewers until n watch; ``("frames",)`` the frames each received;
    ``("latencies",)`` viewer 0's latencies since the last call; ``("quit",)``."""
    from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from av import VideoFrame

    from agent.camera import stamp
    from hub.video.forward import tap_receiver

    loopback_only()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        viewers: list[dict[str, Any]] = []
        latencies: list[int] = []
        serial = 0

        async def consume(track: MediaStreamTrack, state: dict[str, Any]) -> None:
            while True:
                frame = cast(VideoFrame, await track.recv())
                state["frames"] += 1
                value = stamp.read(frame.to_ndarray(format="bgr24"))
                if value is not None:
                    latencies.append(int(time.time() * 1000) - value)

        async def join(decode: bool) -> dict[str, Any]:
            nonlocal serial
            serial += 1
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            receiver = pc.addTransceiver("video", direction="recvonly").receiver
            state: dict[str, Any] = {"pc": pc, "frames": 0, "task": None, "serial": serial}

            def count(data: bytes, ts: int) -> None:
                state["frames"] += 1

            if decode:
                @pc.on("track")
                def on_track(track: MediaStreamTrack) -> None:
                    state["task"] = asyncio.ensure_future(consume(track, state))
            else:
                tap_receiver(receiver, count)
            await pc.setLocalDescription(await pc.createOffer())
            body = {"agent_id": AGENT, "camera_id": CAMERA, "type": "offer", "sdp": pc.localDescription.sdp}
            answer = await loop.run_in_executor(None, _post, f"{base}/api/v1/video/watch", body, token)
            state["viewer_id"] = answer["viewer_id"]
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            return state

        async def leave(state: dict[str, Any]) -> None:
            await loop.run_in_executor(None, _post, f"{base}/api/v1/video/leave",
                                       {"viewer_id": state["viewer_id"]}, token)
            if state["task"] is not None:
                state["task"].cancel()
                await asyncio.gather(state["task"], return_exceptions=True)
            await state["pc"].close()

        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] == "set":
                target = int(command[1])
                if target > len(viewers):
                    first = not viewers
                    joined = await asyncio.gather(*(join(first and i == 0) for i in range(target - len(viewers))))
                    viewers.extend(joined)
                while len(viewers) > target:
                    await leave(viewers.pop())
                conn.send(len(viewers))
            elif command[0] == "frames":
                conn.send([(v["serial"], v["frames"]) for v in viewers])
            elif command[0] == "latencies":
                conn.send(list(latencies))
                latencies.clear()
            else:
                for state in viewers:
                    await leave(state)
                conn.send("bye")
                return

    asyncio.run(run())


class Viewers:
    """The parent's handle on the viewer child process."""

    def __init__(self, base: str, token: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=relay_viewers, args=(child, base, token), daemon=True)
        self.proc.start()

    def call(self, *command: Any) -> Any:
        self.conn.send(command)
        if not self.conn.poll(120):
            raise TimeoutError(f"the viewer process did not answer {command!r}")
        return self.conn.recv()

    def close(self) -> None:
        try:
            if self.proc.is_alive():
                self.call("quit")
        finally:
            self.proc.join(20)
            if self.proc.is_alive():
                self.proc.kill()


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def measure(hub: psutil.Process, viewers: Viewers, window: float) -> tuple[float, dict[int, float]]:
    """Hub CPU (% of a core) and each viewer's received frame rate over ``window`` seconds."""
    before, c0, t0 = dict(viewers.call("frames")), cpu_seconds(hub), time.monotonic()
    time.sleep(window)
    after, c1, t1 = dict(viewers.call("frames")), cpu_seconds(hub), time.monotonic()
    rates = {k: (after[k] - before.get(k, 0)) / (t1 - t0) for k in after}
    return 100 * (c1 - c0) / (t1 - t0), rates


def bench_relay(args: argparse.Namespace, fps: int) -> dict[str, Any]:
    from hub.auth import connect, create_token
    from tests.video.cluster import USERNAME, http_ready, video_cluster

    with tempfile.TemporaryDirectory(prefix="xn-video-bench-") as root:
        limits = {"max_viewers_per_camera": max(16, args.max_viewers), "max_viewers": max(64, args.max_viewers)}
        cluster = video_cluster(Path(root), cameras=1, agent_id=AGENT, grace_s=args.grace, relay=limits)
        conn = connect(cluster.hub_dir / "hub.sqlite")
        token, _row = create_token(conn, USERNAME, "video benchmark")
        conn.close()
        viewers: Viewers | None = None
        try:
            cluster.start_broker()
            cluster.start_hub()
            wait_for(lambda: http_ready(cluster), 30, "the hub's web UI")
            cluster.start_agent(AGENT)
            assert cluster.hub is not None and cluster.hub.pid is not None
            hub = psutil.Process(cluster.hub.pid)
            agent_pid = cluster.agents[AGENT].pid
            assert agent_pid is not None
            agent = psutil.Process(agent_pid)
            base = f"http://127.0.0.1:{cluster.http_port}"
            time.sleep(3.0)  # the agent's cameras start, its first heartbeats arrive
            idle_cpu, _ = measure(hub, viewers := Viewers(base, token), args.window)

            viewers.call("set", 1)
            wait_for(lambda: viewers is not None and sum(f for _s, f in viewers.call("frames")) > 2 * fps,
                     30, "frames at the first viewer")
            viewers.call("latencies")  # drop the start-up frames
            one_cpu, one_rates = measure(hub, viewers, args.window)

            viewers.call("set", args.max_viewers)
            time.sleep(3.0)  # the new viewers connect and wait for a keyframe
            many_cpu, many_rates = measure(hub, viewers, args.window)
            reached = sum(1 for r in many_rates.values() if r >= 0.8 * fps)
            latencies = viewers.call("latencies")

            # churn: viewers join and leave; once a minute everyone leaves and the upstream stops
            rss: list[int] = []
            agent_rss: list[int] = []
            rng = random.Random(6)
            started = time.monotonic()
            next_sample = next_churn = started
            next_empty = started + 60.0
            cycles = joins = 0
            while time.monotonic() - started < args.churn_seconds:
                now = time.monotonic()
                if now >= next_sample:
                    rss.append(hub.memory_info().rss)
                    agent_rss.append(agent.memory_info().rss)
                    next_sample = now + 5.0
                if now >= next_empty:
                    viewers.call("set", 0)
                    time.sleep(args.grace + 2.0)  # the relay stops the upstream; the agent stops encoding
                    viewers.call("set", 1)
                    cycles += 1
                    next_empty = time.monotonic() + 60.0
                elif now >= next_churn:
                    joins += 1
                    viewers.call("set", rng.randint(1, args.max_viewers))
                    next_churn = now + args.churn_every
                time.sleep(0.2)
            latencies += viewers.call("latencies")
            rss.append(hub.memory_info().rss)
            agent_rss.append(agent.memory_info().rss)
            stats_log = (cluster.root / "logs" / "hub.log").read_text(errors="replace")
        finally:
            try:
                if viewers is not None:
                    viewers.close()
            finally:
                cluster.stop_all()

    def growth(samples: list[int]) -> float | None:
        if len(samples) < 6:
            return None
        first, last = statistics.median(samples[:3]), statistics.median(samples[-3:])
        return round(100 * (last - first) / first, 1)

    p50, p95 = percentiles(latencies)
    extra = max(1, args.max_viewers - 1)
    return {
        "glass_to_glass_ms_p50": p50,
        "glass_to_glass_ms_p95": p95,
        "stamped_frames": len(latencies),
        "hub_cpu_percent_idle": round(idle_cpu, 1),
        "hub_cpu_percent_1_viewer": round(one_cpu, 1),
        f"hub_cpu_percent_{args.max_viewers}_viewers": round(many_cpu, 1),
        "hub_cpu_percent_per_viewer": round((many_cpu - one_cpu) / extra, 2),
        "viewers_per_stream": reached,
        "viewer_fps": {"one": [round(r, 1) for r in one_rates.values()],
                       "many": [round(r, 1) for r in many_rates.values()]},
        "rss_growth_percent": growth(rss),
        "hub_rss_mb": {"start": round(rss[0] / 2**20, 1), "end": round(rss[-1] / 2**20, 1),
                       "max": round(max(rss) / 2**20, 1)} if rss else None,
        "agent_rss_growth_percent": growth(agent_rss),
        "hub_rss_mb_every_30s": [round(r / 2**20, 1) for r in rss[::6]],
        "agent_rss_mb_every_30s": [round(r / 2**20, 1) for r in agent_rss[::6]],
        "churn": {"seconds": args.churn_seconds, "changes": joins, "upstream_restarts": cycles,
                  "viewer_sessions": stats_log.count('"viewer joined"')},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each agent phase")
    parser.add_argument("--window", type=float, default=20.0, help="length of each relay measurement")
    parser.add_argument("--max-viewers", type=int, default=8, help="viewers of one upstream to reach")
    parser.add_argument("--churn-seconds", type=float, default=600.0, help="length of the memory run")
    parser.add_argument("--churn-every", type=float, default=10.0, help="viewers change this often")
    parser.add_argument("--grace", type=float, default=3.0, help="the relay's grace period (video.yaml)")
    parser.add_argument("--skip-agent", action="store_true", help="only the relay")
    parser.add_argument("--skip-relay", action="store_true", help="only the agent")
    parser.add_argument("--json", action="store_true", help="print JSON (the only format)")
    args = parser.parse_args()

    result: dict[str, Any] = {"cores": psutil.cpu_count()}
    if not args.skip_agent:
        result.update(bench_agent(args.seconds))
    if not args.skip_relay:
        result.update(bench_relay(args, fps=15))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
