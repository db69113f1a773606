"""A read position over a byte source: read-ahead, give-back and skips that seek.

The reader parses headers by peeking a few bytes ahead and hands out file data in
chunks; skipping data seeks when the input allows it, and a hole of a sparse file is
jumped over (its zeros are NUL padding to the kernel) rather than read.
"""

from __future__ import annotations

from collections.abc import Callable

from composer.errors import InputError

READ_AHEAD = 64 << 10
CHUNK = 1 << 20


class Cursor:
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


def read_exact(cursor: Cursor, n: int, what: str, where: str) -> bytes:
    data = b""
    while len(data) < n:
        chunk = cursor.read(n - len(data))
        if not chunk:
            raise InputError(f"{where}: the input ends inside {what} "
                             f"({len(data)} of {n} bytes present)")
        data += chunk
    return data
