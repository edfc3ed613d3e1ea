"""The video wall end to end: real Mosquitto, hub and agent processes (LocalCluster), the agent
running two synthetic cameras, and Debian's Chromium driven by Playwright playing them live through
the hub's relay. Also: presence records from the synthetic hall reach the hub's ledger, tiles off
screen are paused, and the upstream stops once nobody watches.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.cluster import LocalCluster
from tests.support.required import missing
from tests.support.screenshots import artifact_dir, keep_screenshot
from tests.support.wait import wait_until
from tests.video.cluster import PASSWORD, USERNAME, http_ready, video_cluster

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
AGENT = "hall-agent"
TILE = 'figure.video-tile[data-camera="{}"]'


@pytest.fixture(autouse=True)
def no_leaked_threads() -> None:
    """Replaces the package's per-test thread check: Playwright's driver (module-wide) starts
    helper threads of its own on first use; the processes are checked by ``stop_all``."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = video_cluster(tmp_path_factory.mktemp("wall"), cameras=2, dead=True, agent_id=AGENT, grace_s=2.0)
    try:
        cluster.start_broker()
        cluster.start_hub()
        wait_until(lambda: http_ready(cluster), 30, message="the hub's web UI did not come up")
        cluster.start_agent(AGENT)
        yield cluster
    finally:
        cluster.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright import sync_api as playwright
    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed (Debian package chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def signed_in(browser: Any, cluster: LocalCluster, **viewport: int) -> Any:
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 760}, locale="zh-CN")
    base = f"http://127.0.0.1:{cluster.http_port}"
    page.goto(f"{base}/login")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def tile_info(page: Any, camera: str) -> dict[str, Any]:
    return page.evaluate(
        """(sel) => { const t = document.querySelector(sel); if (!t) { return null; }
            const v = t.querySelector('video');
            return {state: t.dataset.state, frames: Number(t.dataset.frames), feed: t.dataset.feed,
                    viewer: t.dataset.viewer || null, width: v.videoWidth, time: v.currentTime}; }""",
        TILE.format(camera),
    ) or {}


def wait_playing(page: Any, camera: str, frames: int = 15, timeout_ms: int = 40000) -> None:
    page.wait_for_function(
        """([sel, n]) => { const t = document.querySelector(sel);
            return t && t.dataset.state === 'playing' && Number(t.dataset.frames) >= n
                   && t.querySelector('video').videoWidth > 0; }""",
        arg=[TILE.format(camera), frames], timeout=timeout_ms,
    )


def relay_cameras(page: Any, cluster: LocalCluster) -> dict[str, dict[str, Any]]:
    wall = page.evaluate("(url) => fetch(url).then(r => r.json())", f"http://127.0.0.1:{cluster.http_port}"
                         "/api/v1/video/cameras")
    return {c["camera_id"]: c for hall in wall["halls"] for c in hall["cameras"]}


