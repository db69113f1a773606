"""Where the initrd goes in a combined s390 image, and which header fields say so.

Distributions disagree, so a packager must be able to write, and recognise, each:

- `s390-tools`: s390-tools' mk-s390image (and this composer by default) puts the initrd
  at the next 4 KiB boundary after the kernel and writes its start and size as the u64
  fields at 0x10408/0x10410.
- `fixed-16m`: debian-cd's gen-s390-cd-kernel.pl, Ubuntu's livecd-rootfs (ubuntu.ikr,
  ubuntu.ins: initrd.off 0x0001040c, initrd.siz 0x00010414, initrd 0x01000000) and KIWI
  put it at 16 MiB and write 32-bit fields at 0x1040C/0x10414, the low halves of those
  u64s (the high halves are left as a fresh kernel has them: zero).
- `fixed-32m`: lorax (Fedora/RHEL: generic.ins, INITRD_ADDRESS 0x02000000,
  initrd.addrsize at 0x00010408) puts it at 32 MiB with both u64 fields.

Reading tolerates a foreign image whose high halves are not zero: if the u64s point
outside the file but the 32-bit low halves fit it, those are what a 32-bit writer meant.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from composer.errors import KernelError

LayoutName = Literal["s390-tools", "fixed-16m", "fixed-32m"]
LAYOUT_NAMES: tuple[LayoutName, ...] = ("s390-tools", "fixed-16m", "fixed-32m")
DEFAULT_LAYOUT: LayoutName = "s390-tools"

INITRD_START = 0x10408
INITRD_SIZE = 0x10410
INITRD_START_32 = 0x1040C  # the low half of the u64 at 0x10408
INITRD_SIZE_32 = 0x10414  # the low half of the u64 at 0x10410
PAGE = 4096


@dataclass(frozen=True)
class Layout:
    """One convention: a fixed initrd offset (None: right after the kernel) and the width
    of the header fields its tools write."""

    name: LayoutName
    fixed_offset: int | None
    field_bits: Literal[32, 64]
    used_by: str


LAYOUTS: dict[str, Layout] = {
    "s390-tools": Layout("s390-tools", None, 64, "mk-s390image; composer's default"),
    "fixed-16m": Layout("fixed-16m", 0x1000000, 32,
                        "debian-cd gen-s390-cd-kernel.pl, Ubuntu livecd-rootfs, KIWI"),
    "fixed-32m": Layout("fixed-32m", 0x2000000, 64, "lorax (Fedora, RHEL)"),
}


def layout_named(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KernelError(f"unknown image layout {name!r}; choose one of "
                          f"{', '.join(LAYOUTS)}") from None


def initrd_offset(layout: Layout, kernel_size: int) -> int:
    """Where this layout puts the initrd behind a kernel of `kernel_size` bytes."""
    after_kernel = (kernel_size + PAGE - 1) // PAGE * PAGE
    if layout.fixed_offset is None:
        return after_kernel
    if after_kernel > layout.fixed_offset:
        raise KernelError(f"the kernel is {kernel_size:,} bytes, too big for the {layout.name} "
                          f"layout, whose initrd starts at {layout.fixed_offset:#x}",
                          hint="use the s390-tools layout (initrd right after the kernel)")
    return layout.fixed_offset


def header_fields(layout: Layout, offset: int, size: int) -> list[tuple[int, bytes]]:
    """(file offset, bytes) to write for the initrd's start and size.

    A 32-bit layout writes the low halves and zeroes the high halves, so that the kernel,
    which reads u64s, sees the same numbers whatever was there before."""
    if layout.field_bits == 64:
        return [(INITRD_START, struct.pack(">QQ", offset, size))]
    if offset > 0xFFFFFFFF or size > 0xFFFFFFFF:
        raise KernelError(f"an initrd of {size:,} bytes at {offset:#x} does not fit the "
                          f"32-bit fields of the {layout.name} layout")
    return [(INITRD_START, bytes(4)), (INITRD_START_32, struct.pack(">I", offset)),
            (INITRD_SIZE, bytes(4)), (INITRD_SIZE_32, struct.pack(">I", size))]


@dataclass(frozen=True)
class Placement:
    """Where a read image's header says the initrd is, and how that was read."""

    offset: int
    size: int
    field_bits: Literal[32, 64]


def read_placement(head: bytes, file_size: int) -> Placement:
    """The initrd's start and size from the parm area of `head` (>= 0x10418 bytes).

    The u64 fields win when they describe a range inside the file (or no initrd); else
    the 32-bit low halves, when those do."""
    start, size = struct.unpack_from(">QQ", head, INITRD_START)
    if size == 0 or start + size <= file_size:
        return Placement(start, size, 64)
    start32, size32 = start & 0xFFFFFFFF, size & 0xFFFFFFFF
    if size32 and start32 + size32 <= file_size:
        return Placement(start32, size32, 32)
    return Placement(start, size, 64)


@dataclass(frozen=True)
class Recognised:
    """The layout an image was found to follow, for inspect and diff."""

    name: str  # a LayoutName, or "custom" for an offset no known tool uses
    field_bits: Literal[32, 64]
    used_by: str

    def describe(self) -> str:
        fields = ("32-bit fields at 0x1040C/0x10414" if self.field_bits == 32
                  else "64-bit fields at 0x10408/0x10410")
        who = f" ({self.used_by})" if self.used_by else ""
        return f"{self.name}{who}, {fields}"


def recognise(placement: Placement, page_before: bytes) -> Recognised | None:
    """Which convention put the initrd where `placement` says; `page_before` is the 4 KiB
    before it. A fixed offset right behind a kernel that fills the page before it is the
    s390-tools rule that happened to land there; None without an initrd."""
    if not placement.size:
        return None
    kernel_ends_here = any(page_before)
    for layout in LAYOUTS.values():
        if layout.fixed_offset == placement.offset and not kernel_ends_here:
            # With zero high halves a 32-bit and a 64-bit reading agree: name the width
            # the layout's own tools write.
            bits: Literal[32, 64] = 32 if layout.field_bits == 32 else placement.field_bits
            return Recognised(layout.name, bits, layout.used_by)
    if placement.offset % PAGE == 0 and kernel_ends_here:
        tools = LAYOUTS["s390-tools"]
        return Recognised(tools.name, placement.field_bits, tools.used_by)
    return Recognised("custom", placement.field_bits, "")
