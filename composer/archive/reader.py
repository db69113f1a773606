"""Streaming reader of any initramfs: records one by one, file data only on request.

It reads what the kernel reads (init/initramfs.c, unpack_to_rootfs): newc (070701) and
crc (070702) archives, concatenated; NUL padding between them; each segment plain or
compressed, the compression recognised by its magic (see `codec.detect`). An uncompressed
archive must start at a 4-byte aligned offset; inside a compressed stream several
archives may follow each other, and the stream must end between two of them.

Nothing is held in memory but one record, a bounded buffer and the decoder's window
(zstd: at most 128 MiB, as in the kernel): file data is handed out in chunks, or
skipped (by seeking, when the input allows). Decompressed output is
counted against `Limits`, so a decompression bomb is refused early with a clear error.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from composer.archive.codec import MAGIC_LEN, Codec, detect, kernel_caveat
from composer.archive.cursor import Cursor, read_exact
from composer.archive.decompress import DecodedStream
from composer.archive.records import Member
from composer.cpio import (
    ALIGN,
    BINARY_MAGICS,
    HEADER_LEN,
    KIND_OF_BITS,
    PATH_MAX,
    TRAILER,
    Record,
    bad_magic,
    padding,
    parse_header,
)
from composer.errors import InputError

__all__ = ["InitramfsReader", "Limits", "Member", "Record", "Segment"]


@dataclass(frozen=True)
class Limits:
    """How much decompressed data to accept before calling it a bomb.

    The ratio is only judged past `ratio_floor`: small archives of headers and
    directories compress far better than anything big and real.
    """

    max_size: int = 4 << 30
    max_ratio: int = 200
    ratio_floor: int = 64 << 20


@dataclass(frozen=True)
class Segment:
    """One run of plain archives, or one compressed stream, of the initramfs."""

    index: int
    offset: int
    codec: Codec
    caveat: str | None  # what the kernel would accept here but a user should know
    members: int  # compressed streams back to back, one archive running through them
    archives: int
    entries: int
    stored_size: int
    size: int


@dataclass
class _Open:
    """A segment being read: counts grow as its records go by."""

    index: int
    offset: int
    codec: Codec
    caveat: str | None = None
    archives: int = 0
    entries: int = 0
    open: bool = False  # entries seen since the last trailer
    members: int = 1
    stored: int = 0
    size: int = 0
    end: int = 0  # where its last member ended in the input

    def continued_by(self, codec: Codec, offset: int) -> bool:
        """Whether a compressed stream of `codec` starting at `offset` is its next
        member: right after it, the same codec, its archive not yet ended. RFC 1952
        makes such a series one gzip file; the kernel unpacks it member by member, each
        ending between two entries, its cpio state carried into the next."""
        return self.codec is codec and codec is not Codec.NONE and self.open \
            and self.end == offset


class InitramfsReader:
    """Iterate over the members of an initramfs held in `f` from `start` for `length`.

    `segments` lists the segments read so far (all of them once iteration has ended).
    """

    def __init__(self, f: BinaryIO, *, start: int = 0, length: int | None = None,
                 limits: Limits | None = None, name: str = "initramfs") -> None:
        self.name = name
        self.limits = limits or Limits()
        self.segments: list[Segment] = []
        self._decoded_total = 0
        self._archives = 0
        seekable = f.seekable()
        self._left = length
        if seekable:
            end = f.seek(0, os.SEEK_END)
            f.seek(min(start, end))
            self._left = max(end - start, 0) if length is None else \
                max(min(length, end - start), 0)
        self._raw = Cursor(self._fill, self._seek if seekable else None,
                            self._skip_hole if seekable else None)
        self._file = f

    def _fill(self, n: int) -> bytes:
        if self._left is not None:
            n = min(n, self._left)
        if n <= 0:
            return b""
        data = self._file.read(n)
        if self._left is not None:
            self._left -= len(data)
        return data

    def _seek(self, n: int) -> int:
        n = min(n, self._left) if self._left is not None else n
        self._file.seek(n, os.SEEK_CUR)
        if self._left is not None:
            self._left -= n
        return n

    def _skip_hole(self) -> int:
        """Jump over a hole of a sparse file (lseek SEEK_DATA): a 100 GB file of zeros
        is NUL padding to the kernel, but need not be read byte by byte to know it."""
        try:
            here = self._file.tell()
            there = os.lseek(self._file.fileno(), here, os.SEEK_DATA)
        except OSError as error:  # ENXIO: no data after here, only a hole to the end
            if error.errno != errno.ENXIO:
                return 0
            there = os.fstat(self._file.fileno()).st_size
        except (AttributeError, ValueError, io.UnsupportedOperation):
            return 0  # not a file (tests feed BytesIO)
        return self._seek(there - here) if there > here else 0

    def records(self) -> Iterator[Record]:
        """The records alone, data skipped."""
        for member in self:
            yield member.record

    def __iter__(self) -> Iterator[Member]:
        raw = self._raw
        previous: _Open | None = None  # the segment read last, which a member may continue
        while True:
            raw.skip_zeros()
            head = raw.peek(MAGIC_LEN)
            if not head:
                return
            seg = _Open(len(self.segments), raw.pos, Codec.NONE)
            if head[:1] == b"0":
                if raw.pos % ALIGN:
                    raise InputError(
                        f"{self.name}: a cpio header starts at offset {raw.pos}, which is "
                        "not a multiple of 4; the kernel stops there ('junk in compressed "
                        "archive')"
                    )
                yield from self._entries(raw, seg, nested=False)
                self._close(seg, raw.pos - seg.offset, raw.pos - seg.offset, raw.pos)
                previous = seg
                continue
            codec = detect(head)
            if codec is None and head[:2] in BINARY_MAGICS:
                raise bad_magic(head[:6], f"{self.name}: offset {raw.pos}")
            if codec is None:
                raise InputError(
                    f"{self.name}: unrecognised data at offset {raw.pos} (bytes "
                    f"{head.hex(' ')}): neither a cpio archive nor a compressed stream "
                    "the kernel knows"
                )
            if codec is Codec.LZO:
                raise InputError(f"{self.name}: segment {seg.index} at offset {raw.pos} "
                                 "is LZO-compressed, which composer cannot read")
            if previous is not None and previous.continued_by(codec, raw.pos):
                seg = previous
                seg.members += 1
            else:
                seg.codec, seg.caveat = codec, kernel_caveat(codec, raw.peek(16))
            where = f"{self.name}: segment {seg.index} ({codec}) at offset {raw.pos}"
            stream = DecodedStream(codec, raw, self._guard(seg), where)
            yield from self._entries(Cursor(stream.read), seg, nested=True)
            self._decoded_total += stream.produced
            self._close(seg, stream.consumed, stream.produced, raw.pos)
            previous = seg

    def _guard(self, seg: _Open) -> Callable[[int, int], None]:
        limits, before = self.limits, self._decoded_total
        where = f"{self.name}: segment {seg.index} ({seg.codec}) at offset {seg.offset}"

        def check(produced: int, consumed: int) -> None:
            if before + produced > limits.max_size:
                raise InputError(
                    f"{where} decompresses to more than {limits.max_size} bytes in all; "
                    "refusing it as a possible decompression bomb",
                    hint="raise the limit with --max-size if the image is genuine",
                )
            if produced > limits.ratio_floor and produced > limits.max_ratio * consumed:
                raise InputError(
                    f"{where} expands more than {limits.max_ratio} times ({consumed} bytes "
                    f"gave {produced} so far); refusing it as a possible decompression bomb",
                    hint="raise the limit with --max-ratio if the image is genuine",
                )
        return check

    def _close(self, seg: _Open, stored: int, size: int, end: int) -> None:
        """Record the segment, or update it when this was its next member."""
        seg.stored += stored
        seg.size += size
        seg.end = end
        caveat = seg.caveat
        archives = seg.archives
        if seg.open:
            archives += 1
            caveat = caveat or (f"the last archive has no {TRAILER} entry: the kernel "
                                "accepts that, but the file may be truncated")
        done = Segment(seg.index, seg.offset, seg.codec, caveat, seg.members, archives,
                       seg.entries, seg.stored, seg.size)
        if self.segments and self.segments[-1].index == seg.index:
            self.segments[-1] = done
        else:
            self.segments.append(done)

    def _entries(self, cursor: Cursor, seg: _Open, *, nested: bool) -> Iterator[Member]:
        """Entries as the kernel's state machine takes them: NUL runs may separate any
        two, each header starts 4-byte aligned, and a trailer only closes an archive.

        At the top level, a run of plain entries ends where a compressed stream starts;
        inside a decompressed stream, anything else is junk.
        """
        while True:
            cursor.skip_zeros()
            head = cursor.peek(1)
            if not head:
                return
            where = f"{self.name}: segment {seg.index} ({seg.codec})"
            if cursor.pos % ALIGN:
                raise InputError(
                    f"{where}: data resumes at {'decompressed ' if nested else ''}offset "
                    f"{cursor.pos}, not a multiple of 4, after NUL padding; the kernel "
                    "stops there ('broken padding')"
                )
            if head != b"0":
                if not nested:
                    return
                if cursor.peek(2) in BINARY_MAGICS:
                    raise bad_magic(cursor.peek(6), f"{where}, offset {cursor.pos}")
                raise InputError(
                    f"{where}: junk at decompressed offset {cursor.pos} (bytes "
                    f"{cursor.peek(8).hex(' ')}) where a cpio header or NUL padding "
                    "should be"
                )
            member = self._entry(cursor, seg, f"{where}, offset {cursor.pos}")
            if member is None:
                continue
            seg.entries += 1
            yield member
            member.finish()
            cursor.skip(padding(member.record.size))

    def _entry(self, cursor: Cursor, seg: _Open, where: str) -> Member | None:
        """The member whose header starts here; None for a trailer."""
        offset = cursor.pos
        header = read_exact(cursor, HEADER_LEN, "a cpio header", where)
        form, fields = parse_header(header, where)
        (ino, mode, uid, gid, nlink, mtime, size, dev_major, dev_minor,
         rdev_major, rdev_minor, namesize, checksum) = fields
        if not 1 <= namesize <= PATH_MAX:
            raise InputError(f"{where}: name size {namesize} is out of range "
                             f"(1 to {PATH_MAX}, the kernel's PATH_MAX)")
        raw_name = read_exact(cursor, namesize, "a file name", where)
        if raw_name[-1:] != b"\0" or b"\0" in raw_name[:-1]:
            raise InputError(f"{where}: the name {raw_name!r} is not one "
                             "NUL-terminated string")
        name = os.fsdecode(raw_name[:-1])
        cursor.skip(padding(HEADER_LEN + namesize))
        if name == TRAILER:
            cursor.skip(size + padding(size))
            seg.open = False
            seg.archives += 1
            self._archives += 1
            return None
        seg.open = True
        where = f"{where} ({name!r})"
        if stat.S_IFMT(mode) not in KIND_OF_BITS:
            raise InputError(f"{where}: mode {mode:o} has no known file type")
        target = None
        data_size = size
        if stat.S_ISLNK(mode):
            if not 1 <= size <= PATH_MAX:
                raise InputError(f"{where}: symlink target size {size} is out of range "
                                 f"(1 to {PATH_MAX})")
            raw_target = read_exact(cursor, size, "a symlink target", where)
            if b"\0" in raw_target:
                raise InputError(f"{where}: the symlink target contains a NUL byte")
            target = os.fsdecode(raw_target)
            data_size = 0
        record = Record(name, mode, uid, gid, nlink, mtime, size, ino, dev_major,
                        dev_minor, rdev_major, rdev_minor, checksum, form, target, seg.index,
                        self._archives, offset)
        # Data after a directory or device header is skipped, as the kernel does.
        return Member(record, cursor, where, data_size)
