"""The Chinese font the report PDF embeds.

WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``; Zen Hei from ``fonts-wqy-zenhei`` also works)
has TrueType outlines, which reportlab embeds as a subset: the file shows the same on every
machine, and its text stays extractable (``pdftotext`` gives the department names back).
reportlab cannot embed the CFF-outline Noto CJK fonts, and its CID font ``STSong-Light`` is never
embedded (the reader has to supply the glyphs) — so without a WenQuanYi font the PDF is refused
with :class:`ReportFontMissing`, which names the package to install, rather than made unembedded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from shared.errors import XiaonengError

FONT = "XiaonengCJK"
#: Embeddable CJK fonts, the first one installed wins: (path, index of the face in a .ttc collection).
FONT_FILES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)
FONT_PACKAGE = "fonts-wqy-microhei"


class ReportFontMissing(XiaonengError):
    """No embeddable Chinese font on this machine: the PDF cannot be made."""


def font_file(candidates: Sequence[tuple[str, int]] = FONT_FILES) -> tuple[Path, int]:
    """The first installed font of ``candidates``; :class:`ReportFontMissing` naming the package if none."""
    for path, index in candidates:
        if Path(path).is_file():
            return Path(path), index
    tried = ", ".join(path for path, _ in candidates)
    raise ReportFontMissing(
        f"月报 PDF 需要嵌入中文字体，但本机没有 {tried}：请安装 Debian 软件包 {FONT_PACKAGE}"
        f"（apt-get install {FONT_PACKAGE}，或以 root 运行 scripts/system-deps.sh）。"
        f" The report PDF embeds a Chinese TrueType font and none is installed: install the Debian package"
        f" {FONT_PACKAGE}."
    )


def register_font(candidates: Sequence[tuple[str, int]] = FONT_FILES) -> str:
    """Register the embeddable font with reportlab (once) and return its name."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        path, index = font_file(candidates)
        pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=index))
    return FONT
