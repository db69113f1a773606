"""The legacy LZ4 frame, the only LZ4 the kernel reads (`lz4 -l`), in both directions.

A magic number, then (u32 little-endian size, compressed block) pairs, each block the
compression of at most 8 MiB of input (lib/decompress_unlz4.c reads chunks of that
size). The stream has no end marker. lz4 itself is imported only when a stream is
written or read: a build that uses another codec never loads it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Protocol

from composer.errors import InputError

MAGIC = 0x184C2102
MAGIC_BYTES = struct.pack("<I", MAGIC)
BLOCK = 8 << 20  # the kernel's unlz4 decodes chunks of at most 8 MiB
BOUND = BLOCK + BLOCK // 255 + 16  # LZ4_compressBound of a whole block


class Encoder:
    """Buffers input into whole 8 MiB blocks; `flush` writes the last, shorter one."""

    def __init__(self, level: int) -> None:
        import lz4.block

        self._block = lz4.block
        self.level = level
        self.pending = bytearray()
        self.started = False

    def _blocks(self, final: bool) -> bytes:
        out = bytearray()
        if not self.started:
            out += MAGIC_BYTES
            self.started = True
        while len(self.pending) >= BLOCK or (final and self.pending):
            raw = bytes(self.pending[:BLOCK])
            del self.pending[:BLOCK]
            if self.level >= 3:
                packed = self._block.compress(raw, mode="high_compression",
                                              compression=self.level, store_size=False)
            else:
                packed = self._block.compress(raw, mode="default", store_size=False)
            out += struct.pack("<I", len(packed)) + packed
        return bytes(out)

    def compress(self, data: bytes) -> bytes:
        self.pending += data
        return self._blocks(final=False)

    def flush(self) -> bytes:
        return self._blocks(final=True)


class RawInput(Protocol):
    """Where compressed bytes come from; `unread` gives back what a stream did not use."""

    def read(self, n: int) -> bytes: ...

    def unread(self, data: bytes) -> None: ...


def exact(raw: RawInput, n: int, what: str) -> bytes:
    """Exactly n bytes of input, or an error naming what the input ended inside."""
    data = b""
    while len(data) < n:
        chunk = raw.read(n - len(data))
        if not chunk:
            raise InputError(f"{what} is truncated: the input ends inside it")
        data += chunk
    return data


def decoded_blocks(raw: RawInput) -> Iterator[bytes]:
    """Decoded blocks of a legacy LZ4 stream, read the way the kernel's unlz4 does.

    The stream runs to the end of the input, or to zero padding (a zero chunk size),
    and a repeated magic number starts a concatenated stream.
    """
    import lz4.block

    exact(raw, 4, "lz4 header")
    while True:
        word = raw.read(4)
        if len(word) < 4:
            if word.strip(b"\0"):
                raise InputError("lz4 legacy data is truncated inside a chunk header")
            return
        size = struct.unpack("<I", word)[0]
        if size == MAGIC:
            continue
        if size == 0:
            raw.unread(word)
            return
        if size > BOUND:
            raise InputError(
                f"lz4 legacy data is corrupt: a chunk claims {size} bytes (at most "
                f"{BOUND}); a legacy LZ4 segment runs to the end of the "
                "initramfs, so nothing may follow it"
            )
        block = exact(raw, size, "lz4 legacy chunk")
        try:
            yield lz4.block.decompress(block, uncompressed_size=BLOCK)
        except lz4.block.LZ4BlockError as error:
            raise InputError(f"lz4 legacy data is corrupt: {error}") from None
