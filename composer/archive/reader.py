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
from composer.archive.decode import DecodedStream
from composer.cpio import (
    ALIGN,
    CRC_MAGIC,
    HEADER_LEN,
    KIND_NAMES,
    NEWC_MAGIC,
    ODC_MAGIC,
    PATH_MAX,
    TRAILER,
    padding,
)
from composer.errors import InputError

BINARY_MAGICS = (b"\xc7\x71", b"\x71\xc7")  # old binary cpio, either byte order
READ_AHEAD = 64 << 10
CHUNK = 1 << 20
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")

@dataclass(frozen=True)
class Limits:
    """How much decompressed data to accept before calling it a bomb.

    The ratio is only judged past `ratio_floor`: small archives of headers and
    directories compress far better than anything big and real.
    """

    max_size: int = 4 << 30
    max_ratio: int = 200
    ratio_floor: int = 64 << 20


@dataclass(frozen=True, slots=True)
class Record:
    """One archive member's header, as stored (the name is not normalised)."""

    name: str
    mode: int
    uid: int
    gid: int
    nlink: int
    mtime: int
    size: int
    ino: int = 0
    dev_major: int = 0
    dev_minor: int = 0
    rdev_major: int = 0
    rdev_minor: int = 0
    checksum: int = 0
    format: str = "newc"
    target: str | None = None
    segment: int = 0
    archive: int = 0
    offset: int = 0

    @property
    def kind(self) -> str:
        return KIND_NAMES[stat.S_IFMT(self.mode)]

    @property
    def permissions(self) -> int:
        return stat.S_IMODE(self.mode)

    @property
    def path(self) -> str:
        """The path inside the image, as the kernel resolves it from its root."""
        parts = [p for p in self.name.split("/") if p not in ("", ".")]
        return "/" + "/".join(parts)


@dataclass(frozen=True)
class Segment:
    """One run of plain archives, or one compressed stream, of the initramfs."""

    index: int
    offset: int
    codec: Codec
    stored_size: int = 0
    size: int = 0
    archives: int = 0
    entries: int = 0
    caveat: str | None = None


class _Cursor:
    """A read position over a byte source, with read-ahead, give-back and fast skips."""

    def __init__(self, fill: Callable[[int], bytes],
                 seek: Callable[[int], int] | None = None,
                 holes: Callable[[], int] | None = None) -> None:
        self._fill = fill
        self._seek = seek
        self._holes = holes  # skips a hole of a sparse file, returns its length
        self._buf = b""
        self._at = 0
        self.pos = 0

    def _buffered(self) -> int:
        return len(self._buf) - self._at

    def peek(self, n: int) -> bytes:
        while self._buffered() < n:
            more = self._fill(max(n - self._buffered(), READ_AHEAD))
            if not more:
                break
            self._buf = self._buf[self._at:] + more
            self._at = 0
        return self._buf[self._at:self._at + n]

    def read(self, n: int) -> bytes:
        if not self._buffered():
            if n >= READ_AHEAD:
                data = self._fill(n)
                self.pos += len(data)
                return data
            self._buf, self._at = self._fill(READ_AHEAD), 0
        out = self._buf[self._at:self._at + n]
        self._at += len(out)
        self.pos += len(out)
        return out

    def unread(self, data: bytes) -> None:
        self._buf, self._at = data + self._buf[self._at:], 0
        self.pos -= len(data)

    def skip(self, n: int) -> int:
        """Skip up to n bytes; returns how many there were."""
        done = min(n, self._buffered())
        self._at += done
        self.pos += done
        if done < n and self._seek is not None:
            moved = self._seek(n - done)
            self.pos += moved
            return done + moved
        while done < n:
            chunk = self.read(min(n - done, CHUNK))
            if not chunk:
                break
            done += len(chunk)
        return done

    def skip_zeros(self) -> None:
        while True:
            head = self.peek(READ_AHEAD)
            zeros = len(head) - len(head.lstrip(b"\0"))
            self.skip(zeros)
            if zeros < len(head) or not head:
                return
            if self._holes is not None and not self._buffered():
                self.pos += self._holes()  # a hole reads as zeros: skip it unread


class Member:
    """A record and its data, readable until the reader moves to the next record."""

    def __init__(self, record: Record, cursor: _Cursor, where: str, data_size: int) -> None:
        self.record = record
        self._cursor = cursor
        self._where = where
        self._left = data_size
        self._sum = 0
        self._closed = False

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """The file's data in chunks of at most `size` bytes (each chunk read once)."""
        if self.record.kind == "file":
            yield from self._drain(size)

    def _drain(self, size: int) -> Iterator[bytes]:
        while self._left:
            if self._closed:
                raise RuntimeError("the reader has moved past this member")
            chunk = self._cursor.read(min(size, self._left))
            if not chunk:
                raise InputError(
                    f"{self._where}: the input ends inside the data of "
                    f"{self.record.name!r} ({self.record.size} bytes declared, "
                    f"{self.record.size - self._left} present)"
                )
            self._left -= len(chunk)
            if self.record.format == "crc":
                self._sum += sum(chunk)
            yield chunk

    def read(self) -> bytes:
        """All of the data at once: for small files (symlink targets are in the record)."""
        return b"".join(self.chunks())

    def _finish(self) -> None:
        record = self.record
        if self._left:
            if record.format == "crc":
                for _ in self._drain(CHUNK):
                    pass
            elif self._cursor.skip(self._left) < self._left:
                present = record.size - self._left
                raise InputError(
                    f"{self._where}: the input ends inside the data of {record.name!r} "
                    f"({record.size} bytes declared, fewer than that present after "
                    f"{present} read)"
                )
            self._left = 0
        if record.format == "crc" and record.kind == "file" and \
                self._sum & 0xFFFFFFFF != record.checksum:
            raise InputError(
                f"{self._where}: crc checksum mismatch for {record.name!r}: the header says "
                f"{record.checksum:08x}, the data sums to {self._sum & 0xFFFFFFFF:08x}"
            )
        self._closed = True


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


