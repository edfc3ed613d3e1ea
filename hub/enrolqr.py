"""The enrolment token as a QR code (segno: pure Python, no imaging library).

The code holds :func:`hub.enroll.hall_command` — the whole command for the hall machine, hub address
and token included — so a handheld barcode scanner (it types like a keyboard) enters it into the
hall machine's terminal, and a phone's camera shows it to be read out or checked. Error correction
level M; the token is a secret while unused, so the picture is one too.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno

from shared.errors import ConfigError

#: Output formats by file suffix (``--qr FILE``).
SUFFIXES = (".png", ".svg")


def qr_code(text: str) -> segno.QRCode:
    return segno.make_qr(text, error="m")


def write_qr(text: str, path: Path) -> Path:
    """Write the QR code of ``text`` to ``path`` (PNG or SVG, by its suffix); ConfigError otherwise."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"--qr {path}: the file must end in .png or .svg (or use - for the terminal)")
    if suffix == ".png":
        qr_code(text).save(str(path), kind="png", scale=8, border=4)
    else:
        qr_code(text).save(str(path), kind="svg", scale=8, border=4, title="xiaoneng-agent enroll")
    return path


def terminal_qr(text: str) -> str:
    """The QR code drawn with block characters for a terminal (dark modules on a light border)."""
    out = io.StringIO()
    qr_code(text).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def inline_svg(text: str) -> str:
    """An ``<svg>`` element to put into a page as is (no outside resource, no inline style: the web
    UI's Content-Security-Policy allows it); scaled by CSS (class ``enrol-qr``)."""
    svg = qr_code(text).svg_inline(scale=4, border=4, svgclass="enrol-qr", lineclass=None, omitsize=True,
                                   light="#fff")
    return str(svg)
