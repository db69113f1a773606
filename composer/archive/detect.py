"""Recognise and decode one compressed segment of an initramfs, with bounded memory.

The kernel picks a decompressor by the first bytes of each segment (lib/decompress.c,
`compressed_formats`); we recognise the same magics, plus the LZ4 *frame* format that
people produce by mistake with plain `lz4` (the kernel only reads `lz4 -l` legacy).

Every decoder here hands out at most `n` bytes per call and stops exactly where its
stream ends, giving back the input it read past the end: the next segment starts there.
Memory stays bounded whatever the compression ratio, which is what lets the reader list
a gigabyte initramfs and refuse a decompression bomb before it costs anything.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import IO, Protocol, cast

import lz4.block
import lz4.frame
import zstandard

from composer.errors import InputError


class SegmentCodec(StrEnum):
    NONE = "none"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    LZMA = "lzma"
    XZ = "xz"
    LZO = "lzo"
    LZ4 = "lz4"  # the legacy format, the only LZ4 the kernel reads
    LZ4_FRAME = "lz4-frame"
    ZSTD = "zstd"


MAGICS: tuple[tuple[bytes, SegmentCodec], ...] = (
    (b"\x1f\x8b", SegmentCodec.GZIP),
    (b"BZh", SegmentCodec.BZIP2),
    (b"\x5d\x00\x00", SegmentCodec.LZMA),
    (b"\xfd7zXZ\x00", SegmentCodec.XZ),
    (b"\x89LZO", SegmentCodec.LZO),
    (b"\x02\x21\x4c\x18", SegmentCodec.LZ4),
    (b"\x04\x22\x4d\x18", SegmentCodec.LZ4_FRAME),
    (b"\x28\xb5\x2f\xfd", SegmentCodec.ZSTD),
)
MAGIC_LEN = max(len(m) for m, _ in MAGICS)

LZ4_LEGACY_MAGIC = 0x184C2102
LZ4_LEGACY_BLOCK = 8 << 20  # the kernel's unlz4 decodes chunks of at most 8 MiB
LZ4_LEGACY_BOUND = LZ4_LEGACY_BLOCK + LZ4_LEGACY_BLOCK // 255 + 16  # LZ4_compressBound
ZSTD_MAX_WINDOW = 1 << 27  # the kernel's ZSTD_WINDOWSIZE_MAX
LZMA_MEMLIMIT = 256 << 20  # dictionaries of xz -9 (64 MiB) fit with room to spare
XZ_CHECKS = {0: "none", 1: "CRC32", 4: "CRC64", 10: "SHA-256"}
INPUT_CHUNK = 64 << 10


def detect(head: bytes) -> SegmentCodec | None:
    """The compression of a segment from its first bytes, or None for unknown data."""
    for magic, codec in MAGICS:
        if head.startswith(magic):
            return codec
    return None


def kernel_caveat(codec: SegmentCodec, head: bytes) -> str | None:
    """Why the kernel would refuse a segment that composer itself can read."""
    if codec is SegmentCodec.LZ4_FRAME:
        return "LZ4 frame format: the kernel only reads legacy LZ4 (lz4 -l)"
    if codec is SegmentCodec.XZ and len(head) >= 8:
        check = head[7] & 0x0F
        if check not in (0, 1):
            name = XZ_CHECKS.get(check, f"type {check}")
            return f"xz with a {name} check: the kernel's decoder needs --check=crc32"
    return None


class RawInput(Protocol):
    """Where compressed bytes come from; `unread` gives back what a stream did not use."""

    def read(self, n: int) -> bytes: ...

    def unread(self, data: bytes) -> None: ...


class _Step(Protocol):
    """One codec's incremental decoder, in the shape of CPython's bz2/lzma objects."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int) -> bytes: ...


class _Zlib:
    """zlib's object keeps unread input in `unconsumed_tail` instead of buffering it."""

    def __init__(self) -> None:
        self._obj = zlib.decompressobj(wbits=31)
        self._needs_input = True

    @property
    def needs_input(self) -> bool:
        return self._needs_input

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._obj.decompress(self._obj.unconsumed_tail + data, max_length)
        self._needs_input = not self._obj.unconsumed_tail and len(out) < max_length
        return out


def _new_step(codec: SegmentCodec) -> _Step:
    if codec is SegmentCodec.GZIP:
        return _Zlib()
    if codec is SegmentCodec.BZIP2:
        return bz2.BZ2Decompressor()
    if codec is SegmentCodec.XZ:
        return lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=LZMA_MEMLIMIT)
    if codec is SegmentCodec.LZMA:
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=LZMA_MEMLIMIT)
    if codec is SegmentCodec.LZ4_FRAME:
        step: _Step = lz4.frame.LZ4FrameDecompressor()
        return step
    raise AssertionError(codec)