def _bad_magic(magic: bytes, where: str) -> InputError:
    if magic == ODC_MAGIC:
        return InputError(f"{where}: odc ({ODC_MAGIC.decode()}) cpio archive; the kernel "
                          f"only reads newc ({NEWC_MAGIC.decode()}) and crc "
                          f"({CRC_MAGIC.decode()})", hint="rebuild it with cpio -H newc")
    if magic[:2] in BINARY_MAGICS:
        return InputError(f"{where}: old binary cpio archive (cpio's default format); the "
                          "kernel only reads newc", hint="rebuild it with cpio -H newc")
    return InputError(f"{where}: no cpio header (expected {NEWC_MAGIC.decode()} or "
                      f"{CRC_MAGIC.decode()}, "
                      f"found {magic!r})")


def _fields(header: bytes, where: str) -> list[int]:
    values = []
    for i in range(6, HEADER_LEN, 8):
        text = header[i:i + 8]
        if not HEX_DIGITS.issuperset(text):
            raise InputError(f"{where}: cpio header field {text!r} is not 8 hex digits")
        values.append(int(text, 16))
    return values


def _exact(cursor: _Cursor, n: int, what: str, where: str) -> bytes:
    data = b""
    while len(data) < n:
        chunk = cursor.read(n - len(data))
        if not chunk:
            raise InputError(f"{where}: the input ends inside {what} "
                             f"({len(data)} of {n} bytes present)")
        data += chunk
    return data


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
        self._raw = _Cursor(self._fill, self._seek if seekable else None,
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
                self._close(seg, raw.pos - seg.offset, raw.pos - seg.offset)
                continue
            codec = detect(head)
            if codec is None and head[:2] in BINARY_MAGICS:
                raise _bad_magic(head[:6], f"{self.name}: offset {raw.pos}")
            if codec is None:
                raise InputError(
                    f"{self.name}: unrecognised data at offset {raw.pos} (bytes "
                    f"{head.hex(' ')}): neither a cpio archive nor a compressed stream "
                    "the kernel knows"
                )
            if codec is Codec.LZO:
                raise InputError(f"{self.name}: segment {seg.index} at offset {raw.pos} "
                                 "is LZO-compressed, which composer cannot read")
            seg.codec, seg.caveat = codec, kernel_caveat(codec, raw.peek(16))
            where = f"{self.name}: segment {seg.index} ({codec}) at offset {seg.offset}"
            stream = DecodedStream(codec, raw, self._guard(seg), where)
            yield from self._entries(_Cursor(stream.read), seg, nested=True)
            self._decoded_total += stream.produced
            self._close(seg, stream.consumed, stream.produced)

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

    def _close(self, seg: _Open, stored: int, size: int) -> None:
        caveat = seg.caveat
        if seg.open:
            seg.archives += 1
            caveat = caveat or (f"the last archive has no {TRAILER} entry: the kernel "
                                "accepts that, but the file may be truncated")
        self.segments.append(Segment(seg.index, seg.offset, seg.codec, stored, size,
                                     seg.archives, seg.entries, caveat))

    def _entries(self, cursor: _Cursor, seg: _Open, *, nested: bool) -> Iterator[Member]:
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
                    raise _bad_magic(cursor.peek(6), f"{where}, offset {cursor.pos}")
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
            member._finish()
            cursor.skip(padding(member.record.size))

    def _entry(self, cursor: _Cursor, seg: _Open, where: str) -> Member | None:
        """The member whose header starts here; None for a trailer."""
        offset = cursor.pos
        header = _exact(cursor, HEADER_LEN, "a cpio header", where)
        if header[:6] not in (NEWC_MAGIC, CRC_MAGIC):
            raise _bad_magic(header[:6], where)
        (ino, mode, uid, gid, nlink, mtime, size, dev_major, dev_minor,
         rdev_major, rdev_minor, namesize, checksum) = _fields(header, where)
        if not 1 <= namesize <= PATH_MAX:
            raise InputError(f"{where}: name size {namesize} is out of range "
                             f"(1 to {PATH_MAX}, the kernel's PATH_MAX)")
        raw_name = _exact(cursor, namesize, "a file name", where)
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
        if stat.S_IFMT(mode) not in KIND_NAMES:
            raise InputError(f"{where}: mode {mode:o} has no known file type")
        target = None
        data_size = size
        if stat.S_ISLNK(mode):
            if not 1 <= size <= PATH_MAX:
                raise InputError(f"{where}: symlink target size {size} is out of range "
                                 f"(1 to {PATH_MAX})")
            raw_target = _exact(cursor, size, "a symlink target", where)
            if b"\0" in raw_target:
                raise InputError(f"{where}: the symlink target contains a NUL byte")
            target = os.fsdecode(raw_target)
            data_size = 0
        record = Record(name, mode, uid, gid, nlink, mtime, size, ino, dev_major,
                        dev_minor, rdev_major, rdev_minor, checksum,
                        "crc" if header[:6] == CRC_MAGIC else "newc", target, seg.index,
                        self._archives, offset)
        # Data after a directory or device header is skipped, as the kernel does.
        return Member(record, cursor, where, data_size)
