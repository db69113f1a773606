"""Sysroot's lookups against two real references: the kernel's own chroot-like walk
(openat2 with RESOLVE_IN_ROOT) on random trees, and the real Debian s390x sysroot. The small
trees made by hand are tests/unit/test_sysroot.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from composer.errors import ResolveError
from composer.resolve.sysroot import Link, Sysroot


@pytest.mark.sysroot
def test_real_sysroot_lookups(sysroot: Path) -> None:
    real = Sysroot(sysroot)
    lookup = real.lookup("/lib/ld64.so.1")
    assert lookup.links[-1] == Link("/lib/ld64.so.1", "s390x-linux-gnu/ld64.so.1")
    assert lookup.canonical.endswith("/lib/s390x-linux-gnu/ld64.so.1")
    assert lookup.is_file
    assert real.find_program("kexec").endswith("/sbin/kexec")
    assert real.find_program("busybox").endswith("/bin/busybox")
    assert "/usr/lib/s390x-linux-gnu" in real.ld_so_conf_dirs()
    assert os.path.samefile(real.host("/lib/ld64.so.1"), sysroot / "lib/ld64.so.1")


# --- the kernel as the oracle -------------------------------------------------------------
# openat2(2) with RESOLVE_IN_ROOT walks a path as if the directory were the root of a
# chroot (absolute links restart there, `..` stops there, 40 links at most), with no
# privileges needed: exactly the semantics Sysroot promises.

SYS_OPENAT2 = 437  # the same number on every architecture that has it
RESOLVE_IN_ROOT = 0x10
PIECES = ["..", ".", "d1", "d2", "f", "l1", "l2", "l3", "l4", "x"]
LINK_PATHS = ["l1", "d1/l2", "d1/d2/l3", "l4"]


def kernel_lookup(root: Path, path: str) -> str | int:
    """The host path the kernel reaches, or the errno it fails with."""
    import ctypes
    import errno as errnos
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    how = struct.pack("QQQ", os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT)
    dirfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = libc.syscall(SYS_OPENAT2, dirfd, path.encode(), how, len(how))
        if fd < 0:
            err = ctypes.get_errno()
            if err in (errnos.ENOSYS, errnos.EPERM):
                pytest.skip("openat2 is not available here")
            return err
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
    finally:
        os.close(dirfd)


path_strategy = st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map("/".join)
# Most queries start at a link, so that the links are actually followed.
query_strategy = st.one_of(
    st.sampled_from(LINK_PATHS),
    st.tuples(st.sampled_from(LINK_PATHS), path_strategy).map("/".join),
    path_strategy,
)


@pytest.mark.slow
@settings(max_examples=examples(500), deadline=None)
@given(
    links=st.dictionaries(st.sampled_from(LINK_PATHS),
                          st.tuples(st.booleans(), path_strategy), max_size=4),
    queries=st.lists(query_strategy, min_size=1, max_size=6),
)
def test_lookups_agree_with_the_kernel(links: dict[str, tuple[bool, str]],
                                       queries: list[str]) -> None:
    import errno as errnos
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        (root / "d1" / "d2").mkdir(parents=True)
        for f in ("f", "d1/f", "d1/d2/f"):
            (root / f).write_text(f)
        (Path(tmp) / "x").write_text("outside the root")  # what an escape would reach
        for where, (absolute, target) in links.items():
            os.symlink(("/" if absolute else "") + target, root / where)
        sysroot = Sysroot(root)
        for query in queries:
            expected = kernel_lookup(root, "/" + query)
            try:
                got: str | int = str(sysroot.host("/" + query))
            except ResolveError as error:
                got = errnos.ELOOP if "too many levels" in str(error) else errnos.ENOENT
            if expected == errnos.ENOTDIR:
                expected = errnos.ENOENT
            assert got == expected, (query, links)
