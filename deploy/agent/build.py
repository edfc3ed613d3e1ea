"""Build the one-file agent with PyInstaller: ``make agent-binary`` (or ``python deploy/agent/build.py``).

Two variants, one executable each, that run on a hall machine without Python:

- ``xiaoneng-agent`` — database capture only (SQLite, PostgreSQL via psycopg's bundled libpq,
  MySQL/MariaDB via PyMySQL): the OpenCV / aiortc / PyAV / numpy stack is left out;
- ``xiaoneng-agent-video`` — the same with cameras (OpenCV, aiortc, PyAV, numpy).

PyInstaller bundles the Python interpreter and every shared library it finds, but not the C library:
the executable needs a glibc at least as new as the one it was built against (printed by this script
as ``glibc_required``, from the versioned symbols of everything in the bundle). Build on the oldest
distribution the halls run.

Prints one JSON object: the files, their sizes in MB and the glibc they need.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENTRY = HERE / "entry.py"
sys.path.insert(0, str(ROOT))

from shared.version import VERSION  # noqa: E402

VIDEO_STACK = ("cv2", "aiortc", "aioice", "av", "numpy", "pylibsrtp", "pyee", "google_crc32c")
# Never needed by the agent; left out of both variants.
NOT_AGENT = ("tkinter", "hub", "simulator", "provisioning", "flask", "werkzeug", "jinja2", "reportlab",
             "openpyxl", "playwright", "pytest", "hypothesis", "mypy", "schemathesis", "chinese_calendar")
VARIANTS = {"db": "xiaoneng-agent", "video": "xiaoneng-agent-video"}


def pyinstaller_args(variant: str, dist: Path, work: Path) -> list[str]:
    args = ["--onefile", "--noconfirm", "--clean", "--log-level", "WARN", "--name", VARIANTS[variant],
            "--paths", str(ROOT), "--distpath", str(dist), "--workpath", str(work), "--specpath", str(work),
            # the database drivers are imported on demand (by URL), so PyInstaller cannot see them
            "--hidden-import", "psycopg", "--collect-submodules", "psycopg_binary",
            "--hidden-import", "pymysql"]
    excluded = NOT_AGENT + (VIDEO_STACK if variant == "db" else ())
    for module in excluded:
        args += ["--exclude-module", module]
    if variant == "video":
        args += ["--collect-submodules", "agent.camera", "--collect-data", "cv2"]
    return [*args, str(ENTRY)]


def glibc_required(executable: Path) -> str:
    """The newest GLIBC_x.y symbol version needed by the executable or any library in its bundle."""
    from PyInstaller.archive.readers import CArchiveReader

    reader = CArchiveReader(str(executable))
    newest = (0, 0)
    with tempfile.TemporaryDirectory(prefix="xn-agent-inspect-") as tmp:
        files = [executable]
        for i, name in enumerate(n for n in reader.toc if ".so" in n):
            path = Path(tmp) / f"{i}.so"
            path.write_bytes(reader.extract(name))
            files.append(path)
        for path in files:
            dump = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True, check=False)
            for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", dump.stdout):
                newest = max(newest, (int(major), int(minor)))
    return f"{newest[0]}.{newest[1]}"


def build(variant: str, dist: Path) -> dict[str, object]:
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xn-agent-build-") as work:
        cmd = [sys.executable, "-m", "PyInstaller", *pyinstaller_args(variant, dist, Path(work))]
        done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"PyInstaller failed for the {variant} variant:\n{done.stderr[-4000:]}")
    executable = dist / VARIANTS[variant]
    return {"file": str(executable), "size_mb": round(executable.stat().st_size / 2**20, 1),
            "glibc_required": glibc_required(executable)}


def bundle(variant: str, dist: Path) -> Path:
    """A tarball for the hall: the executable (as ``xiaoneng-agent``), install.sh and the systemd unit."""
    target = dist / f"{VARIANTS[variant]}-{VERSION}-linux-{platform.machine()}.tar.gz"
    top = target.name.removesuffix(".tar.gz")
    with tarfile.open(target, "w:gz") as tar:
        tar.add(dist / VARIANTS[variant], f"{top}/xiaoneng-agent")
        tar.add(HERE / "install.sh", f"{top}/install.sh")
        tar.add(ROOT / "deploy" / "systemd" / "xiaoneng-agent.service", f"{top}/xiaoneng-agent.service")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=("db", "video", "both"), default="both")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the executables go (dist/)")
    parser.add_argument("--no-bundle", action="store_true", help="only the executables, no tarballs")
    ns = parser.parse_args()
    variants = ("db", "video") if ns.variant == "both" else (ns.variant,)
    result: dict[str, dict[str, object]] = {}
    for variant in variants:
        result[variant] = build(variant, ns.dist)
        if not ns.no_bundle:
            result[variant]["bundle"] = str(bundle(variant, ns.dist))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
