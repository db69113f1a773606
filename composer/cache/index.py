"""What was read out of sysroot files, remembered between builds under ~/.cache/composer.

Reading the `.modinfo` of every module (Debian ships no modules.dep) and scanning busybox
for its applet table cost more than the rest of a plan, and their answers change only
when the files do. So an answer is stored with its file's identity: device, inode,
size, mtime and ctime, and with a hash of the source of the code that computed it. A
file written, replaced or renamed since gets another ctime (no user can set one; a new
file gets the time of its creation), so its stored answer no longer matches: a miss,
and the file is read again. Code that changed misses all its old answers.

One trap remains: a timestamp has a granularity (a kernel tick, or worse on some
filesystems), so a write in the same tick as the stored ctime would leave it unchanged.
An answer is therefore only stored for a file whose ctime was more than `SETTLED`
seconds old when it was read; git treats its "racily clean" index entries the same way.

Reading or writing the cache never fails a build and never changes its result: a cache
file that is missing, damaged or unwritable is only a miss. `COMPOSER_CACHE=off` turns
the cache off; it lives in `$XDG_CACHE_HOME/composer/index` (default ~/.cache).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import time
import zlib
from pathlib import Path
from typing import Any, TypeGuard

SETTLED = 2.0  # seconds a file's ctime must lie in the past before an answer is stored
FORMAT = 1  # of the cache files themselves
READ_SIZE = 1 << 16  # takes a whole cache file (KiB); 1 MiB would be an mmap per read

Identity = tuple[int, int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns


def cache_base() -> Path | None:
    """$XDG_CACHE_HOME when it is absolute (the XDG spec ignores a relative one), else
    the home directory's .cache; None when there is no absolute home ($HOME unset or
    relative, and no passwd entry for this user, as in a container run with a bare uid):
    `~` would otherwise stay `~` and put the cache in ./~/.cache of the working directory."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg)
    home = os.path.expanduser("~")
    return Path(home) / ".cache" if os.path.isabs(home) else None


def cache_home() -> Path | None:
    """$XDG_CACHE_HOME/composer (default ~/.cache/composer), or None when
    `COMPOSER_CACHE=off` or there is no home to put it in (the build then runs without
    caches): every cache of the composer lives under it."""
    if os.environ.get("COMPOSER_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    base = cache_base()
    return None if base is None else base / "composer"


def directory() -> Path | None:
    home = cache_home()
    return None if home is None else home / "index"


def code_version(*sources: str) -> int | None:
    """A fingerprint of the modules (their `__file__`) whose code computes the answers;
    None, and so no cache, if a source can't be read."""
    crc = FORMAT
    try:
        for source in sources:
            with open(source, "rb") as f:
                crc = zlib.crc32(f.read(), crc)
    except OSError:
        return None
    return crc


class FileCache:
    """Answers about the files under one directory, each valid while its file is unchanged.

    `kind` names the question (one cache file per kind and directory), `version` is the
    `code_version` of the code that answers it. `base` is the cache directory when the
    caller has already looked it up (`CacheDirectory`): a module index opens hundreds of
    these, one per directory of modules.
    """

    def __init__(self, kind: str, scope: str, version: int | None,
                 base: CacheDirectory | None = None) -> None:
        self.version = version
        self.scope = scope
        self.entries: dict[str, tuple[Identity, Any]] = {}
        self.added = 0
        where = None if version is None else (base or CacheDirectory()).path
        self.path = None if where is None else f"{where}/{kind}-{zlib.crc32(scope.encode()):08x}"
        if self.path is not None:
            self.entries = self._read(self.path)

    def _read(self, path: str) -> dict[str, tuple[Identity, Any]]:
        """The stored answers; a file that is not whole (its CRC-32 says) gives none."""
        try:
            data = _read_file(path)
            if len(data) < 4 or zlib.crc32(data[4:]) != int.from_bytes(data[:4], "little"):
                return {}
            stored = marshal.loads(memoryview(data)[4:])
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        if (not isinstance(stored, tuple) or len(stored) != 3 or stored[0] != self.version
                or stored[1] != self.scope or not isinstance(stored[2], dict)):
            return {}
        entries: dict[str, tuple[Identity, Any]] = stored[2]
        return entries

    def get(self, path: str, identity: Identity) -> Any | None:
        """The stored answer for the file at `path` if it is still that file, else None."""
        entry = self.entries.get(path)
        if not isinstance(entry, tuple) or len(entry) != 2 or entry[0] != identity:
            return None
        return entry[1]

    def put(self, path: str, identity: Identity, answer: Any) -> None:
        """Remember `answer` (plain tuples, strings, numbers), computed from the file's
        content read after `identity` was taken, if the file had settled by then."""
        if self.path is None or time.time() - identity[4] / 1e9 <= SETTLED:
            return
        self.entries[path] = (identity, answer)
        self.added += 1

    def save(self) -> None:
        """Write the answers back, if there are new ones; atomically, so that builds at
        the same time each read a whole file."""
        if self.path is None or not self.added:
            return
        parent, name = os.path.split(self.path)
        temporary = Path(parent, f".{name}.{os.getpid()}.tmp")
        try:
            os.makedirs(parent, exist_ok=True)
            data = marshal.dumps((self.version, self.scope, self.entries))
            with open(temporary, "wb") as f:
                f.write(zlib.crc32(data).to_bytes(4, "little") + data)
            os.replace(temporary, self.path)
            self.added = 0
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


class CacheDirectory:
    """Where the cache files are (None: the cache is off), looked up once per index."""

    def __init__(self) -> None:
        found = directory()
        self.path = None if found is None else str(found)


def _read_file(path: str) -> bytes:
    """The whole file in as few system calls as a file allows (open, read, close):
    `open(path, "rb").read()` adds an fstat, an ioctl and lseeks, hundreds of times
    over for a module index. A read that stops short is taken for the end of the file;
    if it wasn't, the CRC-32 says so and the answers are only a miss."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, READ_SIZE)
        if len(data) < READ_SIZE:
            return data
        chunks = [data]
        while chunk := os.read(fd, READ_SIZE):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


_JUST_STR = frozenset({str})


def is_strings(value: object) -> TypeGuard[tuple[str, ...]]:
    """For checking the shape of what a cache file gave back (its CRC-32 vouches for
    the bytes, this for the code that wrote them): a tuple of strings. (marshal gives
    exact types, never subclasses; the types are compared in C, not by a generator,
    since a module index checks tens of thousands of them.)"""
    return type(value) is tuple and _JUST_STR.issuperset(map(type, value))
