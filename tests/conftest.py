"""Shared fixtures.

`sysroot`: the real Debian s390x sysroot that scripts/fetch-sysroot downloads into
~/.cache/composer/sysroot-s390x (fast when cached). Tests that need it are marked
`@pytest.mark.sysroot` and are skipped, with apt's reason, when it cannot be fetched;
with COMPOSER_REQUIRE_SYSROOT=1 (CI) that is a failure instead.

The `compose` the end-to-end tests run is tests/under_test.py's (COMPOSER_UNDER_TEST
picks an installed one); every test of a module that runs it is marked `e2e` here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import under_test

FETCH_SYSROOT = Path(__file__).resolve().parent.parent / "scripts" / "fetch-sysroot"


def pytest_configure(config: pytest.Config) -> None:
    chosen = under_test.UNDER_TEST
    if chosen and not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
        raise pytest.UsageError(f"COMPOSER_UNDER_TEST={chosen} is not an executable file "
                                "(expected the compose of an installed composer)")


def _runs_compose(module: object) -> bool:
    names = vars(module).values()
    return any(v is under_test or v is under_test.compose or v is under_test.COMPOSE
               for v in names)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and _runs_compose(module):
            item.add_marker(pytest.mark.e2e)


def _unavailable(reason: str) -> None:
    if os.environ.get("COMPOSER_REQUIRE_SYSROOT"):
        pytest.fail(f"{reason} (COMPOSER_REQUIRE_SYSROOT is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sysroot() -> Path:
    """Path of the fetched s390x sysroot (kernel, modules, busybox-static, kexec-tools)."""
    try:
        result = subprocess.run([sys.executable, str(FETCH_SYSROOT)], capture_output=True,
                                text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        _unavailable("no s390x sysroot: scripts/fetch-sysroot took more than 15 minutes")
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1:] or ["no output"]
        _unavailable(f"no s390x sysroot (scripts/fetch-sysroot failed: {reason[0]})")
    return Path(result.stdout.strip())
