"""Shared fixtures.

`sysroot`: the real Debian s390x sysroot that scripts/fetch-sysroot downloads into
~/.cache/composer/sysroot-s390x (fast when cached). Tests that need it are marked
`@pytest.mark.sysroot` and are skipped, with apt's reason, when it cannot be fetched;
with COMPOSER_REQUIRE_SYSROOT=1 (CI) that is a failure instead.

Tests by kind: tests/unit imports the code and calls it (a quick loop: `python -m pytest
tests/unit`); tests/e2e runs the `compose` under test (tests/under_test.py; COMPOSER_UNDER_TEST
picks an installed one), the real sysroot, QEMU, and unit tests too slow for the quick loop.
Every test under tests/e2e is marked `e2e` here, every test that takes the `sysroot` fixture
`sysroot`, and every QEMU boot `slow`; a test under tests/unit that runs `compose`, needs the
sysroot or boots QEMU is a usage error naming it, so the quick loop stays quick. The helpers
(elffactory, kernelfactory, modtree, the servers, bad/, hostile/, recipes/) stay in tests/,
which pyproject.toml's `pythonpath` puts on sys.path for both directories.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

import budget  # noqa: F401  (registers the ci and quick profiles)
import under_test
from bootscripts import applet_links

# The quick loop by default; scripts/test passes --hypothesis-profile=ci (tests/budget.py).
settings.load_profile("quick")

TESTS = Path(__file__).resolve().parent
UNIT = TESTS / "unit"
E2E = TESTS / "e2e"
FETCH_SYSROOT = TESTS.parent / "scripts" / "fetch-sysroot"


def pytest_configure(config: pytest.Config) -> None:
    chosen = under_test.UNDER_TEST
    if chosen and not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
        raise pytest.UsageError(f"COMPOSER_UNDER_TEST={chosen} is not an executable file "
                                "(expected the compose of an installed composer)")


def _runs_compose(module: object) -> bool:
    names = vars(module).values()
    return any(v is under_test or v is under_test.compose or v is under_test.COMPOSE
               or v is under_test.PYTHON for v in names)


def _not_a_unit_test(item: pytest.Item) -> str:
    """Why ITEM belongs in tests/e2e, or "" when it is a unit test."""
    module = getattr(item, "module", None)
    if module is not None and _runs_compose(module):
        return "runs compose"
    if "sysroot" in getattr(item, "fixturenames", ()):
        return "needs the sysroot"
    if item.get_closest_marker("qemu") is not None:
        return "boots QEMU"
    return ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    misplaced: list[str] = []
    for item in items:
        if "sysroot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sysroot)
        if item.get_closest_marker("qemu") is not None:
            item.add_marker(pytest.mark.slow)
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
        elif UNIT in item.path.parents and (reason := _not_a_unit_test(item)):
            misplaced.append(f"{item.nodeid} ({reason})")
    if misplaced:
        raise pytest.UsageError(
            "tests/unit holds only tests that import the code and call it (the quick loop); "
            "these belong in tests/e2e: " + ", ".join(misplaced))


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


@pytest.fixture(scope="session")
def applets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH directory of busybox applet links, as the image has them (the tests of the
    boot scripts put it first, so `wget`, `tftp`, `udhcpc` are busybox's)."""
    return applet_links(tmp_path_factory.mktemp("applets"))
