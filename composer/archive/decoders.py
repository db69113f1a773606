"""Incremental decoders with bounded memory, which stop exactly where their stream ends.

Every decoder hands out at most `n` bytes per call and gives back (`unread`) the input
it read past the end of its stream: the next segment of an initramfs starts there.
Which decoder serves which format is said once, in `archive.codec`; this module only
has the machinery, and imports no codec library itself (the callers pass them in).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Protocol, cast

from composer.archive.lz4legacy import RawInput, exact
from composer.errors import InputError

if TYPE_CHECKING:
    import zstandard

__all__ = ["BlockDecoder", "Corrupt", "Decoder", "RawInput", "StepDecoder", "ZlibStep",
           "ZstdDecoder"]

INPUT_CHUNK = 64 << 10
ZSTD_MAX_WINDOW = 1 << 27  # the kernel's ZSTD_WINDOWSIZE_MAX


class Corrupt(Exception):
    """A codec library refused the data; the message is the library's."""


class Decoder(Protocol):
    def read(self, n: int) -> bytes:
        """At most n decoded bytes; b"" once the stream has ended."""
        ...


class Step(Protocol):
    """One codec's incremental decoder, in the shape of CPython's bz2/lzma objects."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int) -> bytes: ...


class ZlibStep:
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


class StepDecoder:
    """A Step fed from `raw`, its library's `errors` reported as Corrupt."""

    def __init__(self, name: str, step: Step, raw: RawInput,
                 errors: tuple[type[BaseException], ...]) -> None:
        self.name = name
        self._step = step
        self._raw = raw
        self._errors = errors

    def read(self, n: int) -> bytes:
        step = self._step
        while True:
            if step.eof:
                leftover = step.unused_data
                if leftover:
                    self._raw.unread(leftover)
                return b""
            data = b""
            if step.needs_input:
                data = self._raw.read(INPUT_CHUNK)
                if not data:
                    raise InputError(f"{self.name} data is truncated: the input ends "
                                     "before the end of the compressed stream")
            try:
                out = step.decompress(data, n)
            except self._errors as error:
                raise Corrupt(str(error)) from None
            if out:
                return out


class BlockDecoder:
    """Hands out an iterator of decoded blocks n bytes at a time."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._pending = b""

    def read(self, n: int) -> bytes:
        if not self._pending:
            self._pending = next(self._blocks, b"")
        out, self._pending = self._pending[:n], self._pending[n:]
        return out


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


def _zstd_frame(raw: RawInput) -> Iterator[bytes]:
    """The bytes of one zstd frame, found by walking its block headers (RFC 8878).

    zstandard's streaming reader reads ahead and cannot give back what it read past
    the frame, so we delimit the frame ourselves and feed it exactly that much.
    """
    head = exact(raw, 5, "zstd frame header")
    descriptor = head[4]
    single_segment = descriptor & 0x20
    size_bytes = (0, 2, 4, 8)[descriptor >> 6] or (1 if single_segment else 0)
    rest = (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + size_bytes
    yield head + exact(raw, rest, "zstd frame header")
    while True:
        block = exact(raw, 3, "zstd block header")
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
        yield exact(raw, 4, "zstd frame checksum")


class ZstdDecoder:
    """One zstd frame, with the kernel's window limit."""

    def __init__(self, raw: RawInput) -> None:
        import zstandard

        self._error = zstandard.ZstdError
        frame = cast(IO[bytes], _ChunkFile(_zstd_frame(raw)))
        reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._reader: zstandard.ZstdDecompressionReader = reader.stream_reader(
            frame, read_size=INPUT_CHUNK)

    def read(self, n: int) -> bytes:
        try:
            return self._reader.read(n)
        except self._error as error:
            raise Corrupt(str(error)) from None
