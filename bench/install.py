"""The composer the bench runs: our wheel, installed the way a user installs it.

The installed tool is the product. The checkout's `.venv` holds composer *editable*:
every start runs setuptools' editable finder from a .pth file, and its bytecode is
whatever the checkout's __pycache__ holds (nothing, where PYTHONDONTWRITEBYTECODE is
set, as it is on this project's machines: then every run compiles all of composer
again). So once per bench run, scripts/build-wheel builds the wheel from the
checkout's sources, and pip installs it into a fresh virtual environment of the same
interpreter, compiling its bytecode at install time as it does for users. The
dependencies are the checkout venv's own (a .pth file points there), so both sides
run the very same Jinja2, PyYAML and zlib; only composer itself comes from the wheel.
The commands then run that environment's `compose` console script.

`--checkout` keeps the old way (`python -m composer` from the checkout), with the
bytecode cached in the work directory, for a quick run that needs no wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from bench.trees import REPO


def install_wheel(work: Path) -> Path:
    """Build and install the wheel under `work`; the path of its `compose` script."""
    dist, venv = work / "dist", work / "venv"
    built = subprocess.run([str(REPO / "scripts" / "build-wheel"), str(dist)], check=True,
                           stdout=subprocess.PIPE, text=True)
    wheel = built.stdout.strip().splitlines()[-1]
    base = Path(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # pip's --python installs into that interpreter, console script and bytecode included.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", wheel], check=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_path('purelib'))"],
                          check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site) / "composer-bench-dependencies.pth").write_text(
        "".join(f"{path}\n" for path in sorted(ours)))
    compose = venv / "bin" / "compose"
    check = subprocess.run([str(compose), "--version"], check=True, cwd=work,
                           stdout=subprocess.PIPE, text=True)
    print(f"  installed {Path(wheel).name} ({check.stdout.strip()}) into {venv}",
          file=sys.stderr, flush=True)
    return compose