def test_wall_plays_live_video_in_chromium(cluster: LocalCluster, browser: Any) -> None:
    page = signed_in(browser, cluster)
    base = f"http://127.0.0.1:{cluster.http_port}"
    page.goto(f"{base}/video")
    page.wait_for_selector(TILE.format("demo-hall-cam1"), timeout=30000)  # from the agent's heartbeat
    for camera in ("demo-hall-cam1", "demo-hall-cam2"):
        wait_playing(page, camera)
    # the badge follows the heartbeats (the very first one may predate the camera's first frame)
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.feed === 'ok'",
                           arg=TILE.format("demo-hall-cam1"), timeout=20000)
    first = tile_info(page, "demo-hall-cam1")
    assert first["width"] == 640
    # the unplugged camera: the agent's watchdog reports it dead, the tile says 无信号
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.feed === 'dead'",
                           arg=TILE.format("demo-hall-cam9"), timeout=20000)
    assert page.inner_text(TILE.format("demo-hall-cam9") + " .badge") == "无信号"
    assert page.inner_text(TILE.format("demo-hall-cam1") + " .badge") == "正常"
    # the picture keeps moving: decoded frames and the media clock advance
    page.wait_for_function(
        """([sel, t, n]) => { const e = document.querySelector(sel);
            return e.querySelector('video').currentTime > t + 1 && Number(e.dataset.frames) > n + 10; }""",
        arg=[TILE.format("demo-hall-cam1"), first["time"], first["frames"]], timeout=20000,
    )
    shot = artifact_dir("video-wall") / "video-wall.png"
    page.screenshot(path=str(shot))
    keep_screenshot(shot, "video-wall.png")
    # one large view, from the same stream
    page.click(TILE.format("demo-hall-cam2"))
    page.wait_for_function(
        """() => { const b = document.getElementById('video-large');
            const v = document.getElementById('video-large-video');
            return !b.hidden && v.videoWidth === 640 && v.currentTime > 0; }""", timeout=20000)
    page.keyboard.press("Escape")
    assert page.is_hidden("#video-large")
    cams = relay_cameras(page, cluster)
    assert cams["demo-hall-cam1"]["viewers"] == 1 and cams["demo-hall-cam1"]["streaming"]
    page.close()


def test_offscreen_tiles_are_paused_and_the_upstream_stops(cluster: LocalCluster, browser: Any) -> None:
    # one tile per row, one row on screen: the second camera is below the fold
    page = signed_in(browser, cluster, width=460, height=520)
    page.goto(f"http://127.0.0.1:{cluster.http_port}/video")
    wait_playing(page, "demo-hall-cam1")
    second = tile_info(page, "demo-hall-cam2")
    assert second["state"] == "idle" and second["viewer"] is None and second["frames"] == 0
    page.locator(TILE.format("demo-hall-cam2")).scroll_into_view_if_needed()
    wait_playing(page, "demo-hall-cam2")
    # scrolled back up: the second tile closes its session after a few seconds
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.state === 'paused'",
                           arg=TILE.format("demo-hall-cam2"), timeout=15000)
    wait_until(lambda: relay_cameras(page, cluster)["demo-hall-cam2"]["viewers"] == 0, 10,
               message="the relay still counts a viewer for the paused tile")
    # the relay stops that upstream after its grace period; the agent's heartbeat says so too
    wait_until(lambda: not relay_cameras(page, cluster)["demo-hall-cam2"]["streaming"], 15,
               message="the upstream of the paused camera was not stopped")
    wait_until(lambda: not _agent_streams(cluster).get("demo-hall-cam2", True), 15,
               message="the agent still sends the paused camera")
    # leaving the page: every session ends, and nothing is sent any more
    page.goto(f"http://127.0.0.1:{cluster.http_port}/links")
    wait_until(lambda: not any(_agent_streams(cluster).values()), 20,
               message="the agent still streams after the wall was closed")
    page.close()


def _agent_streams(cluster: LocalCluster) -> dict[str, bool]:
    """camera → streaming, from the agent's last heartbeat as stored by the hub."""
    conn = cluster.hub_db()
    try:
        row = conn.execute("SELECT health_json FROM agent_link WHERE agent_id = ?", (AGENT,)).fetchone()
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
    health = json.loads(row[0]) if row and row[0] else {}
    return {c["camera_id"]: bool(c.get("streaming")) for c in health.get("cameras", [])}


def test_presence_records_from_the_synthetic_hall_reach_the_hub(cluster: LocalCluster) -> None:
    def presence() -> dict[str, int]:
        conn = cluster.hub_db()
        try:
            return dict(conn.execute(
                "SELECT type, COUNT(*) FROM records WHERE agent_id = ? GROUP BY type", (AGENT,)).fetchall())
        except sqlite3.OperationalError:
            return {}
        finally:
            conn.close()

    started = time.monotonic()
    counts = wait_until(lambda: (c := presence()).get("presence.present") and c, 60,
                        message="no presence record reached the hub")
    assert counts["presence.present"] >= 3  # the first decision for each window is reported
    assert counts.get("agent.health", 0) >= 2  # each live camera's feed going "ok"
    print(f"presence records after {time.monotonic() - started:.1f} s: {counts}")


