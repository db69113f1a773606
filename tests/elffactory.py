"""A tiny ELF writer: just enough headers for the loader-facing parts the resolver reads.

Each file has one PT_LOAD mapping the whole file at BASE (so virtual addresses differ
from file offsets, as in real binaries), an optional PT_INTERP and a PT_DYNAMIC whose
string table is found through that mapping. Sections are left out, as `sstrip` does.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

ET_EXEC, ET_DYN = 2, 3
EM_386, EM_S390, EM_X86_64, EM_AARCH64, EM_PPC64, EM_ARM = 3, 22, 62, 183, 21, 40
BASE = 0x10000


def make_elf(
    *,
    elf_class: int = 64,
    byte_order: str = "big",
    machine: int = EM_S390,
    type: int = ET_DYN,
    interp: str | None = None,
    needed: tuple[str, ...] | list[str] = (),
    rpath: str | None = None,
    runpath: str | None = None,
    soname: str | None = None,
    payload: bytes = b"",
) -> bytes:
    wide = elf_class == 64
    end = "<" if byte_order == "little" else ">"
    ehsize, phentsize = (64, 56) if wide else (52, 32)

    strtab = bytearray(b"\0")

    def add_string(s: str) -> int:
        offset = len(strtab)
        strtab.extend(s.encode() + b"\0")
        return offset

    dyn: list[tuple[int, int]] = [(1, add_string(n)) for n in needed]
    if soname is not None:
        dyn.append((14, add_string(soname)))
    if rpath is not None:
        dyn.append((15, add_string(rpath)))
    if runpath is not None:
        dyn.append((29, add_string(runpath)))
    has_dynamic = bool(dyn) or interp is not None

    phnum = 1 + (interp is not None) + has_dynamic
    offset = ehsize + phnum * phentsize
    interp_bytes = interp.encode() + b"\0" if interp is not None else b""
    interp_off = offset
    offset += len(interp_bytes)
    strtab_off = offset
    offset += len(strtab)
    offset += -offset % 8
    dyn_off = offset
    dyn += [(5, BASE + strtab_off), (10, len(strtab)), (0, 0)]
    dyn_fmt = end + ("qQ" if wide else "iI")
    dyn_bytes = b"".join(struct.pack(dyn_fmt, t, v) for t, v in dyn) if has_dynamic else b""
    payload_off = dyn_off + len(dyn_bytes)
    total = payload_off + len(payload)

    phdrs = [_phdr(end, wide, 1, 0, BASE, total)]
    if interp is not None:
        phdrs.append(_phdr(end, wide, 3, interp_off, BASE + interp_off, len(interp_bytes)))
    if has_dynamic:
        phdrs.append(_phdr(end, wide, 2, dyn_off, BASE + dyn_off, len(dyn_bytes)))

    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if byte_order == "little" else 2, 1, 0])
    ident += bytes(8)
    layout = "HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"
    header = ident + struct.pack(
        end + layout, type, machine, 1, BASE, ehsize, 0, 0, ehsize, phentsize, phnum, 0, 0, 0
    )
    image = bytearray(header + b"".join(phdrs) + interp_bytes + strtab)
    image.extend(bytes(dyn_off - len(image)))
    image.extend(dyn_bytes + payload)
    assert len(image) == total
    return bytes(image)


def _phdr(end: str, wide: bool, p_type: int, offset: int, vaddr: int, size: int) -> bytes:
    if wide:
        return struct.pack(end + "IIQQQQQQ", p_type, 5, offset, vaddr, vaddr, size, size, 8)
    return struct.pack(end + "IIIIIIII", p_type, offset, vaddr, vaddr, size, size, 5, 4)


def write_elf(path: Path, mode: int = 0o755, **fields: object) -> Path:
    """Write an ELF at `path` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make_elf(**fields))  # type: ignore[arg-type]
    os.chmod(path, mode)
    return path


def symlink(path: Path, target: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


def busybox_payload(applets: dict[str, int]) -> bytes:
    """The two tables busybox's applet_tables.c generates, with unrelated bytes around."""
    names = sorted(applets, key=str.encode)
    locs = [applets[n] for n in names] + [0]
    table = bytes(locs[i] | locs[i + 1] << 4 for i in range(0, len(names), 2))
    text = b"".join(n.encode() + b"\0" for n in names) + b"\0"
    return b"\xff\x13\x21\xff" + table + b"\xee\xee" + text + b"BusyBox v1.36.1 (test)\0"


TEST_APPLETS = {"[": 3, "[[": 3, "ash": 1, "cat": 1, "linuxrc": 0, "ls": 1, "modprobe": 2,
                "sh": 1, "udhcpc": 2, "wget": 3, "xargs": 3, "zcat": 1, "chroot": 4}
