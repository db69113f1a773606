"""gzip as a series of members, each a run of whole entries, compressed in parallel.

RFC 1952 makes a gzip file a series of members, and the kernel unpacks an initramfs the
same way (init/initramfs.c, unpack_to_rootfs): it decompresses one member, checks that
it ended between two entries ("junk at the end of compressed archive" otherwise) and
goes on with the next, its cpio state carried over. So the archive writer tells this
encoder where entries end (`cut`), and a member ends at the first such place after
MEMBER bytes of input. Each member is compressed whole by libdeflate, by as many
threads as the recipe gives; where members end depends only on the entries, never on
the threads, so the bytes are the same for any thread count, 0 included.

An entry far bigger than a member (a 1 GB file) would have to be held whole: once a
member's input passes STREAM_AFTER without an entry ending, the rest of that member is
streamed through zlib's pigz-style writer instead, so memory stays bounded.

Members are remembered between builds (the member cache, keyed by libdeflate's file,
the level and the input), so rebuilding unchanged content compresses nothing.
"""

from __future__ import annotations

import queue
import threading
from collections import deque

from composer.archive.libdeflate import Compressor, Library
from composer.archive.pigz import Block, ParallelGzip, stop_workers
from composer.cache.store import BlobCache

MEMBER = 1 << 20  # input bytes after which the next entry boundary ends a member
STREAM_AFTER = 16 << 20  # a member's input held in memory at most
CACHE_BUDGET = 64 << 20
CACHE_ADD_LIMIT = 16 << 20
CACHE_MAX_ENTRY = 8 << 20
FORMAT = b"members\x001\x00"


class MemberCache:
    """Compressed members by a hash of (libdeflate's file, level, input)."""

    def __init__(self, store: BlobCache, library: Library, level: int) -> None:
        self.store = store
        self.salt = FORMAT + library.identity.encode() + b"\0" + str(level).encode()

    @classmethod
    def open(cls, library: Library, level: int) -> MemberCache | None:
        store = BlobCache.open("members", CACHE_BUDGET, CACHE_ADD_LIMIT, CACHE_MAX_ENTRY)
        return None if store is None else cls(store, library, level)

    def compress(self, compressor: Compressor, data: bytes) -> bytes:
        h = self.store.hasher(self.salt)
        h.update(data)
        key = h.digest()
        member = self.store.get(key)
        if member is None:
            member = compressor.gzip(data)
            self.store.put(key, member)
        return member


class GzipMembers:
    """An Encoder (compress/flush) that also takes `cut()`: an entry, and a member, end
    here. How often is the writer's to decide, from `member_size`."""

    member_size = MEMBER

    def __init__(self, library: Library, level: int, threads: int,
                 cache: MemberCache | None = None) -> None:
        self.library = library
        self.level = level
        self.threads = threads
        self.cache = cache
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.stream: ParallelGzip | None = None  # the member being streamed by zlib
        self.members = 0
        self.pending: deque[Block] = deque()
        self.limit = 2 * max(threads, 1)  # members in flight: memory stays bounded
        self.jobs: queue.SimpleQueue[Block | None] = queue.SimpleQueue()
        self.workers = [threading.Thread(target=self._work, name="gzip", daemon=True)
                        for _ in range(threads)]
        for worker in self.workers:
            worker.start()
        self.inline = None if threads else library.compressor(level)

    def _compress(self, compressor: Compressor, data: bytes) -> bytes:
        if self.cache is None:
            return compressor.gzip(data)
        return self.cache.compress(compressor, data)

    def _work(self) -> None:
        compressor = self.library.compressor(self.level)
        try:
            while (job := self.jobs.get()) is not None:
                try:
                    job.deflated = self._compress(compressor, job.data)
                except BaseException as error:  # re-raised by the thread that writes
                    job.error = error
                job.done.set()
        finally:
            compressor.close()

    def compress(self, data: bytes, /) -> bytes:
        if self.stream is not None:
            return self.stream.compress(data)
        self.buffer.append(bytes(data))
        self.buffered += len(data)
        if self.buffered <= STREAM_AFTER:
            return self._ready(wait_all=False)
        # One entry bigger than a member may be: stream the rest of this member.
        out = self._ready(wait_all=True)
        self.stream = ParallelGzip(self.level, max(self.threads, 1))
        self.members += 1
        return out + self.stream.compress(self._take())

    def cut(self) -> bytes:
        """An entry ends here, and the member with it: the archive writer calls this
        where an entry ends once `member_size` bytes went by (archive/newc.py)."""
        if self.stream is not None:
            stream, self.stream = self.stream, None
            return stream.flush()
        if self.buffered:
            self._submit(self._take())
        return self._ready(wait_all=False)

    def flush(self) -> bytes:
        try:
            if self.stream is not None:
                return self.cut()
            if self.buffered or not self.members:  # an empty stream is one empty member
                self._submit(self._take())
            return self._ready(wait_all=True)
        finally:
            self.close()
            if self.cache is not None:
                self.cache.store.tidy()

    def close(self) -> None:
        """Stop the workers (after the members already queued)."""
        stop_workers(self.jobs, self.workers)
        self.workers = []
        if self.inline is not None:
            self.inline.close()
            self.inline = None
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def _take(self) -> bytes:
        data = b"".join(self.buffer)
        self.buffer = []
        self.buffered = 0
        return data

    def _submit(self, data: bytes) -> None:
        self.members += 1
        job = Block(data, b"")
        if self.inline is not None:
            job.deflated = self._compress(self.inline, data)
            job.done.set()
        else:
            self.jobs.put(job)
        self.pending.append(job)

    def _ready(self, wait_all: bool) -> bytes:
        out: list[bytes] = []
        while self.pending and (wait_all or len(self.pending) > self.limit
                                or self.pending[0].done.is_set()):
            out.append(self.pending.popleft().result())
        return b"".join(out)