WINDOW_NAMES = [("W01", "1号窗口", "SCJG"), ("W02", "2号窗口", "SCJG"), ("W03", "3号窗口", "SCJG"),
                ("W04", "7号窗口", "ZRZY"), ("W05", "8号窗口", "ZRZY"), ("W06", "9号窗口", "ZRZY")]
DEPT_NAMES = [("SCJG", "市市场监督管理局"), ("ZRZY", "市自然资源局")]


def _name_windows(cluster: LocalCluster) -> None:
    """What the hub learns from cases (``sup_names``): the windows' names and departments."""
    conn = sqlite3.connect(cluster.hub_dir / "hub.sqlite", timeout=10)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS sup_names (kind TEXT NOT NULL, code TEXT NOT NULL, name TEXT, "
                     "dept_code TEXT, PRIMARY KEY (kind, code)) WITHOUT ROWID")
        conn.executemany("INSERT OR REPLACE INTO sup_names VALUES ('window', ?, ?, ?)", WINDOW_NAMES)
        conn.executemany("INSERT OR REPLACE INTO sup_names VALUES ('dept', ?, ?, NULL)", DEPT_NAMES)
        conn.commit()
    finally:
        conn.close()


def test_tiles_carry_department_and_windows_and_the_header_counts_the_playing_tiles(
        cluster: LocalCluster, browser: Any) -> None:
    _name_windows(cluster)
    page = signed_in(browser, cluster)
    page.goto(f"http://127.0.0.1:{cluster.http_port}/video")
    for camera in ("demo-hall-cam1", "demo-hall-cam2"):
        wait_playing(page, camera)
    labels = {c: page.inner_text(TILE.format(c) + " .video-name")
              for c in ("demo-hall-cam1", "demo-hall-cam2", "demo-hall-cam9")}
    assert labels["demo-hall-cam1"] == "市市场监督管理局 · 1号窗口、2号窗口、3号窗口"
    assert labels["demo-hall-cam2"] == "市自然资源局 · 7号窗口、8号窗口、9号窗口"
    assert labels["demo-hall-cam9"] == "W07、W08、W09"  # windows the hub knows no name of: their ids
    # two cameras play (the unplugged one's tile shows the agent's black picture: not counted)
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.feed === 'dead'",
                           arg=TILE.format("demo-hall-cam9"), timeout=20000)
    page.wait_for_function(
        """() => { const n = document.querySelectorAll('figure.video-tile[data-state=playing][data-feed=ok]').length;
            const s = document.getElementById('video-summary');
            return n === 2 && s.dataset.playing === '2' && s.textContent.includes('正在播放 2 路'); }""",
        timeout=15000)
    page.click(TILE.format("demo-hall-cam2"))  # the large view covers the wall: both still play
    page.wait_for_function("() => !document.getElementById('video-large').hidden", timeout=5000)
    page.wait_for_function("() => document.getElementById('video-summary').dataset.playing === '2'",
                           timeout=10000)
    shot = artifact_dir("video-wall") / "video-wall-labels.png"
    page.keyboard.press("Escape")
    page.screenshot(path=str(shot))
    page.close()


