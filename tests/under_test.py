"""The `compose` that the end-to-end tests run, one definition for the whole suite.

By default it is the composer of the Python running the tests (`python -m composer`: the
editable install of this checkout). COMPOSER_UNDER_TEST=/path/to/venv/bin/compose runs
the end-to-end tests against another one instead: scripts/test points it at the wheel it
built and installed into a fresh venv outside the checkout, so that what users install
is what is tested. Tests that call `compose` here are marked `e2e` (tests/conftest.py),
so `-m e2e` and `-m "not e2e"` split the suite between the two.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

UNDER_TEST = os.environ.get("COMPOSER_UNDER_TEST", "")
COMPOSE: list[str] = [UNDER_TEST] if UNDER_TEST else [sys.executable, "-m", "composer"]
# The Python that runs that compose (its venv's), for the tests that probe a fresh
# interpreter from inside (modules imported, peak memory). Run from a directory outside
# the checkout: `python -c` puts the working directory first on sys.path.
PYTHON = str(Path(UNDER_TEST).parent / "python") if UNDER_TEST else sys.executable


def compose(*args: object, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 300, input: str | None = None,
            preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `compose ARGS...`; the result's returncode, stdout and stderr are what a user sees."""
    return subprocess.run([*COMPOSE, *map(str, args)], cwd=cwd, env=env, input=input,
                          capture_output=True, text=True, timeout=timeout, check=False,
                          preexec_fn=preexec_fn)
