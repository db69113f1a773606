"""Deflated gzip blocks remembered between builds, under ~/.cache/composer/deflate.

The pigz-style gzip writer deflates each 128 KiB block on its own, primed with the
32 KiB before it, so a block's deflated bytes are a pure function of (zlib's version,
the parameters, the primer, the block). Rebuilding an image whose content did not
change (the common case: a sysroot and recipe edited once, built many times) then
deflates nothing: each block's bytes are found under a hash of exactly those inputs.
A changed file, template or variable changes its blocks' content, hence their keys:
a miss, deflated as always. The output is the same bytes with the cache warm, cold or
off, which the tests check; the gzip trailer's CRC-32 is computed from the input, not
taken from the cache. The store (composer/cache/store.py) checks every entry it reads.

A build stores at most ADD_LIMIT bytes: an image of hundreds of MB is not rebuilt
unchanged often enough to be worth writing its blocks out again.
"""

from __future__ import annotations

import struct
import zlib

from composer.cache.store import BlobCache

FORMAT = 1
ADD_LIMIT = 16 << 20  # bytes of deflated blocks one build may add
BUDGET = 64 << 20  # bytes the directory may hold before the oldest entries go


class DeflateCache:
    """Deflated blocks for one set of deflate parameters (`params`: level, window
    bits, ...), shared by the writer's worker threads."""

    def __init__(self, store: BlobCache, params: tuple[int, ...]) -> None:
        self.store = store
        self.salt = b"".join([b"deflate\0", zlib.ZLIB_RUNTIME_VERSION.encode(), b"\0",
                              struct.pack(f"<{len(params) + 1}q", FORMAT, *params)])

    @classmethod
    def open(cls, params: tuple[int, ...]) -> DeflateCache | None:
        store = BlobCache.open("deflate", BUDGET, ADD_LIMIT)
        return None if store is None else cls(store, params)

    def key(self, primer: bytes, block: bytes) -> bytes:
        h = self.store.hasher(self.salt)
        h.update(struct.pack("<QQ", len(primer), len(block)))
        h.update(primer)
        h.update(block)
        return h.digest()

    def get(self, key: bytes) -> bytes | None:
        return self.store.get(key)

    def put(self, key: bytes, deflated: bytes) -> None:
        self.store.put(key, deflated)

    def tidy(self) -> None:
        self.store.tidy()
