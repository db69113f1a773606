"""The archive stage streams: peak memory stays flat as the image grows.

A regression that holds a whole file (or the whole archive) in memory passes every
functional test and only shows on a big image, so these compose a few hundred MB from
generated files, in a fresh process, and read its peak RSS. The big files are sparse
(no disk cost, and a real read of every byte all the same); a few thousand small ones
go through the batched path. Also here: a failure in the middle of the stream ends the
build cleanly instead of hanging the compressor thread.
"""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest

from under_test import PYTHON, compose

# Every test composes hundreds of megabytes (the content fixture writes ~470 MB).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
PEAK_LIMIT_KIB = 150 * 1024  # issue 8: under 150 MB for a 500 MB image
GROWTH_LIMIT_KIB = 32 * 1024  # ten times the content may not cost more than this
# libzstd's multithreaded mode keeps a round buffer and one output buffer per job in
# flight (8 MiB jobs at level 3): on incompressible input that alone is about 100 MB,
# however big the image, and how much of it is touched depends on thread timing.
ZSTD_THREADS_LIMIT_KIB = 224 * 1024

# Runs the real command line in-process, then reports the process's own high-water mark
# (VmHWM: ru_maxrss would carry the parent's peak across fork and exec).
MEASURE = """\
import sys
from composer.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print(code, peak)
"""


def make_content(directory: Path, big_files: int, big_size: int, small_files: int) -> list[str]:
    """Recipe lines for sparse big files and small random ones (fixed seed)."""
    directory.mkdir()
    rng = random.Random(8)
    lines = []
    for i in range(big_files):
        path = directory / f"big{i}.bin"
        with open(path, "wb") as f:
            f.write(rng.randbytes(4096))  # not all zeros, so compressors do some work
            f.truncate(big_size)
        lines.append(f"  - {{path: /data/big{i}.bin, source: {path}}}")
    for i in range(small_files):
        path = directory / f"small{i}.bin"
        path.write_bytes(rng.randbytes(rng.randrange(0, 32 << 10)))
        lines.append(f"  - {{path: /data/small/{i}.bin, source: {path}}}")
    return lines


def recipe(tmp_path: Path, name: str, codec: str, lines: list[str]) -> Path:
    compression = "{codec: zstd, threads: 2}" if codec == "zstd-threads" else codec
    path = tmp_path / f"{name}-{codec}.yaml"
    path.write_text(f"compression: {compression}\nfiles:\n" + "\n".join(lines) + "\n")
    return path


def content_root(lines: list[str]) -> Path:
    """The directory the content fixture wrote into (outside each test's recipe
    directory, so the build is allowed to read it: --allow-path)."""
    return Path(lines[0].split("source: ")[1].rstrip("}")).parent.parent


def peak_kib(recipe_path: Path, output: Path, content: list[str]) -> int:
    done = subprocess.run([PYTHON, "-c", MEASURE, str(recipe_path), "--initramfs",
                           str(output), "--allow-path", str(content_root(content))],
                          cwd=output.parent, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    code, peak = done.stdout.splitlines()[-1].split()
    assert code == "0", done.stderr
    return int(peak)


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    base = tmp_path_factory.mktemp("memory")
    small = make_content(base / "small", big_files=1, big_size=32 * MIB, small_files=1500)
    large = make_content(base / "large", big_files=10, big_size=40 * MIB, small_files=1500)
    return small, large


@pytest.mark.parametrize("codec", ["none", "zstd", "gzip"])
def test_peak_memory_stays_flat_as_the_image_grows(
        tmp_path: Path, content: tuple[list[str], list[str]], codec: str) -> None:
    small, large = content
    small_out, large_out = tmp_path / "small.img", tmp_path / "large.img"
    small_peak = peak_kib(recipe(tmp_path, "small", codec, small), small_out, small)
    large_peak = peak_kib(recipe(tmp_path, "large", codec, large), large_out, large)
    if codec == "none":
        assert large_out.stat().st_size > 400 * MIB
    assert large_peak < PEAK_LIMIT_KIB, (small_peak, large_peak)
    assert large_peak - small_peak < GROWTH_LIMIT_KIB, (small_peak, large_peak)


def test_zstd_worker_threads_cost_a_bounded_amount(
        tmp_path: Path, content: tuple[list[str], list[str]]) -> None:
    _, large = content
    peak = peak_kib(recipe(tmp_path, "large", "zstd-threads", large), tmp_path / "large.img",
                    large)
    assert peak < ZSTD_THREADS_LIMIT_KIB, peak


def test_the_big_image_holds_every_byte(tmp_path: Path,
                                        content: tuple[list[str], list[str]]) -> None:
    """The streamed copy is the data, not just the right length."""
    _, large = content
    out = tmp_path / "large.img"
    peak_kib(recipe(tmp_path, "large", "zstd-threads", large), out, large)
    listing = subprocess.run(f"zstd -dcq < {out} | cpio -itv --quiet", shell=True,
                             capture_output=True, text=True, check=True).stdout
    sizes = {line.split()[-1]: int(line.split()[4]) for line in listing.splitlines()
             if line.startswith("-")}
    assert sizes["data/big9.bin"] == 40 * MIB
    source = Path(large[9].split("source: ")[1].rstrip("}"))
    extracted = subprocess.run(f"zstd -dcq < {out} | cpio -i --quiet --to-stdout "
                               "data/big9.bin | sha256sum", shell=True, capture_output=True,
                               text=True, check=True).stdout.split()[0]
    expected = subprocess.run(["sha256sum", str(source)], capture_output=True, text=True,
                              check=True).stdout.split()[0]
    assert extracted == expected


def test_a_source_that_changes_size_mid_build_fails_cleanly(tmp_path: Path) -> None:
    """The compressor runs on a worker thread; a failure on the reading side must stop
    it, leave no partial output, and not hang the process. A /proc file is the
    deterministic case: a regular file of size 0 that yields bytes when read."""
    lines = make_content(tmp_path / "data", big_files=2, big_size=8 * MIB, small_files=200)
    lines.append("  - {path: /zz/status, source: /proc/self/status}")
    path = recipe(tmp_path, "r", "gzip", lines)
    out = tmp_path / "initrd"
    out.write_bytes(b"previous image")
    done = compose(path, "--initramfs", out, "--allow-path", "/proc", cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    assert re.search(r"/proc/\w+/status changed size while being archived", done.stderr)
    assert "cannot write" not in done.stderr  # the input changed, not the output
    assert "Traceback" not in done.stderr
    assert out.read_bytes() == b"previous image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "initrd", "r-gzip.yaml"]
