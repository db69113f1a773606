"""The newc cpio format's constants, the one place they are defined.

Facts from the kernel's Documentation/driver-api/early-userspace/buffer-format.rst and
init/initramfs.c: a 110-byte ASCII header (the magic and 13 eight-digit hex fields),
names and data padded to 4 bytes, the archive ended by a member named "TRAILER!!!".
The writer (`archive.newc`), the reader (`archive.reader`) and the manifest's entry
kinds all take them from here, so the two directions cannot drift apart.
"""

from __future__ import annotations

import stat
from enum import StrEnum

NEWC_MAGIC = b"070701"
CRC_MAGIC = b"070702"  # newc with a checksum of the file data
ODC_MAGIC = b"070707"  # the portable ASCII format, which the kernel does not read
HEADER_LEN = 110
ALIGN = 4  # headers+names and file data both end on a multiple of 4
TRAILER = "TRAILER!!!"
PATH_MAX = 4096  # the kernel's unpacker skips longer names and symlink targets


class Kind(StrEnum):
    """The kinds of entry an image can hold (sockets are read, never written)."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"


# The file-type bits that newc stores in c_mode, by entry kind.
KIND_BITS: dict[Kind, int] = {
    Kind.FILE: stat.S_IFREG,
    Kind.DIR: stat.S_IFDIR,
    Kind.SYMLINK: stat.S_IFLNK,
    Kind.CHAR: stat.S_IFCHR,
    Kind.BLOCK: stat.S_IFBLK,
    Kind.FIFO: stat.S_IFIFO,
}

# The other direction, for reading any archive: a socket may appear in one built elsewhere.
KIND_NAMES: dict[int, str] = {bits: str(kind) for kind, bits in KIND_BITS.items()} | {
    stat.S_IFSOCK: "socket",
}


def padding(length: int) -> int:
    """How many NULs bring `length` up to the next multiple of `ALIGN`."""
    return -length % ALIGN
