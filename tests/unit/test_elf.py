"""ElfInfo against files made here, checked with GNU readelf (the real s390x sysroot's are
tests/e2e/test_elf_sysroot.py)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from composer.errors import InputError, ResolveError
from composer.resolve.elf import Arch, ElfError, is_elf, read_elf
from elffactory import (
    EM_386,
    EM_AARCH64,
    EM_ARM,
    EM_PPC64,
    EM_S390,
    EM_X86_64,
    ET_EXEC,
    make_elf,
    write_elf,
)

VARIANTS = [
    (64, "big", EM_S390, "s390x"),
    (32, "big", EM_S390, "s390"),
    (64, "little", EM_X86_64, "x86_64"),
    (32, "little", EM_386, "i386"),
    (64, "little", EM_AARCH64, "aarch64"),
    (64, "little", EM_PPC64, "ppc64le"),
    (64, "big", EM_PPC64, "ppc64"),
    (32, "little", EM_ARM, "arm"),
]


def readelf(path: Path) -> str:
    return subprocess.run(
        ["readelf", "-W", "-h", "-l", "-d", str(path)],
        check=True, capture_output=True, text=True, env={"LC_ALL": "C", "PATH": os.environ["PATH"]},
    ).stdout


@pytest.mark.parametrize(("elf_class", "order", "machine", "name"), VARIANTS)
def test_reads_what_readelf_reads(
    tmp_path: Path, elf_class: int, order: str, machine: int, name: str
) -> None:
    path = write_elf(
        tmp_path / "prog", elf_class=elf_class, byte_order=order, machine=machine,
        interp="/lib/ld.so.1", needed=["libfoo.so.1", "libc.so.6"],
        runpath="$ORIGIN/../lib:/opt/lib", soname="prog.so",
    )
    info = read_elf(path)
    assert (info.arch.elf_class, info.arch.byte_order, info.arch.machine) == \
        (elf_class, order, machine)
    assert info.arch.name == name
    assert info.interp == "/lib/ld.so.1"
    assert info.needed == ("libfoo.so.1", "libc.so.6")
    assert info.runpath == ("$ORIGIN/../lib", "/opt/lib")
    assert info.rpath is None
    assert info.soname == "prog.so"

    # GNU readelf, a real tool, must see the same file.
    text = readelf(path)
    assert f"ELF{elf_class}" in text
    assert ("little endian" if order == "little" else "big endian") in text
    assert "[Requesting program interpreter: /lib/ld.so.1]" in text
    assert re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", text) == list(info.needed)
    assert "Library runpath: [$ORIGIN/../lib:/opt/lib]" in text
    assert "Library soname: [prog.so]" in text


def test_rpath_and_static(tmp_path: Path) -> None:
    rpath = read_elf(write_elf(tmp_path / "a", needed=["libx.so"], rpath="/a:/b"))
    assert rpath.rpath == ("/a", "/b")
    assert rpath.runpath is None
    static = read_elf(write_elf(tmp_path / "b", type=ET_EXEC))
    assert static.interp is None and static.needed == () and not static.is_dynamic
    assert static.type_name == "executable"


def test_empty_runpath_is_present_not_absent(tmp_path: Path) -> None:
    """An empty DT_RUNPATH still disables DT_RPATH in the loader; keep it distinguishable."""
    info = read_elf(write_elf(tmp_path / "a", needed=["libx.so"], rpath="/r", runpath=""))
    assert info.runpath == ()
    assert info.rpath == ("/r",)


def test_not_an_elf(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    assert not is_elf(script)
    with pytest.raises(ElfError, match=r"/usr/bin/script is not an ELF file") as caught:
        read_elf(script, name="/usr/bin/script")
    assert isinstance(caught.value, ResolveError)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(ElfError, match="not an ELF"):
        read_elf(empty)


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    data = make_elf(interp="/lib/ld64.so.1", needed=["libc.so.6"])
    path = tmp_path / "cut"
    path.write_bytes(data[:100])
    with pytest.raises(ElfError, match=r"cut is truncated or corrupt: its program header table"):
        read_elf(path)


@settings(max_examples=examples(200), deadline=None)
@given(cut=st.integers(min_value=0, max_value=400), flip=st.integers(min_value=0, max_value=399))
def test_damaged_files_never_crash(tmp_path_factory: pytest.TempPathFactory, cut: int,
                                   flip: int) -> None:
    data = bytearray(make_elf(interp="/lib/ld64.so.1", needed=["libc.so.6"], runpath="/x"))
    if flip < len(data):
        data[flip] ^= 0xFF
    path = tmp_path_factory.mktemp("dmg") / "f"
    path.write_bytes(bytes(data[:cut]))
    with contextlib.suppress(ElfError):
        read_elf(path)


def test_arch_names() -> None:
    assert Arch.from_name("s390x") == Arch(64, "big", EM_S390)
    assert Arch.from_name("amd64").name == "x86_64"
    assert Arch.from_name("arm64").triplets == ("aarch64-linux-gnu",)
    assert Arch(64, "big", EM_S390).triplets == ("s390x-linux-gnu",)
    assert Arch(64, "little", 9999).name == "machine 9999 (64-bit LE)"
    with pytest.raises(InputError, match=r"unknown architecture 'vax'.*s390x"):
        Arch.from_name("vax")
