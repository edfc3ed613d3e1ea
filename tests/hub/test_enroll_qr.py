"""The enrolment token's QR code: `xiaoneng-hub enroll create --qr FILE.png|FILE.svg|-` holds the whole
hall command, and decodes back to it exactly (OpenCV's QR detector, the video extra's dependency);
tokens listed and revoked from the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.enroll import TokenStore, hall_command
from hub.enrolqr import inline_svg, qr_code, terminal_qr
from hub.webtls import self_issued
from provisioning.registry import Registry
from shared.enrolment import parse_token

cv2 = pytest.importorskip("cv2", reason="OpenCV (the video extra) decodes the QR codes")
HUB_URL = "https://hub.xn.gov:8443"


def _decode_png(path: Path) -> str:
    image = cv2.imread(str(path))
    assert image is not None, path
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert points is not None, f"no QR code found in {path}"
    return str(text)


def _hub(tmp_path: Path) -> Path:
    data = tmp_path / "hub"
    data.mkdir()
    Registry(data / "hub.sqlite", password_iterations=1000).add_site("hall", "市民中心")
    self_issued(data, ["localhost"])  # the certificate the token pins
    return data


def _create(data: Path, agent: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.cli", "enroll", "create", "--data", str(data), "--site", "hall",
                           "--agent", agent, *extra], capture_output=True, text=True, timeout=60)


def test_png_qr_decodes_to_the_printed_command(tmp_path: Path) -> None:
    data = _hub(tmp_path)
    png = tmp_path / "pc-01.png"
    done = _create(data, "pc-01", "--hub-url", HUB_URL, "--qr", str(png))
    assert done.returncode == 0, done.stderr
    token = next(line for line in done.stdout.splitlines() if line.startswith("xn1."))
    command = hall_command(HUB_URL, token)
    assert f"  {command}\n" in done.stdout and str(png.resolve()) in done.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_mode & 0o077 == 0  # it holds the token: the owner's only
    assert _decode_png(png) == command
    assert parse_token(command.split("--token ")[1].split()[0]) == parse_token(token)


def test_svg_and_terminal_qr_hold_the_same_matrix(tmp_path: Path) -> None:
    data = _hub(tmp_path)
    svg = tmp_path / "pc-02.svg"
    done = _create(data, "pc-02", "--hub-url", HUB_URL, "--qr", str(svg))
    assert done.returncode == 0, done.stderr
    token = next(line for line in done.stdout.splitlines() if line.startswith("xn1."))
    command = hall_command(HUB_URL, token)
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text
    # the SVG is drawn from the same code as a PNG of the command, which decodes back to it
    png = tmp_path / "same.png"
    qr_code(command).save(str(png), kind="png", scale=8, border=4)
    assert _decode_png(png) == command
    assert _path_of(text) == _path_of(qr_code(command).svg_inline(scale=8, border=4))
    shown = _create(data, "pc-03", "--hub-url", HUB_URL, "--qr", "-")
    assert shown.returncode == 0, shown.stderr
    token3 = next(line for line in shown.stdout.splitlines() if line.startswith("xn1."))
    assert terminal_qr(hall_command(HUB_URL, token3)) in shown.stdout
    assert "▀" in shown.stdout or "▄" in shown.stdout


def _path_of(svg: str) -> str:
    match = re.search(r' d="([^"]+)"', svg)
    assert match, svg[:200]
    return match.group(1)


def test_qr_needs_the_hub_address_and_a_known_format(tmp_path: Path) -> None:
    data = _hub(tmp_path)
    no_url = _create(data, "pc-04", "--qr", str(tmp_path / "x.png"))
    assert no_url.returncode != 0 and "--qr needs --hub-url" in no_url.stderr
    bad = _create(data, "pc-04", "--hub-url", HUB_URL, "--qr", str(tmp_path / "x.jpg"))
    assert bad.returncode != 0 and ".png or .svg" in bad.stderr
    assert TokenStore(data / "hub.sqlite").outstanding() == []  # refused before any token was made
    unwritable = _create(data, "pc-04", "--hub-url", HUB_URL, "--qr", str(tmp_path / "missing" / "x.png"))
    assert unwritable.returncode != 0 and "QR code not written (the token above is valid)" in unwritable.stderr
    assert "xn1." in unwritable.stdout


def test_inline_svg_for_the_page_scales_by_css() -> None:
    svg = inline_svg("sudo xiaoneng-agent enroll --hub https://h:8443 --token xn1.a.b")
    assert svg.startswith('<svg viewBox="0 0 ') and 'class="enrol-qr"' in svg
    assert "style" not in svg and "href" not in svg and "width=" not in svg  # nothing the page's CSP refuses


def test_list_and_revoke_from_the_command_line(tmp_path: Path) -> None:
    data = _hub(tmp_path)
    assert _create(data, "pc-05").returncode == 0
    assert _create(data, "pc-06").returncode == 0
    listed = subprocess.run([sys.executable, "-m", "hub.cli", "enroll", "list", "--data", str(data)],
                            capture_output=True, text=True, timeout=60)
    lines = listed.stdout.splitlines()
    assert [line.split("\t")[2] for line in lines] == ["pc-05", "pc-06"] and "xn1." not in listed.stdout
    first = lines[0].split("\t")[0]
    revoked = subprocess.run([sys.executable, "-m", "hub.cli", "enroll", "revoke", "--data", str(data), first],
                             capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0 and "pc-05" in revoked.stdout
    again = subprocess.run([sys.executable, "-m", "hub.cli", "enroll", "revoke", "--data", str(data), first],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "not outstanding" in again.stderr
    assert [t.agent_id for t in TokenStore(data / "hub.sqlite").outstanding()] == ["pc-06"]
    outcomes = [row[3] for row in TokenStore(data / "hub.sqlite").audit_rows()]
    assert outcomes == ["created", "created", "revoked"]
