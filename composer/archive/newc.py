"""The newc ("070701") cpio writer: a stream of records built from the manifest.

The format (headers packed by `cpio.pack_header`, padding, the trailer) is composer/cpio.py's;
this module decides what goes into each header and moves the data.

Reproducibility is decided here: names are relative ("bin/sh", as gen_init_cpio
writes them), inode numbers follow the sorted order, mtimes are clamped to the epoch,
and nothing of the host (owner, device, inode) leaks into a header.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from composer.cpio import (
    ALIGN,
    HEADER_LEN,
    KIND_BITS,
    PAD,
    TRAILER,
    Kind,
    pack_header,
    padding,
)
from composer.errors import BuildError
from composer.kernelcopy import copy_range
from composer.manifest import Entry

# Small files are gathered with the headers and written in batches (writev when the
# output is a file, so nothing is copied twice in user space); big ones go straight to
# the sink, zero-copy when it is a plain file. No syscall per header.
BUFFER_LIMIT = 1 << 20
DIRECT_THRESHOLD = 256 << 10
CHUNK = 1 << 20
IOV_MAX = 1024  # POSIX's minimum for writev, Linux's value


class Sink(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


def write_all(sink: Sink, data: bytes) -> None:
    """Raw (unbuffered) files may accept fewer bytes than offered; keep going."""
    view = memoryview(data)
    while view:
        written = sink.write(view)  # type: ignore[arg-type]
        if written is None:
            return
        view = view[written:]


@dataclass
class ArchiveStats:
    entries: int = 0
    data_bytes: int = 0
    archive_bytes: int = 0


class _Writer:
    """Gathers headers and small files; streams big files directly (zero-copy if possible).

    Pending pieces are kept as a list, not copied into one buffer: a file output gets
    them with writev, any other sink one joined chunk per batch (a compressor sees the
    same chunks whichever way the pieces were held).
    """

    def __init__(self, sink: Sink, out_fd: int | None) -> None:
        self.sink = sink
        self.out_fd = out_fd
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.written = 0
        self.since_cut = 0  # bytes of whole entries since the sink was last told one ended
        self.copy_range = True

    def add(self, data: bytes) -> None:
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.pending_bytes >= BUFFER_LIMIT:
            self.flush()

    def cut(self, cut: Callable[[], None]) -> None:
        """Everything so far goes to the sink, then `cut` tells it an entry ends there."""
        self.flush()
        cut()
        self.since_cut = 0

    def flush(self) -> None:
        if self.pending:
            if self.out_fd is not None:
                _writev_all(self.out_fd, self.pending)
            else:
                write_all(self.sink, b"".join(self.pending))
            self.written += self.pending_bytes
            self.pending = []
            self.pending_bytes = 0

    def add_file(self, fd: int, path: object, size: int) -> None:
        """Content of the open file `fd` whose header said `size` bytes."""
        if size < DIRECT_THRESHOLD:
            data = os.read(fd, size + 1)
            _check_size(path, size, len(data))
            self.add(data)
            return
        self.flush()
        copied = self._copy(fd, size)
        _check_size(path, size, copied)
        self.written += copied

    def _copy(self, fd: int, size: int) -> int:
        if self.out_fd is not None:
            return self._zero_copy(fd, self.out_fd, size)
        copied = 0
        while copied < size:
            chunk = os.read(fd, min(CHUNK, size - copied))
            if not chunk:
                break
            write_all(self.sink, chunk)
            copied += len(chunk)
        return copied

    def _zero_copy(self, src: int, dst: int, size: int) -> int:
        copied = 0
        while copied < size:
            n = self._copy_range(src, dst, size - copied) if self.copy_range else None
            if n is None:
                n = os.sendfile(dst, src, None, size - copied)
            if n == 0:
                break
            copied += n
        return copied

    def _copy_range(self, src: int, dst: int, count: int) -> int | None:
        copied = copy_range(src, dst, count)
        if copied is None:
            self.copy_range = False  # it won't work for the next file either; sendfile will
        return copied


def _writev_all(fd: int, pieces: list[bytes]) -> None:
    """writev may write less than asked (a signal, a full disk); carry on from there."""
    views = [memoryview(p) for p in pieces if p]
    while views:
        batch = views[:IOV_MAX]
        written = os.writev(fd, batch)
        consumed = 0
        while consumed < len(batch) and written >= len(batch[consumed]):
            written -= len(batch[consumed])
            consumed += 1
        del views[:consumed]
        if written:
            views[0] = views[0][written:]


def _check_size(path: object, expected: int, got: int) -> None:
    if got != expected:
        raise BuildError(f"{path} changed size while being archived "
                         f"({expected} bytes expected, {got} read)",
                         hint="build from files nothing is writing to")


def _open_source(source: os.PathLike[str], path: str) -> int:
    """A source the plan found but that can't be opened now is a changed input, not a
    problem with the output: say which file, not "cannot write" the image."""
    try:
        return os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise BuildError(f"cannot read {source} for {path}: {error.strerror}",
                         hint="it was there when the build was planned; was it removed "
                         "or changed meanwhile?") from None


def _inline_content(entry: Entry) -> bytes:
    """What the archive holds for an entry without a source file (Entry.size() bytes):
    a file's data, a symlink's target, nothing for the other kinds."""
    if entry.kind is Kind.FILE:
        return entry.data or b""
    if entry.kind is Kind.SYMLINK:
        return (entry.target or "").encode(errors="surrogateescape")
    return b""


def write_archive(entries: Iterable[Entry], sink: BinaryIO | Sink, *, epoch: int = 0,
                  zero_copy: bool = False, first_ino: int = 1,
                  member_size: int | None = None) -> ArchiveStats:
    """Write entries (already sorted, parents first) as one newc archive.

    With `zero_copy`, `sink` must be a real file opened for writing at its current end;
    big files then move kernel-side with copy_file_range/sendfile. With `member_size`,
    the sink has a `cut()` (archive/members.py), called where an entry ends once
    `member_size` bytes went by since the last: a compressed member may end there.
    """
    out_fd = sink.fileno() if zero_copy else None  # type: ignore[union-attr]
    if out_fd is not None:
        flush = getattr(sink, "flush", None)
        if flush is not None:
            flush()  # anything the sink buffered goes before what we write to its fd
    writer = _Writer(sink, out_fd)
    add = writer.add
    cut = getattr(sink, "cut") if member_size is not None else None  # noqa: B009
    stats = ArchiveStats()
    for ino, entry in enumerate(entries, start=first_ino):
        name = entry.path.lstrip("/").encode(errors="surrogateescape")
        kind = entry.kind
        mode = KIND_BITS[kind] | entry.mode
        mtime = epoch if entry.mtime is None else min(entry.mtime, epoch)
        if kind is Kind.FILE and entry.source is not None:
            # The size comes from the open file, so the header and the data it
            # announces describe the same file even if the path is replaced meanwhile.
            fd = _open_source(entry.source, entry.path)
            try:
                size = os.fstat(fd).st_size
                add(pack_header(ino, mode, entry.uid, entry.gid, 1, mtime, size, entry.major,
                            entry.minor, name))
                writer.add_file(fd, entry.source, size)
            finally:
                os.close(fd)
        else:
            content = _inline_content(entry)
            size = len(content)
            add(pack_header(ino, mode, entry.uid, entry.gid, 2 if kind is Kind.DIR else 1, mtime,
                        size, entry.major, entry.minor, name))
            if size:
                add(content)
        if size % ALIGN:
            add(PAD[padding(size)])
        stats.entries += 1
        stats.data_bytes += size
        if cut is not None:
            writer.since_cut += HEADER_LEN + len(name) + size
            if writer.since_cut >= member_size:  # type: ignore[operator]
                writer.cut(cut)
    writer.add(pack_header(0, 0, 0, 0, 1, 0, 0, 0, 0, TRAILER.encode()))
    writer.flush()
    stats.archive_bytes = writer.written
    return stats
