"""The newc ("070701") cpio writer: a stream of records built from the manifest.

Format facts (the kernel's Documentation/driver-api/early-userspace/buffer-format.rst):
a 110-byte ASCII header of 13 eight-digit hex fields, the NUL-terminated name, padding
to 4 bytes, the data, padding to 4 bytes; the archive ends with "TRAILER!!!".

Reproducibility is decided here: names are relative ("bin/sh", as gen_init_cpio
writes them), inode numbers follow the sorted order, mtimes are clamped to the epoch,
and nothing of the host (owner, device, inode) leaks into a header.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from composer.manifest import KIND_BITS, Entry, Kind

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
HEADER_LEN = 110
# Small files are copied through the header buffer; big ones go straight to the sink
# (zero-copy when the sink is a plain file), so headers never cost a syscall each.
BUFFER_LIMIT = 1 << 20
DIRECT_THRESHOLD = 256 << 10
CHUNK = 1 << 20


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


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def header(*, ino: int, mode: int, uid: int, gid: int, nlink: int, mtime: int, size: int,
           rmajor: int = 0, rminor: int = 0, name: bytes) -> bytes:
    """One newc header with its name and the padding that follows the name."""
    namesize = len(name) + 1
    fields = (ino, mode, uid, gid, nlink, mtime, size, 0, 0, rmajor, rminor, namesize, 0)
    for value in fields:
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{name.decode(errors='replace')}: header field {value} "
                             "does not fit newc's 32 bits")
    text = MAGIC + b"".join(b"%08X" % v for v in fields) + name + b"\0"
    return text + _pad(len(text))


@dataclass
class ArchiveStats:
    entries: int = 0
    data_bytes: int = 0
    archive_bytes: int = 0


class _Writer:
    """Buffers headers and small files; streams big files directly (zero-copy if possible)."""

    def __init__(self, sink: Sink, out_fd: int | None) -> None:
        self.sink = sink
        self.out_fd = out_fd
        self.buffer = bytearray()
        self.written = 0

    def add(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= BUFFER_LIMIT:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            write_all(self.sink, bytes(self.buffer))
            self.written += len(self.buffer)
            self.buffer.clear()
        if self.out_fd is not None:
            flush = getattr(self.sink, "flush", None)
            if flush is not None:
                flush()

    def add_file(self, path: os.PathLike[str] | str, size: int) -> None:
        with open(path, "rb", buffering=0) as source:
            if size < DIRECT_THRESHOLD:
                data = source.read(size + 1)
                self._check_size(path, size, len(data))
                self.add(data)
                return
            self.flush()
            copied = self._copy(source.fileno(), size)
            self._check_size(path, size, copied)
            self.written += copied

    def _copy(self, fd: int, size: int) -> int:
        if self.out_fd is not None:
            return _zero_copy(fd, self.out_fd, size)
        copied = 0
        while copied < size:
            chunk = os.read(fd, min(CHUNK, size - copied))
            if not chunk:
                break
            write_all(self.sink, chunk)
            copied += len(chunk)
        return copied

    @staticmethod
    def _check_size(path: object, expected: int, got: int) -> None:
        if got != expected:
            raise OSError(f"{path} changed size while being archived "
                          f"({expected} bytes expected, {got} read)")


def _zero_copy(src: int, dst: int, size: int) -> int:
    copied = 0
    while copied < size:
        try:
            n = os.copy_file_range(src, dst, size - copied)
        except OSError:
            n = os.sendfile(dst, src, None, size - copied)
        if n == 0:
            break
        copied += n
    return copied


def _nlink(entry: Entry) -> int:
    return 2 if entry.kind is Kind.DIR else 1


def _mtime(entry: Entry, epoch: int) -> int:
    return epoch if entry.mtime is None else min(entry.mtime, epoch)


def write_archive(entries: Iterable[Entry], sink: BinaryIO | Sink, *, epoch: int = 0,
                  zero_copy: bool = False, first_ino: int = 1) -> ArchiveStats:
    """Write entries (already sorted, parents first) as one newc archive.

    With `zero_copy`, `sink` must be a real file opened for writing at its current end;
    big files then move kernel-side with copy_file_range/sendfile.
    """
    out_fd = sink.fileno() if zero_copy else None  # type: ignore[union-attr]
    writer = _Writer(sink, out_fd)
    writer.flush()
    stats = ArchiveStats()
    for ino, entry in enumerate(entries, start=first_ino):
        size = entry.size()
        name = entry.path.lstrip("/").encode()
        writer.add(header(
            ino=ino, mode=KIND_BITS[entry.kind] | entry.mode, uid=entry.uid, gid=entry.gid,
            nlink=_nlink(entry), mtime=_mtime(entry, epoch), size=size,
            rmajor=entry.major, rminor=entry.minor, name=name,
        ))
        if entry.kind is Kind.FILE and entry.source is not None:
            writer.add_file(entry.source, size)
        elif size:
            writer.add(entry.data if entry.data is not None else (entry.target or "").encode())
        writer.add(_pad(size))
        stats.entries += 1
        stats.data_bytes += size
    writer.add(header(ino=0, mode=0, uid=0, gid=0, nlink=1, mtime=0, size=0,
                      name=TRAILER.encode()))
    writer.flush()
    stats.archive_bytes = writer.written
    return stats
