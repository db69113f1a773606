"""/etc/ld.so.cache for the image's programs, written by the build: no ldconfig in the image.

Without a cache, glibc's ld.so finds each DT_NEEDED library by trying every directory of
its search path and, in each, every hardware-capability subdirectory (glibc-hwcaps/z13,
tls/vx/zarch, ... for s390x): a failed open and a stat per candidate the first time, a
failed open per directory before the one that holds the library after that. curl's ~30
libraries cost some 550 failed opens and 500 failed stats at every start, about 40 ms of
a TCG guest's ~240 ms `curl --version` (measured in the stock image, issue 28). With a
cache ld.so opens each library at once.

The build cannot run the target's ldconfig (another architecture), so this module
writes the file itself, in the format glibc documents in dl-cache.h ("glibc-ld.so.cache"
version 1.1, the one ldconfig has written alone since glibc 2.32): a 48-byte header
(magic, version, number of entries, size of the string table, a byte for the byte order,
the offset of an extension directory: 0, none), then one 24-byte entry per library
(flags, the offsets of its name and of its path, an OS version and a hwcap word, both 0),
then the NUL-terminated strings; every number in the target's byte order, string
offsets from the start of the file. ld.so binary-searches the entries, so they are
sorted as its comparison orders names (runs of digits compared as numbers), in
descending order, as ldconfig writes them.

It holds exactly the names the binary resolver found along ld.so's own search (the
ld.so.conf and default directories, not an RPATH or RUNPATH, which ld.so asks before
the cache anyway), each at the path where it was found: ld.so then loads the same files
as without the cache, only sooner, and a name it does not hold (a library dlopen'ed by
name) is still searched for as before. One thing changes for the better: a library
found only through the sysroot's ld.so.conf, which ld.so knows only from a cache, now
loads in the image. The entries' flags say "ELF, glibc, this architecture's ABI"; they
are known here for s390x and x86_64 (read from files Debian's ldconfig wrote), and an
image for another architecture gets no cache (and searches as before).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from composer.resolve.elf import Arch

PATH = "/etc/ld.so.cache"
MAGIC = b"glibc-ld.so.cache1.1"
HEADER_SIZE = 48
ENTRY_SIZE = 24
ENDIAN_FLAGS = {"little": 2, "big": 3}  # cache_file_new_flags_endian_little, _big
# The entry flags ld.so accepts (_DL_CACHE_DEFAULT_ID): FLAG_ELF_LIBC6 (3) with the
# ABI's bits, as Debian's ldconfig wrote them: 0x0400 FLAG_S390_LIB64, 0x0300 FLAG_X8664_LIB64.
ENTRY_FLAGS = {"s390x": 0x0403, "x86_64": 0x0303}


def _digits_first(text: bytes, at: int) -> tuple[int, int]:
    """The number written at TEXT[AT:] and the index after its digits."""
    end = at
    while end < len(text) and 0x30 <= text[end] <= 0x39:
        end += 1
    return int(text[at:end]), end


def compare_names(a: bytes, b: bytes) -> int:
    """ld.so's order of library names (negative, 0, positive): byte by byte, but a run of
    digits against a run of digits by value, and a digit before any other byte."""
    i = j = 0
    while i < len(a):
        a_digit = 0x30 <= a[i] <= 0x39
        b_digit = j < len(b) and 0x30 <= b[j] <= 0x39
        if a_digit and b_digit:
            value_a, i = _digits_first(a, i)
            value_b, j = _digits_first(b, j)
            if value_a != value_b:
                return value_a - value_b
        elif a_digit:
            return 1
        elif b_digit:
            return -1
        elif j >= len(b) or a[i] != b[j]:
            return a[i] - (b[j] if j < len(b) else 0)
        else:
            i += 1
            j += 1
    return -(b[j] if j < len(b) else 0)


def supported(arch: Arch) -> bool:
    """Whether a cache can be written for ARCH (its entries' flags are known)."""
    return arch.name in ENTRY_FLAGS


def ld_so_cache(libraries: Mapping[str, str], arch: Arch) -> bytes:
    """The cache mapping each library name (as DT_NEEDED asks for it) to its image path.

    Reproducible: the bytes depend on the mapping's content only, not on its order."""
    if not supported(arch):
        raise ValueError(f"no ld.so cache flags known for {arch.name}")
    order = arch.byte_order
    names = sorted((name.encode(errors="surrogateescape") for name in libraries),
                   key=functools.cmp_to_key(compare_names), reverse=True)
    strings = bytearray()
    start = HEADER_SIZE + ENTRY_SIZE * len(names)
    entries = bytearray()
    for name in names:
        path = libraries[name.decode(errors="surrogateescape")].encode(errors="surrogateescape")
        value = start + len(strings)
        strings += path + b"\0"
        # The name is the path's last component: its bytes are shared (as ldconfig does).
        key = value + len(path) - len(name) if path.endswith(b"/" + name) else None
        if key is None:
            key = start + len(strings)
            strings += name + b"\0"
        entries += ENTRY_FLAGS[arch.name].to_bytes(4, order, signed=True)
        entries += key.to_bytes(4, order) + value.to_bytes(4, order)
        entries += bytes(4 + 8)  # osversion, hwcap: none
    header = (MAGIC + len(names).to_bytes(4, order) + len(strings).to_bytes(4, order)
              + bytes([ENDIAN_FLAGS[order]]) + bytes(3) + bytes(4) + bytes(12))
    assert len(header) == HEADER_SIZE
    return bytes(header + entries + strings)


def read_ld_so_cache(data: bytes, arch: Arch) -> list[tuple[int, str, str]]:
    """(flags, name, path) of each entry of a cache in ARCH's byte order, in file order:
    the inverse of ld_so_cache, for tests and for reading what ldconfig wrote."""
    order = arch.byte_order
    if not data.startswith(MAGIC) or len(data) < HEADER_SIZE:
        raise ValueError("not a glibc-ld.so.cache1.1 file")
    count = int.from_bytes(data[20:24], order)

    def string(at: int) -> str:
        return data[at:data.index(b"\0", at)].decode(errors="surrogateescape")

    out = []
    for index in range(count):
        at = HEADER_SIZE + ENTRY_SIZE * index
        flags = int.from_bytes(data[at:at + 4], order, signed=True)
        key = int.from_bytes(data[at + 4:at + 8], order)
        value = int.from_bytes(data[at + 8:at + 12], order)
        out.append((flags, string(key), string(value)))
    return out
