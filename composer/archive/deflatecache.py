"""Deflated gzip blocks remembered between builds, under ~/.cache/composer/deflate.

The pigz-style gzip writer deflates each 128 KiB block on its own, primed with the
32 KiB before it, so a block's deflated bytes are a pure function of (zlib's version,
the parameters, the primer, the block). Rebuilding an image whose content did not
change (the common case: a sysroot and recipe edited once, built many times) then
deflates nothing: each block's bytes are found under a hash of exactly those inputs.
A changed file, template or variable changes its blocks' content, hence their keys:
a miss, deflated as always. The output is the same bytes with the cache warm, cold or
off, which the tests check.

The key is BLAKE2b-256 over all the inputs (no collision is within reach, so a hit is
the block's deflate). An entry carries its key and a BLAKE2b of its payload: a torn,
truncated or damaged entry fails the check and is a miss, never trusted. The gzip
trailer's CRC-32 is computed from the input, not from the cache. Reading or writing
the cache never fails a build; `COMPOSER_CACHE=off` turns it off. It is bounded: a
build stores at most `ADD_LIMIT` bytes (an image of hundreds of MB is not rebuilt
unchanged often enough to be worth the writes), and once the directory holds more than
`BUDGET` the oldest entries go.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from pathlib import Path

try:  # hashlib would load OpenSSL (~30 ms of a cold start) for one BLAKE2 it also has
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - every CPython build has _blake2
    from hashlib import blake2b

from composer.resolve.cache import cache_home

FORMAT = 1
MAGIC = b"composer-deflate\x01"
KEY_SIZE = 32
CHECK_SIZE = 16
ADD_LIMIT = 16 << 20  # bytes of entries one build may add
BUDGET = 64 << 20  # bytes the directory may hold before the oldest entries go
MAX_ENTRY = 1 << 20  # a deflated 128 KiB block is never near this: larger is damage


def directory() -> Path | None:
    home = cache_home()
    return None if home is None else home / "deflate"


class DeflateCache:
    """Deflated blocks for one set of deflate parameters (`params`, e.g. level and
    window bits), shared by the writer's worker threads: each call touches only its
    own entry file, and the counters are only ever added to."""

    def __init__(self, root: Path, params: tuple[int, ...]) -> None:
        self.root = root
        self.salt = b"".join([MAGIC, zlib.ZLIB_RUNTIME_VERSION.encode(), b"\0",
                              struct.pack(f"<{len(params) + 1}q", FORMAT, *params)])
        self.added = 0
        self.hits = 0
        self.misses = 0

    @classmethod
    def open(cls, params: tuple[int, ...]) -> DeflateCache | None:
        root = directory()
        return None if root is None else cls(root, params)

    def key(self, primer: bytes, block: bytes) -> bytes:
        h = blake2b(self.salt, digest_size=KEY_SIZE)
        h.update(struct.pack("<QQ", len(primer), len(block)))
        h.update(primer)
        h.update(block)
        return h.digest()

    def _path(self, key: bytes) -> Path:
        return self.root / key.hex()

    def get(self, key: bytes) -> bytes | None:
        """The stored deflate for `key`, or None when absent or not whole."""
        try:
            with open(self._path(key), "rb") as f:
                data = f.read(MAX_ENTRY + 1)
        except OSError:
            self.misses += 1
            return None
        head = len(MAGIC) + KEY_SIZE + CHECK_SIZE
        payload = data[head:]
        if (len(data) > MAX_ENTRY or data[:len(MAGIC)] != MAGIC
                or data[len(MAGIC):len(MAGIC) + KEY_SIZE] != key
                or data[len(MAGIC) + KEY_SIZE:head] != _check(key, payload)):
            self.misses += 1
            return None
        self.hits += 1
        return payload

    def put(self, key: bytes, deflated: bytes) -> None:
        """Store an entry, atomically (a reader sees a whole one or none), within this
        build's ADD_LIMIT; a write that fails is forgotten."""
        if self.added + len(deflated) > ADD_LIMIT or len(deflated) > MAX_ENTRY // 2:
            return
        path = self._path(key)
        temporary = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as f:
                f.write(MAGIC + key + _check(key, deflated) + deflated)
            os.replace(temporary, path)
            self.added += len(deflated)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)

    def tidy(self) -> None:
        """After a build that stored entries: drop the oldest while over BUDGET."""
        if not self.added:
            return
        with contextlib.suppress(OSError):
            prune(self.root, BUDGET)


def prune(root: Path, budget: int) -> None:
    """Remove entries, oldest first, until what is left holds at most 3/4 of `budget`
    (so that the next builds don't scan again at once); leftover temporary files of
    writers that died go too once they are old."""
    entries: list[tuple[int, int, str]] = []
    total = 0
    with os.scandir(root) as it:
        for item in it:
            with contextlib.suppress(OSError):
                st = item.stat(follow_symlinks=False)
                entries.append((st.st_mtime_ns, st.st_size, item.path))
                total += st.st_size
    if total <= budget:
        return
    entries.sort()
    for _, size, path in entries:
        if total <= budget * 3 // 4:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
            total -= size


def _check(key: bytes, payload: bytes) -> bytes:
    return blake2b(payload, digest_size=CHECK_SIZE, key=key[:16]).digest()
