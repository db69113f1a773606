"""An .INS tree: the kernel, the initrd, a parameter file and the .INS file that loads them.

An .INS file is what the HMC's "load from removable media or server" and QEMU's s390
firmware (pc-bios/s390-ccw/netmain.c, handle_ins_cfg, when a TFTP boot file starts with
`* `) read: a first line that is a comment starting with `* `, then one `FILE ADDRESS`
line per file, separated by one space, loaded in order at ADDRESS. The firmware reads
the address with SLOF's atol, strtol(s, NULL, 0): `0x` (lower case) means hexadecimal,
as the HMC's own files write it. File names are relative to the served root.

The kernel is loaded at 0 first, as the files of Ubuntu (ubuntu.ins) and lorax
(generic.ins) do, so everything after it patches its parm area: the parameter file at
0x10480 and the initrd's start and size, as the layout's tools write them (16 bytes at
0x10408 as lorax's initrd.addrsize; two 4-byte files at 0x1040C/0x10414 as Ubuntu's
initrd.off/initrd.siz). The firmware keeps its whole .INS file in a 2048-byte buffer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from composer.errors import KernelError
from composer.image.layout import (
    INITRD_SIZE_32,
    INITRD_START,
    INITRD_START_32,
    Layout,
)

PARMFILE_ADDRESS = 0x10480
INS_BUFFER = 2048  # netmain.c: static char cfgbuf[2048], NUL-terminated


@dataclass(frozen=True)
class InsFile:
    """One file of the tree: its name in the served directory, its load address and
    its bytes (None for the kernel and the initrd, which are copied, not held)."""

    name: str
    address: int
    data: bytes | None = None


def parameter_file(cmdline: bytes, area: int) -> bytes:
    """The command line as it lands at 0x10480: NUL-padded to the kernel's whole command
    line area, so no byte of the kernel's built-in line survives behind it (the area the
    combined image also rewrites)."""
    if len(cmdline) >= area:
        raise KernelError(f"the command line is {len(cmdline)} bytes; the kernel's area "
                          f"holds {area} with the NUL")
    return cmdline.ljust(area, b"\0")


def tree_files(name: str, layout: Layout, *, initrd_offset: int, initrd_size: int,
               cmdline: bytes, cmdline_area: int) -> list[InsFile]:
    """The files of the tree, in the order the .INS file loads them."""
    files = [InsFile(f"{name}.kernel", 0),
             InsFile(f"{name}.prm", PARMFILE_ADDRESS, parameter_file(cmdline, cmdline_area))]
    if layout.field_bits == 64:
        files.append(InsFile(f"{name}.addrsize", INITRD_START,
                             struct.pack(">QQ", initrd_offset, initrd_size)))
    else:
        files += [InsFile(f"{name}.off", INITRD_START_32, struct.pack(">I", initrd_offset)),
                  InsFile(f"{name}.siz", INITRD_SIZE_32, struct.pack(">I", initrd_size))]
    files.append(InsFile(f"{name}.initrd", initrd_offset))
    return files


def ins_text(title: str, files: list[InsFile]) -> str:
    """The .INS file: a `* ` comment line, then `NAME 0xADDRESS` lines."""
    comment = " ".join(title.split())
    lines = [f"* {comment}"] + [f"{f.name} 0x{f.address:08x}" for f in files]
    text = "\n".join(lines) + "\n"
    if len(text.encode()) >= INS_BUFFER:
        raise KernelError(f"the .INS file would be {len(text.encode())} bytes; QEMU's "
                          f"firmware reads at most {INS_BUFFER - 1}", hint="shorten its name")
    return text


@dataclass(frozen=True)
class InsEntry:
    """A line of an .INS file as read back."""

    name: str
    address: int


def parse_ins(text: str) -> list[InsEntry]:
    """The load lines of an .INS file, read as the firmware reads them (for `compose boot`
    and tests): the first line is a comment, empty lines are skipped, each other line is
    NAME, one space, ADDRESS (0x hexadecimal, else decimal)."""
    lines = text.split("\n")
    if not lines or not lines[0].startswith("* "):
        raise KernelError("not an .INS file: the first line must start with '* '")
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        name, space, address = line.partition(" ")
        if not space:
            raise KernelError(f".INS line {number}: no space between the file name and "
                              "its address")
        raw = address.strip()
        try:
            value = int(raw[2:], 16) if raw.startswith("0x") else int(raw, 10)
        except ValueError:
            raise KernelError(f".INS line {number}: {raw!r} is not an address") from None
        entries.append(InsEntry(name, value))
    return entries
