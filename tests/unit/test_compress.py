"""The initramfs compressors, called directly: every codec read back by its own command-line
decompressor (gzip, xz, zstd, lz4, bzip2: other implementations than the libraries that
wrote them), the options the kernel's decoders need, levels, threads, and the same bytes
for the same input. What the kernel itself reads is proven by the QEMU boots."""

from __future__ import annotations

import functools
import io
import random
import struct
import subprocess

import pytest

from composer.archive.codec import Codec, Compression, kernel_supports
from composer.archive.compress import BackgroundWriter, open_compressor
from composer.archive.lz4legacy import BLOCK as LZ4_LEGACY_BLOCK
from composer.archive.lz4legacy import MAGIC as LZ4_LEGACY_MAGIC
from composer.errors import InputError

DECOMPRESS = {
    Codec.GZIP: ["gzip", "-dc"],
    Codec.XZ: ["xz", "-dc"],
    Codec.ZSTD: ["zstd", "-dcq"],
    Codec.LZ4: ["lz4", "-dc"],
    Codec.LZMA: ["xz", "--format=lzma", "-dc"],
    Codec.BZIP2: ["bzip2", "-dc"],
}
CODECS = sorted(DECOMPRESS)


def levels(codec: Codec) -> tuple[int, int]:
    bounds = Compression(codec).format.levels
    assert bounds is not None, f"composer writes {codec}"
    return bounds


def sample(size: int, seed: int = 12) -> bytes:
    """Half text, half noise: compressible but not trivially (fixed seed)."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randrange(2, 9)).hex() for _ in range(300)]
    out = bytearray()
    while len(out) < size:
        out += " ".join(rng.choices(words, k=64)).encode() + b"\n" + rng.randbytes(256)
    return bytes(out[:size])


DATA = sample(160 << 10)  # more than one of parallel gzip's 128 KiB blocks


@functools.cache
def compressed(compression: Compression, data: bytes = DATA, pieces: int = 7) -> bytes:
    """What open_compressor writes for DATA fed in PIECES uneven writes, as a build does
    (cached: several tests look at the same stream)."""
    out = io.BytesIO()
    writer = open_compressor(compression, out)
    cuts = sorted(random.Random(pieces).sample(range(1, len(data)), pieces - 1))
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        writer.write(data[start:end])
    writer.close()
    return out.getvalue()


def decompress(codec: Codec, data: bytes) -> bytes:
    return subprocess.run(DECOMPRESS[codec], input=data, capture_output=True,
                          check=True).stdout


@pytest.mark.parametrize("codec", CODECS)
def test_each_codec_round_trips_through_its_own_decompressor(codec: Codec) -> None:
    packed = compressed(Compression(codec))
    assert len(packed) < len(DATA)
    assert decompress(codec, packed) == DATA


@pytest.mark.parametrize("codec", CODECS)
def test_the_same_input_gives_the_same_bytes_however_it_is_written(codec: Codec) -> None:
    assert compressed(Compression(codec), pieces=2) == compressed(Compression(codec), pieces=7)


@pytest.mark.parametrize("codec", CODECS)
def test_an_empty_stream_is_still_a_valid_one(codec: Codec) -> None:
    assert decompress(codec, compressed(Compression(codec), b"", pieces=1)) == b""


@pytest.mark.parametrize("threads", [0, 1, 2, 4])
def test_gzip_carries_no_time_or_name_whatever_the_thread_count(threads: int) -> None:
    packed = compressed(Compression(Codec.GZIP, threads=threads))
    # RFC 1952: ID1 ID2 CM=8, FLG 0 (no name, comment or extra), MTIME 0.
    assert packed[:4] == b"\x1f\x8b\x08\x00"
    assert packed[4:8] == bytes(4)


def test_threaded_gzip_is_the_same_for_any_thread_count() -> None:
    by_threads = {n: compressed(Compression(Codec.GZIP, threads=n)) for n in (1, 2, 4)}
    assert by_threads[1] == by_threads[2] == by_threads[4]
    assert decompress(Codec.GZIP, by_threads[2]) == DATA
    # independent blocks cost little ratio against one deflate stream
    assert len(by_threads[2]) < 1.05 * len(compressed(Compression(Codec.GZIP)))


def test_threaded_zstd_is_the_same_for_any_thread_count() -> None:
    two, three = (compressed(Compression(Codec.ZSTD, threads=n)) for n in (2, 3))
    assert two == three
    assert decompress(Codec.ZSTD, two) == DATA


def test_xz_uses_the_crc32_check_the_kernel_needs() -> None:
    packed = compressed(Compression(Codec.XZ))
    # .xz format: header magic, then the stream flags: 0x00 and the check type, 0x01 CRC32
    # (the kernel's xz_dec knows CRC32 and none, not the CRC64 that xz writes by default).
    assert packed[:6] == b"\xfd7zXZ\x00"
    assert packed[6:8] == b"\x00\x01"


def test_zstd_frames_carry_a_checksum() -> None:
    packed = compressed(Compression(Codec.ZSTD))
    assert packed[:4] == b"\x28\xb5\x2f\xfd"
    assert packed[4] & 0x04  # Frame_Header_Descriptor: Content_Checksum_flag


def lz4_blocks(packed: bytes) -> list[int]:
    """The compressed sizes of a legacy LZ4 frame's blocks."""
    assert struct.unpack_from("<I", packed) == (LZ4_LEGACY_MAGIC,)
    sizes, pos = [], 4
    while pos < len(packed):
        (size,) = struct.unpack_from("<I", packed, pos)
        sizes.append(size)
        pos += 4 + size
    assert pos == len(packed)
    return sizes


