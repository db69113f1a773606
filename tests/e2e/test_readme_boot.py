"""The README's boot example, as written: the first shell block of "Using it", run by
/bin/sh in an empty directory where `compose` is the one under test (the installed
wheel in CI) and nothing else of the checkout is at hand."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from under_test import COMPOSE

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## Using it", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "README: no ```sh block under 'Using it'"
    return block.group(1)


def test_the_example_boots_into_the_second_stage_only_there() -> None:
    """What the README promises of its example, checked without running it."""
    text = readme_example()
    assert "compose boot" in text and "@kernel" in text and "@stage2" in text
    marker = re.search(r"--expect '([^']+)'", text)
    assert marker is not None and marker.group(1) == "STAGE2-CMDLINE<"
    stock = (Path(__file__).resolve().parents[2] / "recipes" / "stage2.yaml").read_text()
    assert "{{ marker }}<" in stock and "marker: STAGE2-CMDLINE" in stock
    sample = README.read_text().split("## Using it", 1)[1]
    assert "(timeout 120 s)" in sample  # compose boot's default --timeout


@pytest.mark.slow
@pytest.mark.qemu
def test_the_readme_boot_example_runs_as_written(tmp_path: Path, sysroot: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "compose"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(shlex.quote(str(a)) for a in COMPOSE)
                       + ' "$@"\n')
    wrapper.chmod(0o755)
    empty = tmp_path / "work"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("COMPOSER_SYSROOT", "PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    start = time.monotonic()
    done = subprocess.run(["sh", "-e", "-c", readme_example()], cwd=empty, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "pxeboot: starting kernel vmlinuz-" in done.stdout  # the first stage kexec'd
    second = done.stdout.split("pxeboot: starting kernel", 1)[1]
    assert re.search(r"^STAGE2-CMDLINE<.*console=ttysclp0 hello=world.*>$", second, re.M)
    assert sorted(p.name for p in empty.iterdir()) == ["pxelinux.0"]
    print(f"README example: {seconds:.0f} s")
