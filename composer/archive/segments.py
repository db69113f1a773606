"""The archive stage: manifest entries -> one or more newc segments, compressed or not.

A segment is a complete cpio archive; the kernel unpacks concatenated segments in
order, each compressed its own way. Files that are already compressed (.ko.xz, .ko.zst,
firmware .xz) can go into a leading uncompressed segment so they aren't squeezed twice.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from composer.archive.codec import Codec, Compression
from composer.archive.compress import BackgroundWriter, open_compressor
from composer.archive.newc import ArchiveStats, write_all, write_archive
from composer.cpio import padding
from composer.manifest import Entry, Kind

PRECOMPRESSED_SUFFIXES = (".xz", ".zst", ".gz", ".bz2", ".lz4", ".lzma")


@dataclass(frozen=True)
class Segment:
    entries: tuple[Entry, ...]
    compression: Compression


@dataclass
class InitramfsStats:
    segments: list[tuple[Compression, ArchiveStats, int]] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return sum(s.entries for _, s, _ in self.segments)

    @property
    def size(self) -> int:
        return sum(n for _, _, n in self.segments)


def split_segments(entries: Sequence[Entry], compression: Compression,
                   precompressed_segment: bool) -> list[Segment]:
    """One segment, or a leading uncompressed one for already-compressed files."""
    if not precompressed_segment or compression.codec is Codec.NONE:
        return [Segment(tuple(entries), compression)]
    early = {e.path for e in entries
             if e.kind is Kind.FILE and e.path.endswith(PRECOMPRESSED_SUFFIXES)}
    if not early:
        return [Segment(tuple(entries), compression)]
    for path in list(early):
        parent = posixpath.dirname(path)
        while parent != "/":
            early.add(parent)
            parent = posixpath.dirname(parent)
    first = tuple(e for e in entries if e.path in early)
    rest = tuple(e for e in entries if e.path not in early)
    return [Segment(first, Compression()), Segment(rest, compression)]


def write_initramfs(entries: Sequence[Entry], compression: Compression, out: BinaryIO, *,
                    epoch: int, precompressed_segment: bool = False) -> InitramfsStats:
    """Write the initramfs at the current position of `out` (a raw, unbuffered file)."""
    stats = InitramfsStats()
    first_ino = 1
    for segment in split_segments(entries, compression, precompressed_segment):
        start = out.tell()
        if segment.compression.codec is Codec.NONE:
            archive = write_archive(segment.entries, out, epoch=epoch, zero_copy=True,
                                    first_ino=first_ino)
            pad = padding(out.tell())
            write_all(out, b"\0" * pad)
        else:
            sink = _Buffered(out)
            writer = BackgroundWriter(open_compressor(segment.compression, sink))
            try:
                archive = write_archive(segment.entries, writer, epoch=epoch,
                                        first_ino=first_ino,
                                        member_size=writer.member_size)
            except BaseException:
                writer.abort()
                raise
            writer.close()
            sink.flush()
        first_ino += len(segment.entries)
        stats.segments.append((segment.compression, archive, out.tell() - start))
    return stats


class _Buffered:
    """Coalesce small compressed chunks into large writes on the raw output file."""

    LIMIT = 1 << 20

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pending = bytearray()

    def write(self, data: bytes) -> int:
        self.pending += data
        if len(self.pending) >= self.LIMIT:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.pending:
            write_all(self.out, bytes(self.pending))
            self.pending.clear()
