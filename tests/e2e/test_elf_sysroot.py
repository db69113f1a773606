"""ElfInfo on the real Debian s390x sysroot's binaries (the files made here are
tests/unit/test_elf.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.resolve.elf import read_elf


@pytest.mark.sysroot
def test_real_s390x_binaries(sysroot: Path) -> None:
    kexec = read_elf(sysroot / "sbin/kexec")
    assert kexec.arch.name == "s390x"
    assert kexec.interp == "/lib/ld64.so.1"
    assert "libc.so.6" in kexec.needed
    libc = read_elf(sysroot / "lib/s390x-linux-gnu/libc.so.6")
    assert libc.soname == "libc.so.6"
    busybox = read_elf(sysroot / "bin/busybox")
    assert not busybox.is_dynamic