class _ChunkFile:
    """A read(n) file over an iterator of byte strings (for zstandard's stream_reader)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def read(self, n: int = -1) -> bytes:
        if not self._rest:
            self._rest = next(self._chunks, b"")
        if n < 0:
            n = len(self._rest)
        out, self._rest = self._rest[:n], self._rest[n:]
        return out


def _exact(raw: RawInput, n: int, what: str) -> bytes:
    data = b""
    while len(data) < n:
        chunk = raw.read(n - len(data))
        if not chunk:
            raise InputError(f"{what} is truncated: the input ends inside it")
        data += chunk
    return data


def _zstd_frame(raw: RawInput) -> Iterator[bytes]:
    """The bytes of one zstd frame, found by walking its block headers (RFC 8878).

    zstandard's streaming reader reads ahead and cannot give back what it read past
    the frame, so we delimit the frame ourselves and feed it exactly that much.
    """
    head = _exact(raw, 5, "zstd frame header")
    descriptor = head[4]
    single_segment = descriptor & 0x20
    size_bytes = (0, 2, 4, 8)[descriptor >> 6] or (1 if single_segment else 0)
    rest = (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + size_bytes
    yield head + _exact(raw, rest, "zstd frame header")
    while True:
        block = _exact(raw, 3, "zstd block header")
        value = int.from_bytes(block, "little")
        kind, size = (value >> 1) & 3, value >> 3
        if kind == 3:
            raise InputError("zstd data is corrupt: a block has the reserved type 3")
        yield block
        left = 1 if kind == 1 else size
        while left:
            chunk = raw.read(min(left, INPUT_CHUNK))
            if not chunk:
                raise InputError("zstd data is truncated: the input ends inside a block")
            left -= len(chunk)
            yield chunk
        if value & 1:
            break
    if descriptor & 0x04:
        yield _exact(raw, 4, "zstd frame checksum")


def _lz4_legacy_blocks(raw: RawInput) -> Iterator[bytes]:
    """Decoded blocks of a legacy LZ4 stream, read the way the kernel's unlz4 does.

    The stream has no end marker: it runs to the end of the input, or to zero padding
    (a zero chunk size), and a repeated magic number starts a concatenated stream.
    """
    _exact(raw, 4, "lz4 header")
    while True:
        word = raw.read(4)
        if len(word) < 4:
            if word.strip(b"\0"):
                raise InputError("lz4 legacy data is truncated inside a chunk header")
            return
        size = struct.unpack("<I", word)[0]
        if size == LZ4_LEGACY_MAGIC:
            continue
        if size == 0:
            raw.unread(word)
            return
        if size > LZ4_LEGACY_BOUND:
            raise InputError(
                f"lz4 legacy data is corrupt: a chunk claims {size} bytes (at most "
                f"{LZ4_LEGACY_BOUND}); a legacy LZ4 segment runs to the end of the "
                "initramfs, so nothing may follow it"
            )
        block = _exact(raw, size, "lz4 legacy chunk")
        try:
            yield lz4.block.decompress(block, uncompressed_size=LZ4_LEGACY_BLOCK)
        except lz4.block.LZ4BlockError as error:
            raise InputError(f"lz4 legacy data is corrupt: {error}") from None


class DecodedStream:
    """The decompressed bytes of one segment; `consumed` counts the input it used."""

    def __init__(self, codec: SegmentCodec, raw: RawInput,
                 check: Callable[[int, int], None], where: str = "") -> None:
        if codec in (SegmentCodec.NONE, SegmentCodec.LZO):
            raise InputError(f"composer cannot decompress {codec} data")
        self.codec = codec
        self.where = where or f"{codec} segment"
        self.consumed = 0
        self.produced = 0
        self._raw = raw
        self._check = check
        self._step: _Step | None = None
        self._blocks: Iterator[bytes] | None = None
        self._pending = b""
        self._zstd: zstandard.ZstdDecompressionReader | None = None
        counting = _Counting(raw, self)
        if codec is SegmentCodec.ZSTD:
            reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
            frame = cast(IO[bytes], _ChunkFile(_zstd_frame(counting)))
            self._zstd = reader.stream_reader(frame, read_size=INPUT_CHUNK)
        elif codec is SegmentCodec.LZ4:
            self._blocks = _lz4_legacy_blocks(counting)
        else:
            self._step = _new_step(codec)
        self._counting = counting
        self._done = False

    def read(self, n: int) -> bytes:
        """At most n decompressed bytes; b"" once the segment's stream has ended."""
        if self._done or n <= 0:
            return b""
        try:
            out = self._next(n)
        except InputError as error:
            raise InputError(f"{self.where}: {error.message}", hint=error.hint) from None
        except (zlib.error, lzma.LZMAError, OSError, EOFError, RuntimeError,
                zstandard.ZstdError) as error:
            raise InputError(f"{self.where}: {self.codec} data is corrupt: {error}") from None
        if not out:
            self._done = True
        self.produced += len(out)
        self._check(self.produced, self.consumed)
        return out

    def _next(self, n: int) -> bytes:
        if self._zstd is not None:
            return self._zstd.read(n)
        if self._blocks is not None:
            if not self._pending:
                self._pending = next(self._blocks, b"")
            out, self._pending = self._pending[:n], self._pending[n:]
            return out
        assert self._step is not None
        step = self._step
        while True:
            if step.eof:
                leftover = step.unused_data
                if leftover:
                    self._counting.give_back(leftover)
                return b""
            data = b""
            if step.needs_input:
                data = self._counting.read(INPUT_CHUNK)
                if not data:
                    raise InputError(f"{self.codec} data is truncated: the input ends "
                                     "before the end of the compressed stream")
            out = step.decompress(data, n)
            if out:
                return out


class _Counting:
    """Counts the compressed bytes a stream really used, net of what it gave back."""

    def __init__(self, raw: RawInput, owner: DecodedStream) -> None:
        self._raw = raw
        self._owner = owner

    def read(self, n: int) -> bytes:
        data = self._raw.read(n)
        self._owner.consumed += len(data)
        return data

    def unread(self, data: bytes) -> None:
        self.give_back(data)

    def give_back(self, data: bytes) -> None:
        self._owner.consumed -= len(data)
        self._raw.unread(data)
