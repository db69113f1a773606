"""Compressors for the initramfs, each with the options the kernel's decoders require.

The kernel's XZ decoder only knows the CRC32 (and no) integrity check, and its LZ4
decoder only reads the *legacy* frame format (`lz4 -l`). Everything here is in-process
and deterministic for a given level and thread count: no timestamps, no file names.
"""

from __future__ import annotations

import queue
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from composer.errors import InputError

if TYPE_CHECKING:
    from composer.archive.deflatecache import DeflateCache


class Codec(StrEnum):
    NONE = "none"
    GZIP = "gzip"
    XZ = "xz"
    ZSTD = "zstd"
    LZ4 = "lz4"
    LZMA = "lzma"
    BZIP2 = "bzip2"


# The kernel config option that must be set for the kernel to unpack each codec.
KERNEL_OPTION = {
    Codec.GZIP: "CONFIG_RD_GZIP",
    Codec.XZ: "CONFIG_RD_XZ",
    Codec.ZSTD: "CONFIG_RD_ZSTD",
    Codec.LZ4: "CONFIG_RD_LZ4",
    Codec.LZMA: "CONFIG_RD_LZMA",
    Codec.BZIP2: "CONFIG_RD_BZIP2",
}

# Same defaults as the command-line tools, so "gzip" means what people expect; except lz4.
# liblz4's match finder hashes native-endian 32-bit words and gives up after a number of
# candidates that grows with the level, so levels 1-11 pick different matches on s390x
# than on x86 and the image bytes depend on the build host's byte order. Level 12 (the
# optimal parser, 16384 candidates per position) exhausts the chain in all we measured
# and gave the same bytes on both (scripts/test-s390x-host checks it every CI run).
# The frame is still the legacy one and any level decodes alike in the kernel.
DEFAULT_LEVEL = {
    Codec.NONE: 0, Codec.GZIP: 6, Codec.XZ: 6, Codec.ZSTD: 3, Codec.LZ4: 12,
    Codec.LZMA: 6, Codec.BZIP2: 9,
}
LEVELS = {
    Codec.NONE: (0, 0), Codec.GZIP: (1, 9), Codec.XZ: (0, 9), Codec.ZSTD: (1, 19),
    Codec.LZ4: (1, 12), Codec.LZMA: (0, 9), Codec.BZIP2: (1, 9),
}

ZSTD_OUTPUT_CHUNK = 1 << 20
LZ4_LEGACY_MAGIC = 0x184C2102
LZ4_LEGACY_BLOCK = 8 << 20  # the kernel's unlz4 reads chunks of at most 8 MiB


class Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


@dataclass(frozen=True)
class Compression:
    codec: Codec = Codec.NONE
    level: int | None = None
    threads: int = 0

    @property
    def effective_level(self) -> int:
        return DEFAULT_LEVEL[self.codec] if self.level is None else self.level

    def check(self) -> None:
        if self.codec is Codec.NONE and self.level is not None:
            raise InputError("compression.level is set but no codec is chosen",
                             hint="set compression.codec (gzip, xz, zstd, lz4, ...)")
        low, high = LEVELS[self.codec]
        if self.level is not None and not low <= self.level <= high and self.codec != Codec.NONE:
            raise InputError(f"compression level {self.level} is out of range for "
                             f"{self.codec} ({low}..{high})")
        if self.threads and self.codec not in (Codec.ZSTD, Codec.GZIP):
            raise InputError(f"compression threads are supported for zstd and gzip, "
                             f"not {self.codec}")


class CompressingWriter:
    """A write-only stream that compresses into `out`; `close()` ends the stream."""

    def __init__(self, out: Writable, compress: Callable[[bytes], bytes],
                 finish: Callable[[], bytes]) -> None:
        self.out = out
        self._compress = compress
        self._finish = finish

    def write(self, data: bytes) -> int:
        chunk = self._compress(data)
        if chunk:
            self.out.write(chunk)
        return len(data)

    def close(self) -> None:
        tail = self._finish()
        if tail:
            self.out.write(tail)


