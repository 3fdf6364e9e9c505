"""Where deface lives for the comparisons (it is never installed into this project's environment).

deface (https://github.com/ORB-HD/deface) is installed in a virtual environment of its own, e.g.

    python3 -m venv /work/deface-venv && /work/deface-venv/bin/pip install deface==1.5.0

and named by its ``deface`` executable: ``--deface PATH``, else the environment variable ``BTB_DEFACE``, else
``deface`` on the PATH. Scripts that need deface's Python classes run ``deface_detect.py`` with the Python
interpreter beside that executable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INSTALL_HINT = ("install deface in a virtual environment of its own: python3 -m venv /work/deface-venv && "
                "/work/deface-venv/bin/pip install deface==1.5.0; then pass --deface /work/deface-venv/bin/deface "
                "or set BTB_DEFACE")


def cache_dir() -> Path:
    """Where benchmark inputs made from the shared clips and deface's boxes are kept: outside the repository
    (they show or locate faces in licensed clips). ``$BTB_BENCH_CACHE``, else ``~/.cache/btb-benchmarks``."""
    if os.environ.get("BTB_BENCH_CACHE"):
        return Path(os.environ["BTB_BENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "btb-benchmarks"


def add_deface_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--deface", type=Path, default=os.environ.get("BTB_DEFACE") or shutil.which("deface"),
                    help="deface executable of its own virtual environment (default: $BTB_DEFACE, else deface on "
                    "the PATH)")


def deface_executable(path: Path | str | None) -> Path:
    if not path or not Path(path).is_file():
        raise SystemExit(f"deface not found ({path}): {INSTALL_HINT}")
    return Path(path).absolute()  # not resolved: bin/python of a venv is a symlink to the base interpreter


def deface_python(exe: Path) -> Path:
    """The interpreter of deface's virtual environment (beside its executable)."""
    py = exe.parent / "python"
    if not py.exists():
        raise SystemExit(f"no python beside {exe}: {INSTALL_HINT}")
    return py


def deface_info(exe: Path) -> dict[str, Any]:
    """deface's version, the backend its default ``--backend auto`` picks, and the packages that decide speed."""
    code = ("import json, importlib.metadata as m, importlib.util as u\n"
            "from deface import __version__\n"
            "ort = u.find_spec('onnx') is not None and u.find_spec('onnxruntime') is not None\n"
            "pk = {}\n"
            "for n in ('deface', 'opencv-python', 'opencv-python-headless', 'onnxruntime', 'numpy', "
            "'imageio-ffmpeg'):\n"
            "    try: pk[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "import imageio_ffmpeg\n"
            "print(json.dumps({'version': __version__, 'default_backend': 'onnxrt' if ort else 'opencv', "
            "'packages': pk, 'ffmpeg': imageio_ffmpeg.get_ffmpeg_exe(), "
            "'ffmpeg_version': imageio_ffmpeg.get_ffmpeg_version()}))\n")
    out = subprocess.run([str(deface_python(exe)), "-c", code], capture_output=True, text=True, check=True)
    return {"executable": str(exe), **json.loads(out.stdout)}
