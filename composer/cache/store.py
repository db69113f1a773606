"""Content-addressed blobs remembered between builds, one file per key, under
~/.cache/composer/KIND (see composer/cache/index.py for where, and COMPOSER_CACHE=off).

A key is a BLAKE2b-256 of everything the blob was computed from, so a hit is the blob
itself (no collision is within reach). An entry file holds a magic, its key and a
BLAKE2b of its payload: a torn, truncated, swapped or damaged file fails that check
and is a miss, never trusted. Reading or writing never fails a build: an entry that
can't be read is a miss, one that can't be written is forgotten. Each store is bounded:
a build adds at most `add_limit` bytes, and after a build that added any, the oldest
entries go while the directory holds more than `budget`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from hashlib import blake2b
from importlib.machinery import PathFinder
from pathlib import Path
from typing import ClassVar, Self

from composer.cache.index import cache_home, code_version

MAGIC = b"composer-blob\x01"
KEY_SIZE = 32
CHECK_SIZE = 16
MAX_ENTRY = 1 << 20  # larger is damage: a store keeps blobs of at most half its limit



class BlobCache:
    """One store (`kind`: a directory of the cache home). Safe to share between
    threads: each call touches only its own entry file."""

    def __init__(self, root: Path, budget: int, add_limit: int,
                 max_entry: int = MAX_ENTRY) -> None:
        self.root = root
        self.budget = budget
        self.add_limit = add_limit
        self.max_entry = max_entry
        self.added = 0
        self._lock = threading.Lock()

    @classmethod
    def open(cls, kind: str, budget: int, add_limit: int,
             max_entry: int = MAX_ENTRY) -> BlobCache | None:
        """The store, or None when caching is off."""
        home = cache_home()
        return None if home is None else cls(home / kind, budget, add_limit, max_entry)

    @staticmethod
    def hasher(salt: bytes) -> blake2b:
        """A key in the making: update it with every input, then `.digest()`."""
        return blake2b(salt, digest_size=KEY_SIZE)

    def _path(self, key: bytes) -> Path:
        return self.root / key.hex()

    def get(self, key: bytes) -> bytes | None:
        """The stored blob for `key`, or None when absent or not whole."""
        try:
            with open(self._path(key), "rb") as f:
                data = f.read(self.max_entry + 1)
        except OSError:
            return None
        head = len(MAGIC) + KEY_SIZE + CHECK_SIZE
        payload = data[head:]
        if (len(data) > self.max_entry or data[:len(MAGIC)] != MAGIC
                or data[len(MAGIC):len(MAGIC) + KEY_SIZE] != key
                or data[len(MAGIC) + KEY_SIZE:head] != _check(key, payload)):
            return None
        return payload

    def put(self, key: bytes, blob: bytes) -> None:
        """Store a blob, atomically (a reader sees a whole entry or none), within this
        build's add_limit."""
        with self._lock:
            if self.added + len(blob) > self.add_limit or len(blob) > self.max_entry // 2:
                return
            self.added += len(blob)
        path = self._path(key)
        temporary = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as f:
                f.write(MAGIC + key + _check(key, blob) + blob)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)

    def tidy(self) -> None:
        """After a build that stored entries: drop the oldest while over budget."""
        if self.added:
            with contextlib.suppress(OSError):
                prune(self.root, self.budget)


def prune(root: Path, budget: int) -> None:
    """Remove files, oldest first, until what is left holds at most 3/4 of `budget` (so
    that the next builds don't scan again at once); the temporary files of writers that
    died go with the rest, by age."""
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


def digest(data: bytes) -> bytes:
    """A BLAKE2b-256 of `data`, for keys built from contents."""
    return blake2b(data, digest_size=KEY_SIZE).digest()


def _check(key: bytes, payload: bytes) -> bytes:
    return blake2b(payload, digest_size=CHECK_SIZE, key=key[:16]).digest()


def library_identity(name: str) -> str | None:
    """Where a library is installed and its file's identity (an upgrade rewrites it),
    found the way `import` would, without importing it; None when it can't be found.
    Part of the key of a cache whose answers that library computed."""
    spec = PathFinder.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return file_identity(spec.origin)


def file_identity(path: str) -> str | None:
    """A file's path and what an upgrade that rewrites it changes (size, mtime, inode),
    as one string for a cache key; None when it can't be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


class LibraryCache:
    """A store of what libraries computed, and the salt every key of it starts from: the
    entry format, the source of our code that calls them (`code`: paths under composer/),
    Python's version and each library's identity. A subclass names its store and these
    (`kind`, `budget`, `add_limit`, `entry_format`, `code`, `libraries`)."""

    kind: ClassVar[str]
    budget: ClassVar[int]
    add_limit: ClassVar[int]
    entry_format: ClassVar[int]
    code: ClassVar[tuple[str, ...]]
    libraries: ClassVar[tuple[str, ...]]

    def __init__(self, store: BlobCache, salt: bytes) -> None:
        self.store = store
        self.salt = salt

    @classmethod
    def open(cls) -> Self | None:
        """The cache; None when caching is off or the code or a library can't be
        identified: then nothing is cached, rather than an answer of other code or another
        library version taken for this one's."""
        store = BlobCache.open(cls.kind, cls.budget, cls.add_limit)
        if store is None:
            return None
        package = Path(__file__).parents[1]
        version = code_version(*(str(package / name) for name in cls.code))
        identities = [library_identity(name) for name in cls.libraries]
        if version is None or None in identities:
            return None
        return cls(store, repr((cls.entry_format, version, sys.version, identities)).encode())
