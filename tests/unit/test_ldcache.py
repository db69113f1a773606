"""/etc/ld.so.cache written by the build (composer/resolve/ldcache.py): the format glibc's
dl-cache.h documents, the order ld.so's binary search needs, and the names the binary
resolver puts into it. That the real ld.so loads curl's libraries from it is
tests/e2e/test_binaries_sysroot.py's (qemu-user over the Debian s390x sysroot)."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest
from test_binaries import S390_31, S390X, base_sysroot, program

from composer.build.plan import assemble
from composer.manifest import Entry, Kind
from composer.resolve.binaries import resolve_binaries
from composer.resolve.elf import Arch
from composer.resolve.ldcache import (
    ENTRY_SIZE,
    HEADER_SIZE,
    compare_names,
    ld_so_cache,
    read_ld_so_cache,
    supported,
)
from elffactory import symlink, write_elf

S390X_ARCH = Arch.from_name("s390x")
LIBS = {
    "libc.so.6": "/lib/s390x-linux-gnu/libc.so.6",
    "libz.so.1": "/lib/s390x-linux-gnu/libz.so.1",
    "libcurl.so.4": "/usr/lib/s390x-linux-gnu/libcurl.so.4",
    "libldap-2.5.so.0": "/usr/lib/s390x-linux-gnu/libldap-2.5.so.0",
    "libssl.so.3": "/usr/lib/s390x-linux-gnu/libssl.so.3",
    "libgcrypt.so.20": "/usr/lib/s390x-linux-gnu/libgcrypt.so.20",
}


def by_ld_so(names: list[str]) -> list[str]:
    return sorted(names, key=functools.cmp_to_key(
        lambda a, b: compare_names(a.encode(), b.encode())), reverse=True)


@pytest.mark.parametrize(("a", "b", "sign"), [
    ("libfoo.so.10", "libfoo.so.9", 1),     # digits by value, not byte by byte
    ("libfoo.so.09", "libfoo.so.9", 0),
    ("libz.so.1", "libzstd.so.1", -1),       # '.' < 's'
    ("lib2.so", "libx.so", 1),               # a digit before any other byte
    ("libx.so", "lib2.so", -1),
    ("libc.so.6", "libc.so.6", 0),
    ("libc.so", "libc.so.6", -1),            # a prefix first
    ("libc.so.6", "libc.so", 1),
])
def test_names_are_ordered_as_ld_so_compares_them(a: str, b: str, sign: int) -> None:
    result = compare_names(a.encode(), b.encode())
    assert (result > 0) - (result < 0) == sign


def test_the_cache_reads_back_sorted_for_the_binary_search() -> None:
    data = ld_so_cache(LIBS, S390X_ARCH)
    entries = read_ld_so_cache(data, S390X_ARCH)
    assert {name: path for _, name, path in entries} == LIBS
    assert [name for _, name, _ in entries] == by_ld_so(list(LIBS))
    assert {flags for flags, _, _ in entries} == {0x0403}  # FLAG_ELF_LIBC6 | FLAG_S390_LIB64
    # The header: magic and version, count, string table size, big-endian mark, no
    # extension directory; the strings right after the entries, to the end of the file.
    assert data[:20] == b"glibc-ld.so.cache1.1"
    assert int.from_bytes(data[20:24], "big") == len(LIBS)
    strings = int.from_bytes(data[24:28], "big")
    assert HEADER_SIZE + ENTRY_SIZE * len(LIBS) + strings == len(data)
    assert data[28] == 3 and data[29:48] == bytes(19)
    assert data.endswith(b"\0")


def test_the_bytes_depend_on_the_content_only() -> None:
    items = list(LIBS.items())
    random.Random(4).shuffle(items)
    assert ld_so_cache(dict(items), S390X_ARCH) == ld_so_cache(LIBS, S390X_ARCH)


def test_little_endian_and_unknown_architectures() -> None:
    x86 = Arch.from_name("x86_64")
    data = ld_so_cache({"libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6"}, x86)
    assert data[28] == 2 and int.from_bytes(data[20:24], "little") == 1
    assert read_ld_so_cache(data, x86) == [(0x0303, "libc.so.6",
                                            "/lib/x86_64-linux-gnu/libc.so.6")]
    assert not supported(Arch.from_name("s390"))
    with pytest.raises(ValueError, match=r"no ld\.so cache flags known for s390"):
        ld_so_cache({"libc.so.6": "/lib/libc.so.6"}, Arch.from_name("s390"))


def test_a_name_not_at_the_end_of_its_path_gets_its_own_string() -> None:
    data = ld_so_cache({"libfoo.so.1": "/opt/lib/libbar.so"}, S390X_ARCH)
    assert read_ld_so_cache(data, S390X_ARCH) == [(0x0403, "libfoo.so.1", "/opt/lib/libbar.so")]


def test_the_resolver_caches_what_ld_so_searches_for(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    program(tmp_path, "/usr/bin/curl", needed=["libcurl.so.4", "libapp.so", "libc.so.6"],
            runpath="/opt/app")
    write_elf(tmp_path / "usr/lib/s390x-linux-gnu/libcurl.so.4.8.0", mode=0o644,
              soname="libcurl.so.4", needed=["libz.so.1", "libc.so.6"], **S390X)
    symlink(tmp_path / "usr/lib/s390x-linux-gnu/libcurl.so.4", "libcurl.so.4.8.0")
    write_elf(tmp_path / "lib/s390x-linux-gnu/libz.so.1", mode=0o644, soname="libz.so.1",
              **S390X)
    write_elf(tmp_path / "opt/app/libapp.so", **S390X)
    entries = {e.path: e for e in resolve_binaries(sysroot, ["curl"], target=S390X_ARCH)}
    cache = entries["/etc/ld.so.cache"]
    assert cache.kind is Kind.FILE and cache.mode == 0o644 and cache.data is not None
    # The path each name was found at (the link, as ld.so opens it); libapp.so comes
    # from the RUNPATH, which ld.so asks before the cache: not in it.
    assert read_ld_so_cache(cache.data, S390X_ARCH) == [
        (0x0403, "libz.so.1", "/lib/s390x-linux-gnu/libz.so.1"),
        (0x0403, "libcurl.so.4", "/usr/lib/s390x-linux-gnu/libcurl.so.4"),
        (0x0403, "libc.so.6", "/lib/s390x-linux-gnu/libc.so.6"),
    ]
    # A recipe's own /etc/ld.so.cache wins over the one made for the binaries.
    own = Entry("/etc/ld.so.cache", Kind.FILE, data=b"mine", origin="files")
    manifest = assemble([], [own], entries.values())
    assert manifest.get("/etc/ld.so.cache") == own


def test_no_cache_without_searched_libraries_or_flags(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    write_elf(tmp_path / "bin/busybox", **S390X)  # static: no interpreter, no libraries
    paths = [e.path for e in resolve_binaries(sysroot, ["/bin/busybox"])]
    assert "/etc/ld.so.cache" not in paths
    write_elf(tmp_path / "lib/ld.so.1", soname="ld.so.1", **S390_31)
    write_elf(tmp_path / "lib/libc.so.6", soname="libc.so.6", **S390_31)
    write_elf(tmp_path / "bin/tool31", interp="/lib/ld.so.1", needed=["libc.so.6"], **S390_31)
    paths = [e.path for e in resolve_binaries(sysroot, ["/bin/tool31"])]
    assert "/lib/libc.so.6" in paths and "/etc/ld.so.cache" not in paths
