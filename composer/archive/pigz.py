"""gzip as pigz makes it: deflate blocks compressed in parallel, bytes independent of
the thread count. Imported only by builds that ask for gzip with threads."""

from __future__ import annotations

import queue
import struct
import threading
import zlib
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from composer.cache.deflate import DeflateCache


class ParallelGzip:
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
    WBITS = -15  # raw deflate: the gzip header and trailer are ours
    MEMLEVEL = 9
    STRATEGY = zlib.Z_DEFAULT_STRATEGY
    # mtime 0, no name, XFL 0, OS 3 (Unix): nothing of the build host or time.
    HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"

    def __init__(self, level: int, threads: int, cache: DeflateCache | None = None) -> None:
        self.level = level
        self.cache = cache
        # Plain threads, not concurrent.futures: its import (logging, traceback...)
        # costs more than this whole class.
        self.jobs: queue.SimpleQueue[Block | None] = queue.SimpleQueue()
        self.workers = [threading.Thread(target=self._work, name="gzip", daemon=True)
                        for _ in range(threads)]
        for worker in self.workers:
            worker.start()
        self.pending: deque[Block] = deque()
        self.limit = 2 * threads  # blocks in flight: memory stays a few blocks
        self.buffer = bytearray()
        self.previous = b""
        self.crc = 0
        self.size = 0
        self.started = False

    @classmethod
    def block_parameters(cls, level: int) -> tuple[int, ...]:
        """Everything besides zlib, the primer and the block that a block's deflate
        depends on: the deflate cache's key covers it, so it can't serve other bytes."""
        return (level, cls.WBITS, cls.MEMLEVEL, cls.STRATEGY, cls.BLOCK, cls.WINDOW,
                zlib.Z_SYNC_FLUSH)

    def _work(self) -> None:
        while (block := self.jobs.get()) is not None:
            try:
                block.deflated = self._cached_deflate(block.data, block.primer)
            except BaseException as error:  # re-raised by the thread that writes
                block.error = error
            block.done.set()

    def _deflate(self, block: bytes, primer: bytes) -> bytes:
        if primer:
            z = zlib.compressobj(self.level, zlib.DEFLATED, self.WBITS, self.MEMLEVEL,
                                 self.STRATEGY, primer)
        else:
            z = zlib.compressobj(self.level, zlib.DEFLATED, self.WBITS, self.MEMLEVEL,
                                 self.STRATEGY)
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
        block = Block(data, self.previous)
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

    def flush(self) -> bytes:
        if self.buffer:
            self._submit(bytes(self.buffer))
            self.buffer.clear()
        try:
            body = self._ready(wait_all=True)
        finally:
            self.close()
        if self.cache is not None:
            self.cache.tidy()
        final = zlib.compressobj(self.level, zlib.DEFLATED, self.WBITS,
                                 self.MEMLEVEL).flush(zlib.Z_FINISH)
        return body + final + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF)

    def close(self) -> None:
        """Stop the workers (they finish the blocks already queued first)."""
        stop_workers(self.jobs, self.workers)
        self.workers = []


def stop_workers(jobs: queue.SimpleQueue[Block | None], workers: list[threading.Thread]
                 ) -> None:
    """Each worker takes one None, after the jobs queued before it, and ends."""
    for _ in workers:
        jobs.put(None)
    for worker in workers:
        worker.join()


class Block:
    """One block of input on its way through a worker, and what became of it (a
    deflated block here, a whole gzip member in archive/members.py)."""

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
        self.data = self.primer = b""  # written out: the input need not stay in memory
        return self.deflated
