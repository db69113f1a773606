"""A cpio member as the reader stands on it: its `Record` (composer/cpio.py), and its data
on request.

A `Member` hands out its file's data once, in chunks, while the reader stands on it;
`finish()` skips what was not read and checks the crc format's checksum, as the kernel
does before it takes the next header.
"""

from __future__ import annotations

from collections.abc import Iterator

from composer.archive.cursor import CHUNK, Cursor
from composer.cpio import Kind, Record
from composer.errors import InputError


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
        if self.record.kind is Kind.FILE:
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
        if record.format == "crc" and record.kind is Kind.FILE and \
                self._sum & 0xFFFFFFFF != record.checksum:
            raise InputError(
                f"{self._where}: crc checksum mismatch for {record.name!r}: the header says "
                f"{record.checksum:08x}, the data sums to {self._sum & 0xFFFFFFFF:08x}"
            )
        self._closed = True
