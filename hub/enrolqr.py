"""The enrolment token as a QR code (segno: pure Python, no imaging library).

The code holds :func:`hub.enroll.hall_command` — the whole command for the hall machine, hub address
and token included — so a handheld barcode scanner (it types like a keyboard) enters it into the
hall machine's terminal, and a phone's camera shows it to be read out or checked. Error correction
level M; the token is a secret while unused, so the picture is one too.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import segno

from shared.errors import ConfigError

#: Output formats by file suffix (``--qr FILE``).
SUFFIXES = (".png", ".svg")


def qr_code(text: str) -> segno.QRCode:
    return segno.make_qr(text, error="m")


def write_qr(text: str, path: Path) -> Path:
    """Write the QR code of ``text`` to ``path`` (PNG or SVG, by its suffix), readable by its owner only
    (it holds a secret); ConfigError for another suffix or a file that cannot be written."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"--qr {path}: the file must end in .png or .svg (or use - for the terminal)")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
        with os.fdopen(fd, "wb") as out:
            if suffix == ".png":
                qr_code(text).save(out, kind="png", scale=8, border=4)
            else:
                qr_code(text).save(out, kind="svg", scale=8, border=4, title="xiaoneng-agent enroll")
    except OSError as exc:
        raise ConfigError(f"--qr {path}: cannot write it ({exc.strerror or exc})") from None
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
