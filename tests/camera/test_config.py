"""Camera profiles: the shipped sample loads; anything unknown or wrong is refused by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.camera.config import load_profile, load_profiles, parse_profile
from agent.camera.synthetic import SyntheticScene
from shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "firmware_configs" / "cameras" / "demo-hall-cam1.yaml"


def base() -> dict[str, Any]:
    return {
        "camera_id": "c1", "hall_id": "h1",
        "source": {"kind": "rtsp", "url": "rtsp://user:pw@10.0.0.5/stream1"},
        "windows": [{"window_id": "W01", "rect": [0, 0, 100, 100]}],
        "queue": {"rect": [0, 200, 640, 280], "threshold": 5},
    }


def test_sample_profile_matches_the_synthetic_hall() -> None:
    profile = load_profile(SAMPLE)
    scene = SyntheticScene(*profile.size, windows=profile.source.windows)
    assert [w.rect for w in profile.windows] == list(scene.window_regions)
    assert profile.queue is not None and profile.queue.rect == scene.queue_region
    assert profile.source.kind == "synthetic" and profile.fps == 15 and profile.size == (640, 480)
    assert profile.presence.absent_after == 60 and profile.queue.params.threshold == 5
    # the sample hall, and the demo's three departments' cameras over their own windows
    assert sorted(p.camera_id for p in load_profiles(SAMPLE.parent)) == [
        "demo-hall-cam1", "scjg-w1-3", "sthj-w12-14", "zrzy-w7-9"]


def test_defaults() -> None:
    profile = parse_profile(base())
    assert profile.source.target.startswith("rtsp://") and profile.source.transport == "tcp"
    assert profile.analysis_fps == 5 and profile.watchdog.dead_after == 2.0


@pytest.mark.parametrize("path, mutate", [
    ("colour", lambda d: d.update(colour=1)),
    ("source.user", lambda d: d["source"].update(user="x")),
    ("source.loop", lambda d: d["source"].update(loop=True)),  # loop is for files, not RTSP
    ("windows[0].rct", lambda d: d["windows"][0].update(rct=[0, 0, 1, 1])),
    ("queue.treshold", lambda d: d["queue"].update(treshold=3)),
    ("presence.absent_after", lambda d: d.update(presence={"absent_after": 60})),
    ("watchdog.dead_s", lambda d: d.update(watchdog={"dead_s": 1})),
    ("snapshots.dir", lambda d: d.update(snapshots={"dir": "/tmp"})),
])
def test_unknown_keys_name_the_key_and_the_file(tmp_path: Path, path: str, mutate: Any) -> None:
    raw = base()
    mutate(raw)
    file = tmp_path / "cam.yaml"
    file.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_profile(file)
    assert str(err.value).startswith(f"{file}: {path}: unknown key (allowed: ")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("camera_id"), "camera_id: required key is missing"),
    (lambda d: d.update(camera_id="a b"), "camera_id: 'a b' is not an id"),
    (lambda d: d.update(fps="15"), "fps: must be int"),
    (lambda d: d.update(fps=True), "fps: must be int"),
    (lambda d: d.update(size=[640]), "size: must be [width, height]"),
    (lambda d: d["source"].update(kind="usb"), "source.kind: must be one of"),
    (lambda d: d["source"].update(url="http://x"), "source.url: 'http://x' is not an rtsp:// URL"),
    (lambda d: d["windows"][0].update(rect=[600, 0, 100, 100]), "windows[0].rect: [600, 0, 100, 100] lies outside"),
    (lambda d: d["windows"][0].update(rect=[0, 0, 0, 10]), "windows[0].rect: invalid rectangle"),
    (lambda d: d["windows"][0].update(rect=[0, 0, 1.5, 10]), "windows[0].rect: must be [x, y, w, h] integers"),
    (lambda d: d["windows"].append({"window_id": "W01", "rect": [0, 0, 5, 5]}),
     "windows[1].window_id: 'W01' appears twice"),
    (lambda d: d["queue"].pop("threshold"), "queue.threshold: required key is missing"),
    (lambda d: d.update(presence={"absent_after_s": 1}), "presence: absent_after must be longer"),
    (lambda d: d.update(analysis_fps=30), "analysis_fps: 30 is not 1..fps (15)"),
    (lambda d: d.update(windows={}), "windows: must be a list"),
])
def test_wrong_values_are_refused(mutate: Any, message: str) -> None:
    raw = base()
    mutate(raw)
    with pytest.raises(ConfigError, match="^cam.yaml: ") as err:
        parse_profile(raw, "cam.yaml")
    assert message in str(err.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera_id: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="profile: must be a mapping"):
        load_profile(bad)


def test_duplicate_camera_ids_across_files(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump(base()))
    with pytest.raises(ConfigError, match=r"b\.yaml: camera_id: 'c1' is also used by .*a\.yaml"):
        load_profiles(tmp_path)


def test_file_source_path_is_relative_to_the_profile(tmp_path: Path) -> None:
    raw = base()
    raw["source"] = {"kind": "file", "path": "clips/hall.mp4"}
    file = tmp_path / "cam.yaml"
    file.write_text(yaml.safe_dump(raw))
    assert load_profile(file).source.target == str(tmp_path / "clips" / "hall.mp4")


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.camera.__main__ import main

    assert main(["validate", str(SAMPLE)]) == 0
    assert "ok (demo-hall-cam1, 3 windows)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    raw = base()
    raw["windows"][0]["rct"] = [0, 0, 1, 1]
    bad.write_text(yaml.safe_dump(raw))
    assert main(["validate", str(SAMPLE), str(bad)]) == 1
    assert f"{bad}: windows[0].rct: unknown key" in capsys.readouterr().err
