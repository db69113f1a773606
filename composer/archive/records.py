"""One cpio record as the kernel reads it: its header fields, and its data on request.

A `Member` hands out its file's data once, in chunks, while the reader stands on it;
`finish()` skips what was not read and checks the crc format's checksum, as the kernel
does before it takes the next header.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass

from composer.archive.cursor import CHUNK, Cursor
from composer.cpio import CRC_MAGIC, HEADER_LEN, KIND_NAMES, NEWC_MAGIC, ODC_MAGIC
from composer.errors import InputError

BINARY_MAGICS = (b"\xc7\x71", b"\x71\xc7")  # old binary cpio, either byte order
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


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


class Member:
    """A record and its data, readable until the reader moves to the next record."""

    def __init__(self, record: Record, cursor: Cursor, where: str, data_size: int) -> None:
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

    def finish(self) -> None:
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


def bad_magic(magic: bytes, where: str) -> InputError:
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


def header_fields(header: bytes, where: str) -> list[int]:
    values = []
    for i in range(6, HEADER_LEN, 8):
        text = header[i:i + 8]
        if not HEX_DIGITS.issuperset(text):
            raise InputError(f"{where}: cpio header field {text!r} is not 8 hex digits")
        values.append(int(text, 16))
    return values
