"""Fuzzing: whatever the bytes, the reader and the s390 header reader answer with a
result or an InputError, never another exception, and always in bounded time.

Hypothesis drives three attacks: random bytes, real archives (every codec, written by
the real tools) with bytes flipped and tails cut, and s390 images with arbitrary parm
area fields. The example counts keep the whole file to a few seconds in CI; set
COMPOSER_FUZZ_EXAMPLES to fuzz longer (`COMPOSER_FUZZ_EXAMPLES=20000 pytest ...`).
"""

from __future__ import annotations

import functools
import io
import os
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.archive.reader import InitramfsReader, Limits
from composer.errors import InputError
from composer.read.inspect import inspect_file
from hostile.corpus import LINK, archive, entry
from hostile.makers import COMPRESSORS, compress, s390_image

LIMITS = Limits(max_size=16 << 20, max_ratio=1000, ratio_floor=1 << 20)
FUZZ = settings(max_examples=int(os.environ.get("COMPOSER_FUZZ_EXAMPLES", "150")),
                deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def bases() -> list[bytes]:
    plain = archive(entry(b".", mode=0o040755), entry(b"bin", mode=0o040755),
                    entry(b"bin/busybox", data=os.urandom(3000), mode=0o100755),
                    entry(b"bin/sh", mode=LINK, data=b"busybox"),
                    entry(b"etc/motd", data=b"welcome\n" * 40, nlink=2, ino=9),
                    entry(b"etc/motd2", data=b"", nlink=2, ino=9))
    crc = bytearray(plain)
    crc[5:6] = b"2"  # first header becomes a crc one (a directory: checksum 0 is right)
    return [plain, bytes(crc)] + [compress(plain, codec) for codec in sorted(COMPRESSORS)]


def read_everything(data: bytes) -> int:
    """Entries read, or -1 for a clean refusal; anything else escapes and fails."""
    try:
        count = 0
        for member in InitramfsReader(io.BytesIO(data), limits=LIMITS):
            for _ in member.chunks(1 << 16):
                pass
            count += 1
        return count
    except InputError as error:
        assert str(error)
        return -1


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    read_everything(data)


@FUZZ
@given(st.binary(max_size=600).map(lambda tail: b"070701" + tail))
def test_random_bytes_behind_a_cpio_magic(data: bytes) -> None:
    read_everything(data)


@FUZZ
@given(base=st.integers(0, len(bases()) - 1),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                      max_size=6),
       cut=st.none() | st.floats(0, 1))
def test_real_archives_with_flipped_bytes_and_cut_tails(
        base: int, flips: list[tuple[float, int]], cut: float | None) -> None:
    data = bytearray(bases()[base])
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    if cut is not None:
        del data[int(cut * len(data)):]
    read_everything(bytes(data))


@FUZZ
@given(names=st.lists(st.binary(min_size=1, max_size=40).filter(
           lambda n: b"\0" not in n and n != b"TRAILER!!!"), min_size=1, max_size=5),
       blobs=st.lists(st.binary(max_size=300), min_size=5, max_size=5))
def test_what_the_writer_wrote_reads_back(names: list[bytes], blobs: list[bytes]) -> None:
    data = archive(*(entry(name, data=blob) for name, blob in zip(names, blobs, strict=False)))
    members = [(m.record.name, m.read()) for m in InitramfsReader(io.BytesIO(data))]
    assert members == [(os.fsdecode(n), b) for n, b in zip(names, blobs, strict=False)]


U64 = st.integers(0, 2**64 - 1)


@FUZZ
@given(fields=st.fixed_dictionaries({0x10408: U64, 0x10410: U64, 0x10428: U64,
                                     0x10430: U64}, optional={}),
       small=st.lists(st.sampled_from([0x10408, 0x10410, 0x10428, 0x10430]), max_size=4),
       cmdline=st.binary(max_size=64), cut=st.none() | st.integers(0, 0x14000))
def test_s390_header_reader(fields: dict[int, int], small: list[int], cmdline: bytes,
                            cut: int | None) -> None:
    image = bytearray(s390_image(archive(entry(b"init", data=b"#!/bin/sh\n"))))
    for offset, value in fields.items():
        # Small values matter more than huge ones: keep some inside the file.
        struct.pack_into(">Q", image, offset, value % len(image) if offset in small else value)
    image[0x10480:0x10480 + len(cmdline)] = cmdline
    if cut is not None:
        del image[cut:]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image"
        path.write_bytes(image)
        try:
            inspect_file(path, LIMITS)
        except InputError as error:
            assert str(error)
