"""The stock pxelinux image through the installed `compose`, with each gzip engine.

libdeflate writes gzip as members of whole entries; zlib (COMPOSER_DEFLATE=zlib, or no
libdeflate) as one pigz-style member. `--json` says which wrote the image, the images
differ in bytes and hold the same archive, and every member libdeflate wrote is a
valid gzip member that ends between two entries, as the kernel requires.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from pathlib import Path

from composer.archive.reader import InitramfsReader
from composer.image.s390 import parse_header
from under_test import compose

ROOT = Path(__file__).resolve().parents[2]


def build(sysroot: Path, out: Path, engine: str | None) -> tuple[dict[str, object], bytes]:
    env = dict(os.environ)
    env.pop("COMPOSER_DEFLATE", None)
    if engine is not None:
        env["COMPOSER_DEFLATE"] = engine
    done = compose(ROOT / "recipes/pxelinux.yaml", "--sysroot", sysroot, "-o", out,
                   "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    image = out.read_bytes()
    header = parse_header(image)
    return result, image[header.initrd_offset:header.initrd_offset + header.initrd_size]


def members(data: bytes) -> list[bytes]:
    found = []
    while data:
        z = zlib.decompressobj(31)
        z.decompress(data)
        assert z.eof
        found.append(data[: len(data) - len(z.unused_data)])
        data = z.unused_data
    return found


def listing(initramfs: bytes) -> list[tuple[str, int, int]]:
    return [(r.name, r.mode, r.size) for r in InitramfsReader(io.BytesIO(initramfs)).records()]


def test_each_engine_says_its_name_and_both_hold_the_same_archive(sysroot: Path,
                                                                 tmp_path: Path) -> None:
    fast, fast_initramfs = build(sysroot, tmp_path / "libdeflate.0", None)
    slow, slow_initramfs = build(sysroot, tmp_path / "zlib.0", "zlib")
    assert fast["compression"] == {"codec": "gzip", "level": 6, "threads": 2,
                                   "engine": "libdeflate"}
    assert slow["compression"] == {"codec": "gzip", "level": 6, "threads": 2,
                                   "engine": "zlib"}
    assert gzip.decompress(fast_initramfs) == gzip.decompress(slow_initramfs)
    assert len(members(slow_initramfs)) == 1
    parts = members(fast_initramfs)
    assert len(parts) > 1
    names = [name for part in parts for name, _, _ in listing(part)]
    assert names == [name for name, _, _ in listing(slow_initramfs)]
    assert len(fast_initramfs) < len(slow_initramfs)
