"""The archive reader's memory on a gigabyte initramfs, plain and zstd-compressed, measured in
a fresh interpreter (the reader's other tests are tests/unit/test_reader.py)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from composer.cpio import pack_header
from hostile.corpus import archive, entry
from under_test import PYTHON

MEASURE = textwrap.dedent("""
    import sys, time
    from composer.archive.reader import InitramfsReader, Limits
    start = time.monotonic()
    total = 0
    with open(sys.argv[1], "rb") as f:
        reader = InitramfsReader(f, limits=Limits(max_ratio=10**9))
        for member in reader:
            if sys.argv[2] == "read":
                total += sum(len(c) for c in member.chunks())
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec.
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(total, peak, time.monotonic() - start)
""")


def _measure(path: Path, mode: str) -> tuple[int, int, float]:
    result = subprocess.run([PYTHON, "-c", MEASURE, str(path), mode], cwd=path.parent,
                            capture_output=True, text=True, timeout=120, check=True)
    total, rss_kib, seconds = result.stdout.split()
    return int(total), int(rss_kib), float(seconds)


@pytest.mark.slow
def test_a_gigabyte_initramfs_is_listed_and_read_in_bounded_memory(tmp_path: Path) -> None:
    gib = 1 << 30
    head = pack_header(ino=1, mode=0o100644, uid=0, gid=0, nlink=1, mtime=0, size=gib,
                       rmajor=0, rminor=0, name=b"huge.img")
    tail = archive(entry(b"after", data=b"still here"))
    plain = tmp_path / "plain.cpio"
    with open(plain, "wb") as f:  # sparse: the gigabyte costs no disk
        f.write(head)
        f.seek(gib, os.SEEK_CUR)
        f.write(tail)
    _, rss_kib, seconds = _measure(plain, "list")
    assert rss_kib < 48_000 and seconds < 10, (rss_kib, seconds)
    packed = tmp_path / "packed.cpio.zst"
    with open(packed, "wb") as out:
        zstd = subprocess.Popen(["zstd", "-q", "-1", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert zstd.stdin is not None
        zstd.stdin.write(head)
        chunk = bytes(8 << 20)
        for _ in range(gib // len(chunk)):
            zstd.stdin.write(chunk)
        zstd.stdin.write(tail)
        zstd.stdin.close()
        assert zstd.wait(timeout=120) == 0
    assert packed.stat().st_size < 1 << 20
    total, rss_kib, seconds = _measure(packed, "read")
    assert total == gib + len(b"still here")
    assert rss_kib < 48_000, rss_kib