def test_a_tile_refused_as_offline_plays_again_without_a_reload(cluster: LocalCluster, browser: Any) -> None:
    """The hub once marked the agent offline (采集点离线) and refused to play it; when the heartbeats
    say it is back, the tile asks again at once, without a reload and without waiting out its
    backoff. The offline phase is played by intercepting the wall's two calls."""
    page = signed_in(browser, cluster)
    offline = {"on": True}

    def cameras(route: Any) -> None:
        response = route.fetch()
        wall = response.json()
        if offline["on"]:
            for hall in wall["halls"]:
                for cam in hall["cameras"]:
                    cam.update(state="offline", agent_online=False)
        route.fulfill(response=response, body=json.dumps(wall))

    def watch(route: Any) -> None:
        if offline["on"]:
            route.fulfill(status=503, content_type="application/json", body=json.dumps(
                {"error": "agent_offline", "detail": f"agent {AGENT} is offline"}))
        else:
            route.continue_()

    page.route("**/api/v1/video/cameras", cameras)
    page.route("**/api/v1/video/watch", watch)
    page.goto(f"http://127.0.0.1:{cluster.http_port}/video")
    page.wait_for_selector(TILE.format("demo-hall-cam1"), timeout=30000)
    # the first poll (5 s) says offline: the badge says 采集点离线, nothing plays
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.feed === 'offline'",
                           arg=TILE.format("demo-hall-cam1"), timeout=20000)
    assert page.inner_text(TILE.format("demo-hall-cam1") + " .badge") == "采集点离线"
    # its watch was refused as offline (as by a relay that kept the offline mark): the tile backs off
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.state === 'error'",
                           arg=TILE.format("demo-hall-cam1"), timeout=20000)
    offline["on"] = False  # the agent's heartbeat arrives: online again
    started = time.monotonic()
    wait_playing(page, "demo-hall-cam1", frames=5, timeout_ms=20000)
    took = time.monotonic() - started
    assert page.inner_text(TILE.format("demo-hall-cam1") + " .badge") == "正常"
    assert took < 12, f"the tile took {took:.1f} s to play again (its backoff, not the heartbeat)"
    page.close()


def test_the_snapshot_behind_a_presence_record_is_fetched_from_the_agent_and_verified(
        cluster: LocalCluster, browser: Any) -> None:
    """Through the real broker (the agent's own signalling topics and ACL): the hub asks the agent
    for the JPEG of a presence record, checks its SHA-256, serves it; a file altered on the agent
    is refused in words; both are in the audit log."""
    def record() -> tuple[int, str] | None:
        conn = cluster.hub_db()
        try:
            row = conn.execute("SELECT id, raw FROM records WHERE agent_id = ? AND type LIKE 'presence.%' "
                               "ORDER BY id LIMIT 1", (AGENT,)).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()
        return (int(row[0]), json.loads(row[1])["body"]["snapshot_ref"]) if row else None

    record_id, ref = wait_until(record, 60, message="no presence record reached the hub")
    page = signed_in(browser, cluster)
    base = f"http://127.0.0.1:{cluster.http_port}"
    started = time.monotonic()
    shown = page.goto(f"{base}/video/snapshot/{record_id}")
    took_ms = (time.monotonic() - started) * 1000
    assert shown is not None and shown.status == 200 and shown.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(shown.body()).hexdigest() == ref
    print(f"snapshot of {len(shown.body())} bytes fetched from the agent and verified in {took_ms:.0f} ms")
    # the file altered on the agent's disk: the hub refuses it and says why
    (path,) = (cluster.agent_dir(AGENT) / "data" / "snapshots").glob(f"*/{ref[:2]}/{ref}.jpg")
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-10] + b"\x00" * 10)
        refused = page.goto(f"{base}/video/snapshot/{record_id}")
        assert refused is not None and refused.status == 502
        assert "哈希不一致" in page.inner_text("main, body")
    finally:
        path.write_bytes(original)
    conn = cluster.hub_db()
    try:
        outcomes = [json.loads(d)["outcome"] for (d,) in conn.execute(
            "SELECT detail FROM audit_log WHERE action = 'video.snapshot' AND target = ? ORDER BY id",
            (f"record/{record_id}",))]
    finally:
        conn.close()
    assert outcomes == ["shown", "snapshot_mismatch"]
    page.close()