class BackgroundWriter:
    """Feeds a CompressingWriter from a worker thread, so compressing overlaps reading.

    Every codec here releases the GIL while it compresses, so the thread that reads the
    source files and builds headers runs alongside. Chunks reach the compressor whole
    and in order, so the output is the same bytes as compressing inline; the queue is
    short, so memory stays a few chunks whatever the image size.
    """

    DEPTH = 4

    def __init__(self, inner: CompressingWriter) -> None:
        self.inner = inner
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(self.DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="compress", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:  # after a failure, keep taking chunks: never block
                try:
                    self.inner.write(data)  # type: ignore[arg-type]
                except BaseException as error:  # re-raised in the writing thread
                    self._error = error

    def write(self, data: bytes) -> int:
        """Queue `data`, which must not change afterwards (bytes, or a view of bytes)."""
        if self._error is not None:
            raise self._error
        self._queue.put(data)
        return len(data)

    def close(self) -> None:
        """Wait for the compressor, raise what it raised, end the stream."""
        self._stop()
        if self._error is not None:
            raise self._error
        self.inner.close()

    def abort(self) -> None:
        """Stop the worker after a failure elsewhere; the stream is left unfinished."""
        self._error = self._error or RuntimeError("aborted")
        self._stop()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class _ParallelGzip:
    """gzip as pigz makes it: independent deflate blocks compressed on several threads.

    Each 128 KiB block is deflated on its own, primed with the 32 KiB of input before it
    (so the ratio stays close to one stream) and ended with a sync flush, which leaves it
    byte-aligned so the blocks simply concatenate; an empty final block and the CRC32 and
    length trailer close the member. Every block depends only on the input, never on
    scheduling, so the bytes are the same for any number of threads. zlib releases the
    GIL while it deflates, so threads really run in parallel.
    """

    BLOCK = 128 << 10
    WINDOW = 32 << 10
    # mtime 0, no name, XFL 0, OS 3 (Unix): nothing of the build host or time.
    HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"

    def __init__(self, level: int, threads: int, cache: DeflateCache | None = None) -> None:
        self.level = level
        self.cache = cache
        # Plain threads, not concurrent.futures: its import (logging, traceback...)
        # costs more than this whole class.
        self.jobs: queue.SimpleQueue[_Block | None] = queue.SimpleQueue()
        self.workers = [threading.Thread(target=self._work, name="gzip", daemon=True)
                        for _ in range(threads)]
        for worker in self.workers:
            worker.start()
        self.pending: deque[_Block] = deque()
        self.limit = 2 * threads  # blocks in flight: memory stays a few blocks
        self.buffer = bytearray()
        self.previous = b""
        self.crc = 0
        self.size = 0
        self.started = False

    def _work(self) -> None:
        while (block := self.jobs.get()) is not None:
            try:
                block.deflated = self._cached_deflate(block.data, block.primer)
            except BaseException as error:  # re-raised by the thread that writes
                block.error = error
            block.done.set()

    def _deflate(self, block: bytes, primer: bytes) -> bytes:
        if primer:
            z = zlib.compressobj(self.level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY,
                                 primer)
        else:
            z = zlib.compressobj(self.level, zlib.DEFLATED, -15, 9)
        return z.compress(block) + z.flush(zlib.Z_SYNC_FLUSH)

    def _cached_deflate(self, block: bytes, primer: bytes) -> bytes:
        """The block's deflate, from the cache when an earlier build made it."""
        if self.cache is None:
            return self._deflate(block, primer)
        key = self.cache.key(primer, block)
        deflated = self.cache.get(key)
        if deflated is None:
            deflated = self._deflate(block, primer)
            self.cache.put(key, deflated)
        return deflated

    def _submit(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        block = _Block(data, self.previous)
        self.pending.append(block)
        self.jobs.put(block)
        self.previous = data[-self.WINDOW :]

    def _ready(self, wait_all: bool) -> bytes:
        out = bytearray()
        if not self.started:
            out += self.HEADER
            self.started = True
        while self.pending and (wait_all or len(self.pending) > self.limit
                                or self.pending[0].done.is_set()):
            out += self.pending.popleft().result()
        return bytes(out)

    def compress(self, data: bytes) -> bytes:
        self.buffer += data
        while len(self.buffer) >= self.BLOCK:
            self._submit(bytes(self.buffer[: self.BLOCK]))
            del self.buffer[: self.BLOCK]
        return self._ready(wait_all=False)

    def finish(self) -> bytes:
        if self.buffer:
            self._submit(bytes(self.buffer))
            self.buffer.clear()
        try:
            body = self._ready(wait_all=True)
        finally:
            self.close()
        if self.cache is not None:
            self.cache.tidy()
        final = zlib.compressobj(self.level, zlib.DEFLATED, -15, 9).flush(zlib.Z_FINISH)
        return body + final + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF)

    def close(self) -> None:
        """Stop the workers (they finish the blocks already queued first)."""
        for _ in self.workers:
            self.jobs.put(None)
        for worker in self.workers:
            worker.join()
        self.workers = []


class _Block:
    """One block of input on its way through a worker, and what became of it."""

    def __init__(self, data: bytes, primer: bytes) -> None:
        self.data = data
        self.primer = primer
        self.done = threading.Event()
        self.deflated = b""
        self.error: BaseException | None = None

    def result(self) -> bytes:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.deflated


class _Lz4Legacy:
    """The legacy LZ4 frame: a magic, then (u32 LE size, block) pairs of <= 8 MiB input."""

    def __init__(self, level: int) -> None:
        import lz4.block

        self._block = lz4.block
        self.level = level
        self.pending = bytearray()
        self.started = False

    def _blocks(self, final: bool) -> bytes:
        out = bytearray()
        if not self.started:
            out += struct.pack("<I", LZ4_LEGACY_MAGIC)
            self.started = True
        while len(self.pending) >= LZ4_LEGACY_BLOCK or (final and self.pending):
            raw = bytes(self.pending[:LZ4_LEGACY_BLOCK])
            del self.pending[:LZ4_LEGACY_BLOCK]
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

    def finish(self) -> bytes:
        return self._blocks(final=True)


def open_compressor(compression: Compression, out: Writable) -> CompressingWriter:
    codec, level = compression.codec, compression.effective_level
    if codec is Codec.GZIP and compression.threads:
        from composer.archive.deflatecache import DeflateCache

        cache = DeflateCache.open((level, -15, 9, zlib.Z_DEFAULT_STRATEGY, _ParallelGzip.BLOCK,
                                   _ParallelGzip.WINDOW, zlib.Z_SYNC_FLUSH))
        parallel = _ParallelGzip(level, compression.threads, cache)
        return CompressingWriter(out, parallel.compress, parallel.finish)
    if codec is Codec.GZIP:
        # wbits 31: a gzip wrapper whose header zlib fills with mtime 0 and no name.
        z = zlib.compressobj(level, zlib.DEFLATED, 31, 9)
        return CompressingWriter(out, z.compress, z.flush)
    # Each codec's library is imported only by the builds that use it.
    if codec is Codec.XZ:
        import lzma

        x = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, preset=level)
        return CompressingWriter(out, x.compress, x.flush)
    if codec is Codec.LZMA:
        import lzma

        a = lzma.LZMACompressor(format=lzma.FORMAT_ALONE, preset=level)
        return CompressingWriter(out, a.compress, a.flush)
    if codec is Codec.BZIP2:
        import bz2

        b = bz2.BZ2Compressor(level)
        return CompressingWriter(out, b.compress, b.flush)
    if codec is Codec.ZSTD:
        import zstandard

        params = zstandard.ZstdCompressionParameters.from_level(
            level, threads=compression.threads, write_checksum=True)
        # The chunker writes the same bytes as compressobj(), but with worker threads
        # it peaks at half the memory (2 threads, incompressible input: 84 vs 175 MB).
        chunker = zstandard.ZstdCompressor(compression_params=params).chunker(
            chunk_size=ZSTD_OUTPUT_CHUNK)
        return CompressingWriter(out, lambda data: b"".join(chunker.compress(data)),
                                 lambda: b"".join(chunker.finish()))  # type: ignore[no-untyped-call]
    if codec is Codec.LZ4:
        legacy = _Lz4Legacy(level)
        return CompressingWriter(out, legacy.compress, legacy.finish)
    raise InputError(f"unknown compression {codec}")


def kernel_supports(config_text: str, codec: Codec) -> bool | None:
    """Whether a kernel .config enables the decoder; None when the config doesn't say."""
    if codec is Codec.NONE:
        return True
    option = KERNEL_OPTION[codec]
    for line in config_text.splitlines():
        if line.startswith(option + "="):
            return line.split("=", 1)[1].strip() == "y"
        if line.strip() == f"# {option} is not set":
            return False
    return None

