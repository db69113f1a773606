"""The system's libdeflate, through ctypes: gzip members compressed whole, in one call.

libdeflate compresses a buffer at once instead of a stream, and that buys its speed:
on the pxelinux image's 4.5 MB of content, level 6 takes a quarter of zlib's level 6
and comes out 2% smaller. Its output is a pure function of the level and the input
(no threads inside, no timestamps: mtime 0, no name, OS 255), so it is reproducible.
It is Debian's `libdeflate0`, on every architecture; composer loads it from the system
rather than bundling a build, so nothing is compiled at install time.

Where the library is missing, or `COMPOSER_DEFLATE=zlib` asks for it, gzip falls back to
zlib (archive/pigz.py): still gzip, other bytes; `compose --json` says which one wrote
an image (compression.engine). ctypes releases the GIL for the call,
so several threads really compress at once; a compressor object belongs to one thread.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache

from composer.cache.store import file_identity
from composer.errors import InputError

NAMES = ("libdeflate.so.0", "libdeflate.so")
LEVELS = (1, 12)  # libdeflate's own range; recipes use gzip's 1..9 of it


class Library:
    """The loaded library, its functions' signatures declared once."""

    def __init__(self, cdll: ctypes.CDLL, path: str) -> None:
        self.path = path
        self._alloc = cdll.libdeflate_alloc_compressor
        self._alloc.argtypes = [ctypes.c_int]
        self._alloc.restype = ctypes.c_void_p
        self._free = cdll.libdeflate_free_compressor
        self._free.argtypes = [ctypes.c_void_p]
        self._free.restype = None
        self._bound = cdll.libdeflate_gzip_compress_bound
        self._bound.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self._bound.restype = ctypes.c_size_t
        self._gzip = cdll.libdeflate_gzip_compress
        self._gzip.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                               ctypes.c_void_p, ctypes.c_size_t]
        self._gzip.restype = ctypes.c_size_t

    @property
    def identity(self) -> str:
        """The library file as installed (an upgrade rewrites it), for cache keys."""
        return file_identity(self.path) or self.path

    def compressor(self, level: int) -> Compressor:
        return Compressor(self, level)


class Compressor:
    """One libdeflate compressor at one level; use it from one thread at a time."""

    def __init__(self, library: Library, level: int) -> None:
        low, high = LEVELS
        if not low <= level <= high:
            raise ValueError(f"libdeflate has no level {level}")
        self._lib = library
        self._handle = library._alloc(level)
        if not self._handle:
            raise MemoryError("libdeflate could not allocate a compressor")

    def gzip(self, data: bytes) -> bytes:
        """`data` as one complete gzip member."""
        lib = self._lib
        room = lib._bound(self._handle, len(data))
        out = ctypes.create_string_buffer(room)
        size = lib._gzip(self._handle, data, len(data), out, room)
        if not size:  # cannot happen with the bound's room; never write a torn member
            raise RuntimeError(f"libdeflate failed on {len(data)} bytes")
        return ctypes.string_at(out, size)

    def close(self) -> None:
        if self._handle:
            self._lib._free(self._handle)
            self._handle = None


def load() -> Library | None:
    """The system's libdeflate, or None: not installed, or COMPOSER_DEFLATE=zlib.

    COMPOSER_DEFLATE is `auto` (the default), `libdeflate` (an error without it: for a
    build that must give the same bytes as another machine's) or `zlib`."""
    raw = os.environ.get("COMPOSER_DEFLATE", "")
    choice = raw.strip().lower()
    if choice == "zlib":
        return None
    if choice not in ("", "auto", "libdeflate"):
        raise InputError(f"COMPOSER_DEFLATE={raw!r} names no gzip engine",
                         hint="set it to auto, libdeflate or zlib, or leave it unset: "
                         "libdeflate where installed, else zlib")
    library = _library()
    if library is None and choice == "libdeflate":
        raise InputError("COMPOSER_DEFLATE=libdeflate, but this system has no libdeflate "
                         f"({' or '.join(NAMES)})",
                         hint="install it (Debian, Ubuntu: apt-get install libdeflate0), or "
                         "leave COMPOSER_DEFLATE unset to write gzip with zlib")
    return library


@cache
def _library() -> Library | None:
    for name in NAMES:
        try:
            cdll = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            return Library(cdll, _mapped_path(name) or name)
        except AttributeError:  # a library of that name without these functions
            continue
    return None


def _mapped_path(name: str) -> str | None:
    """Which file the dynamic loader mapped for `name` (ctypes only knows the name)."""
    stem = name.split(".so")[0] + ".so"
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").partition("/")[2]
                if path and os.path.basename(path).startswith(stem):
                    return "/" + path
    except OSError:
        pass
    return None
