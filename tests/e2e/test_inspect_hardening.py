"""inspect/extract/diff inputs that would block or take minutes: issue 14, class 9."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from under_test import compose


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return compose(*args, cwd=cwd, timeout=60)


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "image")
    for command in (["inspect", "image"], ["extract", "image", "dest"],
                    ["diff", "image", "image"]):
        start = time.monotonic()
        run = _run(*command, cwd=tmp_path)
        assert time.monotonic() - start < 30
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith("compose: error: image is a FIFO (named pipe)"), run.stderr
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").iterdir())


def test_a_huge_sparse_file_of_zeros_is_skipped_not_read(tmp_path: Path) -> None:
    """64 GB of holes: NUL padding to the kernel, so an empty initramfs; at the speed of
    reading zeros it took minutes, over the holes it is instant."""
    with open(tmp_path / "sparse.img", "wb") as f:
        f.truncate(64 << 30)
    start = time.monotonic()
    run = _run("inspect", "--json", "sparse.img", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - start < 20
    data = json.loads(run.stdout)
    assert (data["type"], data["size"], data["entries"]) == ("initramfs", 64 << 30, [])
