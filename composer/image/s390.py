"""The s390 single boot image: a kernel "image" with an initrd appended and patched in.

The s390 kernel image is linked and loaded at address 0, so a file offset is a physical
address. Its parm area (arch/s390/boot, s390-tools netboot/mk-s390image) holds big-endian
u64 fields the kernel reads at start: where the initrd is, how big, and the command line.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from composer.cpio import CRC_MAGIC, NEWC_MAGIC
from composer.errors import KernelError
from composer.image.layout import DEFAULT_LAYOUT, LAYOUTS, Layout, header_fields
from composer.image.layout import initrd_offset as layout_offset
from composer.inputfile import UnreadableFile, open_regular
from composer.resolve.elf import ELF_MAGIC

SIGNATURE_OFFSET = 0x08
SIGNATURE = bytes.fromhex("02000018600000500200006860000050")
ENTRY_MARK_OFFSET = 0x10008
ENTRY_MARK = b"S390EP"

PARM_AREA = 0x10400
IPL_DEVICE = 0x10400
INITRD_START = 0x10408
INITRD_SIZE = 0x10410
OLDMEM_BASE = 0x10418
OLDMEM_SIZE = 0x10420
VERSION_POINTER = 0x10428
MAX_COMMAND_LINE_SIZE = 0x10430
COMMAND_LINE = 0x10480
HEADER_SIZE = COMMAND_LINE
LEGACY_COMMAND_LINE_SIZE = 896  # kernels before 5.16 leave 0x10430 at zero

PAGE = 4096
# The firmware's network boot loads the file at 0x2000 and needs it below 0x7800000.
NETBOOT_LIMIT = 0x7800000 - 0x2000
VERSION_STRING_MAX = 256


@dataclass(frozen=True)
class BootHeader:
    """The parm area and version string of an s390 kernel image, as read from its file."""

    kernel_version: str | None
    initrd_offset: int
    initrd_size: int
    cmdline: str
    max_cmdline: int
    raw_max_cmdline: int


def looks_like_boot_image(head: bytes) -> bool:
    return (
        len(head) >= ENTRY_MARK_OFFSET + len(ENTRY_MARK)
        and head[SIGNATURE_OFFSET : SIGNATURE_OFFSET + len(SIGNATURE)] == SIGNATURE
        and head[ENTRY_MARK_OFFSET : ENTRY_MARK_OFFSET + len(ENTRY_MARK)] == ENTRY_MARK
    )


def _what_else(head: bytes) -> str:
    """Name the common wrong inputs so the user knows which file they grabbed."""
    if head[:4] == ELF_MAGIC:
        return (
            "an ELF file (probably an uncompressed vmlinux); use the compressed boot image "
            "(arch/s390/boot/bzImage, installed as /boot/vmlinuz-*)"
        )
    if len(head) > 0x206 and head[0x202:0x206] == b"HdrS":
        return "an x86 bzImage, not an s390 kernel"
    if head[:2] == b"\x1f\x8b":
        return "a gzip stream, not an s390 kernel image (decompress it or pick /boot/vmlinuz-*)"
    if head[:6] in (NEWC_MAGIC, CRC_MAGIC):
        return "a cpio archive (an initramfs), not a kernel"
    if head[:4] == b"\xfd7zX" or head[:4] == b"\x28\xb5\x2f\xfd":
        return "a compressed stream, not an s390 kernel image"
    if len(head) < HEADER_SIZE and head[SIGNATURE_OFFSET : SIGNATURE_OFFSET + 16] == SIGNATURE:
        return f"truncated: {len(head)} bytes, but an s390 image has at least {HEADER_SIZE:#x}"
    if len(head) < HEADER_SIZE:
        return f"too short ({len(head)} bytes) to be an s390 kernel image"
    return "not an s390 kernel image (no IPL signature at 0x8 or no S390EP at 0x10008)"


def check_kernel(head: bytes, name: str) -> None:
    """Refuse anything that is not an s390 boot image, saying what it looks like instead."""
    if len(head) < HEADER_SIZE or not looks_like_boot_image(head):
        raise KernelError(f"kernel {name} is {_what_else(head)}")


def _u64(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from(">Q", data, offset)[0]
    return value


def _c_string(data: bytes, offset: int, limit: int) -> str:
    raw = data[offset : offset + limit]
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def parse_header(head: bytes, name: str = "image") -> BootHeader:
    """Read the parm area from the first bytes of a boot image (at least the header)."""
    check_kernel(head, name)
    raw_max = _u64(head, MAX_COMMAND_LINE_SIZE)
    max_cmdline = raw_max or LEGACY_COMMAND_LINE_SIZE
    pointer = _u64(head, VERSION_POINTER)
    version = None
    if 0 < pointer < len(head):
        version = _c_string(head, pointer, VERSION_STRING_MAX) or None
    return BootHeader(
        kernel_version=version,
        initrd_offset=_u64(head, INITRD_START),
        initrd_size=_u64(head, INITRD_SIZE),
        cmdline=_c_string(head, COMMAND_LINE, max_cmdline),
        max_cmdline=max_cmdline,
        raw_max_cmdline=raw_max,
    )


def read_header(f: BinaryIO, name: str = "image") -> BootHeader:
    """Read the header of an open boot image, following the version pointer if it is far."""
    f.seek(0)
    head = f.read(COMMAND_LINE + 0x10000)
    if len(head) >= HEADER_SIZE and looks_like_boot_image(head):
        pointer = _u64(head, VERSION_POINTER)
        if len(head) <= pointer < (1 << 32):
            f.seek(pointer)
            tail = f.read(VERSION_STRING_MAX)
            header = parse_header(head, name)
            version = tail.split(b"\0", 1)[0].decode("utf-8", errors="replace") or None
            return BootHeader(version, header.initrd_offset, header.initrd_size,
                              header.cmdline, header.max_cmdline, header.raw_max_cmdline)
    return parse_header(head, name)


def check_command_line_area(header: BootHeader, kernel_size: int, name: str) -> None:
    """A kernel cut short before the end of its command line area cannot be patched.

    Checked once, when the kernel is read: every later stage takes the header as sound.
    """
    if COMMAND_LINE + header.max_cmdline > kernel_size:
        raise KernelError(f"kernel {name} is truncated: {kernel_size} bytes, too short to hold "
                          f"its {header.max_cmdline}-byte command line area at "
                          f"{COMMAND_LINE:#x}")


def open_kernel(path: Path) -> BinaryIO:
    """The kernel file opened for reading; a directory, FIFO, device or socket is refused
    before any read (a FIFO would otherwise block the build forever)."""
    try:
        return open_regular(path)
    except UnreadableFile as error:
        raise KernelError(f"kernel {path} {error.message}") from None


def read_kernel(path: Path) -> BootHeader:
    """The boot header of the kernel file at `path`, refusing a file that cannot be one."""
    try:
        with open_kernel(path) as f:
            header = read_header(f, str(path))
            size = os.fstat(f.fileno()).st_size
    except OSError as error:
        raise KernelError(f"cannot read kernel {path}: {error.strerror}") from None
    check_command_line_area(header, size, str(path))
    return header


def release_of(version: str | None) -> str | None:
    """The `uname -r` part of a version string ("6.1.0-28-s390x (debian-kernel@...) #1 ...")."""
    if not version:
        return None
    first = version.split()[0]
    return first or None


def encode_cmdline(cmdline: str, max_cmdline: int) -> bytes:
    """The command line as the kernel reads it; too long is an error, never a truncation.

    Only the ends are stripped (the kernel does the same): inner spacing may be quoted.
    """
    data = cmdline.strip().encode()
    if b"\0" in data:
        raise KernelError("the command line contains a NUL byte")
    if len(data) + 1 > max_cmdline:
        raise KernelError(
            f"the command line is {len(data)} bytes, but this kernel accepts at most "
            f"{max_cmdline - 1} (its command line area holds {max_cmdline} bytes, "
            "including the terminating NUL)",
            hint="shorten kernel.cmdline",
        )
    return data


def write_kernel(out: BinaryIO, kernel: BinaryIO,
                 layout: Layout = LAYOUTS[DEFAULT_LAYOUT]) -> int:
    """Copy the kernel to `out` padded to where `layout` puts the initrd; return that."""
    offset = layout_offset(layout, os.fstat(kernel.fileno()).st_size)  # before any write
    size = 0
    while chunk := kernel.read(1 << 20):
        out.write(chunk)
        size += len(chunk)
    if size > offset:
        raise KernelError(f"the kernel grew to {size:,} bytes while it was being read")
    out.write(bytes(offset - size))
    return offset


def patch_image(out: BinaryIO, header: BootHeader, *, offset: int, size: int,
                cmdline: bytes | None, layout: Layout = LAYOUTS[DEFAULT_LAYOUT]) -> None:
    """Write the initrd location and the command line into a written image, in place.

    `header` comes from `read_kernel`, which has checked that the command line area fits;
    `cmdline` from `encode_cmdline`, which has checked that it fits the area with its NUL.
    None leaves the kernel's built-in line alone.
    """
    fd = out.fileno()
    for where, data in header_fields(layout, offset, size):
        os.pwrite(fd, data, where)
    if cmdline is None:
        return
    assert len(cmdline) < header.max_cmdline, "encode_cmdline checked the length"
    os.pwrite(fd, cmdline.ljust(header.max_cmdline, b"\0"), COMMAND_LINE)
