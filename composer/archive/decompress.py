"""One compressed segment of an initramfs, decoded with bounded memory.

The segment's format (recognised by `codec.detect`) says which decoder reads it; every
decoder hands out at most `n` bytes per call and stops exactly where its stream ends,
giving back the input it read past the end: the next segment starts there. Memory stays
bounded whatever the compression ratio, which is what lets the reader list a gigabyte
initramfs and refuse a decompression bomb before it costs anything.
"""

from __future__ import annotations

from collections.abc import Callable

from composer.archive.codec import FORMATS, Codec
from composer.archive.decoders import Corrupt, RawInput
from composer.errors import InputError


class DecodedStream:
    """The decompressed bytes of one segment; `consumed` counts the input it used."""

    def __init__(self, codec: Codec, raw: RawInput,
                 check: Callable[[int, int], None], where: str = "") -> None:
        decoder = FORMATS[codec].decoder
        if decoder is None:
            raise InputError(f"composer cannot decompress {codec} data")
        self.codec = codec
        self.where = where or f"{codec} segment"
        self.consumed = 0
        self.produced = 0
        self._check = check
        self._decoder = decoder(_Counting(raw, self))
        self._done = False

    def read(self, n: int) -> bytes:
        """At most n decompressed bytes; b"" once the segment's stream has ended."""
        if self._done or n <= 0:
            return b""
        try:
            out = self._decoder.read(n)
        except InputError as error:
            raise InputError(f"{self.where}: {error.message}", hint=error.hint) from None
        except (Corrupt, OSError, EOFError, RuntimeError) as error:
            raise InputError(f"{self.where}: {self.codec} data is corrupt: {error}") from None
        if not out:
            self._done = True
        self.produced += len(out)
        self._check(self.produced, self.consumed)
        return out


class _Counting:
    """Counts the compressed bytes a stream really used, net of what it gave back."""

    def __init__(self, raw: RawInput, owner: DecodedStream) -> None:
        self._raw = raw
        self._owner = owner

    def read(self, n: int) -> bytes:
        data = self._raw.read(n)
        self._owner.consumed += len(data)
        return data

    def unread(self, data: bytes) -> None:
        self._owner.consumed -= len(data)
        self._raw.unread(data)
