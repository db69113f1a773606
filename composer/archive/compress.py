"""Compressed output streams: a writer over a codec's encoder, and one on a worker thread.

What each codec is (its options, levels, encoder) is defined in `archive.codec`; this
module only moves bytes through an encoder into the output.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

from composer.archive.codec import Compression, Encoder


class Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


class CompressingWriter:
    """A write-only stream that compresses into `out`; `close()` ends the stream."""

    def __init__(self, out: Writable, encoder: Encoder) -> None:
        self.out = out
        self._encoder = encoder

    def write(self, data: bytes) -> int:
        if chunk := self._encoder.compress(data):
            self.out.write(chunk)
        return len(data)

    @property
    def member_size(self) -> int | None:
        """For an encoder that ends members where entries end (`cut`): how much input
        a member gets before the next entry's end closes it; None for the others."""
        return getattr(self._encoder, "member_size", None)

    def cut(self) -> None:
        """An entry of the archive ends here (only called when member_size is set)."""
        chunk = self._encoder.cut()  # type: ignore[attr-defined]
        if chunk:
            self.out.write(chunk)

    def close(self) -> None:
        tail = self._encoder.flush()
        if tail:
            self.out.write(tail)


class BackgroundWriter:
    """Feeds a CompressingWriter from a worker thread, so compressing overlaps reading.

    Every codec here releases the GIL while it compresses, so the thread that reads the
    source files and builds headers runs alongside. Chunks reach the compressor whole
    and in order, so the output is the same bytes as compressing inline; the queue is
    short, so memory stays a few chunks whatever the image size.
    """

    DEPTH = 4
    CUT = memoryview(b"")  # queued for cut(), told apart by identity

    def __init__(self, inner: CompressingWriter) -> None:
        self.inner = inner
        self.member_size = inner.member_size
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(self.DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="compress", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:  # after a failure, keep taking chunks: never block
                try:
                    if data is self.CUT:
                        self.inner.cut()
                    else:
                        self.inner.write(data)  # type: ignore[arg-type]
                except BaseException as error:  # re-raised in the writing thread
                    self._error = error

    def write(self, data: bytes) -> int:
        """Queue `data`, which must not change afterwards (bytes, or a view of bytes)."""
        if self._error is not None:
            raise self._error
        self._queue.put(data)
        return len(data)

    def cut(self) -> None:
        """An entry ends here; passed on in order with the data."""
        if self._error is not None:
            raise self._error
        self._queue.put(self.CUT)

    def close(self) -> None:
        """Wait for the compressor, raise what it raised, end the stream."""
        self._stop()
        if self._error is not None:
            raise self._error
        self.inner.close()

    def abort(self) -> None:
        """Stop the worker after a failure elsewhere; the stream is left unfinished."""
        self._error = self._error or RuntimeError("aborted")
        self._stop()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def open_compressor(compression: Compression, out: Writable) -> CompressingWriter:
    """A compressed stream into `out` with the recipe's codec, level and threads."""
    return CompressingWriter(out, compression.encoder())