def test_lz4_is_the_legacy_frame_in_blocks_of_8_mib_at_most() -> None:
    """The kernel's unlz4 reads only the legacy frame (`lz4 -l`), 8 MiB of input per block."""
    big = (DATA * (LZ4_LEGACY_BLOCK // len(DATA) + 2))[: LZ4_LEGACY_BLOCK + 12345]
    packed = compressed(Compression(Codec.LZ4, level=1), big)
    assert len(lz4_blocks(packed)) == 2
    assert decompress(Codec.LZ4, packed) == big
    assert len(lz4_blocks(compressed(Compression(Codec.LZ4)))) == 1


@pytest.mark.parametrize("codec", CODECS)
def test_every_level_in_range_round_trips(codec: Codec) -> None:
    low, high = levels(codec)
    small = DATA[: 64 << 10]
    for level in (low, high):
        assert decompress(codec, compressed(Compression(codec, level=level), small)) == small


@pytest.mark.parametrize("codec", [Codec.GZIP, Codec.XZ, Codec.ZSTD, Codec.LZ4, Codec.LZMA])
def test_a_higher_level_is_a_different_stream_and_not_a_larger_one(codec: Codec) -> None:
    low, high = levels(codec)
    fast, best = (compressed(Compression(codec, level=n), DATA[: 64 << 10]) for n in (low, high))
    assert fast != best
    assert len(best) <= len(fast)


@pytest.mark.parametrize(("codec", "tool_default"), [
    (Codec.GZIP, 6), (Codec.XZ, 6), (Codec.LZMA, 6), (Codec.ZSTD, 3), (Codec.BZIP2, 9)])
def test_no_level_means_the_command_line_tools_default(codec: Codec, tool_default: int) -> None:
    assert compressed(Compression(codec)) == compressed(Compression(codec, level=tool_default))


@pytest.mark.parametrize(("compression", "problem"), [
    (Compression(Codec.GZIP, level=10), r"level 10 is out of range for gzip \(1\.\.9\)"),
    (Compression(Codec.ZSTD, level=0), r"level 0 is out of range for zstd \(1\.\.19\)"),
    (Compression(Codec.LZ4, level=13), r"level 13 is out of range for lz4 \(1\.\.12\)"),
    (Compression(Codec.XZ, level=-1), r"level -1 is out of range for xz \(0\.\.9\)"),
    (Compression(Codec.NONE, level=3), "compression.level is set but no codec is chosen"),
    (Compression(Codec.XZ, threads=2), "threads are supported for gzip and zstd, not xz"),
])
def test_options_the_codec_cannot_honour_are_input_errors(compression: Compression,
                                                          problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        compression.check()


@pytest.mark.parametrize("codec", CODECS)
def test_the_bounds_and_no_level_are_accepted(codec: Codec) -> None:
    for level in (*levels(codec), None):
        Compression(codec, level=level).check()


class FullDisk:
    def write(self, data: bytes) -> int:
        raise OSError(28, "No space left on device")


def test_background_compression_writes_the_same_bytes_as_inline() -> None:
    out = io.BytesIO()
    writer = BackgroundWriter(open_compressor(Compression(Codec.ZSTD), out))
    for start in range(0, len(DATA), 10_000):
        writer.write(DATA[start : start + 10_000])
    writer.close()
    assert out.getvalue() == compressed(Compression(Codec.ZSTD))


def test_background_compression_raises_the_writers_error_in_the_writing_thread() -> None:
    writer = BackgroundWriter(open_compressor(Compression(Codec.GZIP, level=1), FullDisk()))
    with pytest.raises(OSError, match="No space left"):
        for _ in range(200):  # the queue is short: the error surfaces within a few writes
            writer.write(DATA)
        writer.close()
    writer.abort()  # idempotent after the failure; the worker is gone
    assert not writer._thread.is_alive()


@pytest.mark.parametrize(("config", "supported"), [
    ("CONFIG_RD_ZSTD=y\nCONFIG_RD_XZ=y\n", True),
    ("# CONFIG_RD_ZSTD is not set\nCONFIG_RD_XZ=y\n", False),
    ("CONFIG_RD_ZSTD=m\n", False),  # an initramfs decoder cannot be a module
    ("CONFIG_RD_ZSTDX=y\nCONFIG_RD_XZ=y\n", None),  # another option's prefix
    ("", None),
])
def test_the_kernel_config_says_whether_it_unpacks_the_codec(config: str,
                                                             supported: bool | None) -> None:
    assert kernel_supports(config, Codec.ZSTD) is supported
    assert kernel_supports(config, Codec.NONE) is True
