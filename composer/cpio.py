"""The newc cpio format, the one place it is defined: its constants, the archive member
(`Record`, its kind an enum), its header written (`pack_header`) and read
(`parse_header`), and how a member's name is a path in the image (`path_parts`).

Facts from the kernel's Documentation/driver-api/early-userspace/buffer-format.rst and
init/initramfs.c: a 110-byte ASCII header (the magic and 13 eight-digit hex fields),
names and data padded to 4 bytes, the archive ended by a member named "TRAILER!!!".
The writer (`archive.newc`), the reader (`archive.reader`), the manifest's entry kinds,
inspect, extract and diff all take them from here, so no two of them can drift apart.
"""

from __future__ import annotations

import stat
import struct
from binascii import hexlify
from dataclasses import dataclass
from enum import StrEnum

from composer.errors import InputError

NEWC_MAGIC = b"070701"
CRC_MAGIC = b"070702"  # newc with a checksum of the file data
ODC_MAGIC = b"070707"  # the portable ASCII format, which the kernel does not read
BINARY_MAGICS = (b"\xc7\x71", b"\x71\xc7")  # old binary cpio, either byte order
HEADER_LEN = 110
ALIGN = 4  # headers+names and file data both end on a multiple of 4
TRAILER = "TRAILER!!!"
PATH_MAX = 4096  # the kernel's unpacker skips longer names and symlink targets
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
# The 13 fields as big-endian 32-bit words: their hex digits, most significant first,
# are the header's eight-digit fields. Packing checks the range (0..2**32-1), and
# hexlify and upper run in C: no number is formatted one field at a time.
HEADER_FIELDS = struct.Struct(">13I")
U32 = 0xFFFFFFFF


class Kind(StrEnum):
    """The kinds of archive member (sockets are read, never written)."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"
    SOCKET = "socket"


# The file-type bits that newc stores in c_mode, by kind, and back.
KIND_BITS: dict[Kind, int] = {
    Kind.FILE: stat.S_IFREG,
    Kind.DIR: stat.S_IFDIR,
    Kind.SYMLINK: stat.S_IFLNK,
    Kind.CHAR: stat.S_IFCHR,
    Kind.BLOCK: stat.S_IFBLK,
    Kind.FIFO: stat.S_IFIFO,
    Kind.SOCKET: stat.S_IFSOCK,
}
KIND_OF_BITS: dict[int, Kind] = {bits: kind for kind, bits in KIND_BITS.items()}
DEVICES = frozenset({Kind.CHAR, Kind.BLOCK})


def padding(length: int) -> int:
    """How many NULs bring `length` up to the next multiple of `ALIGN`."""
    return -length % ALIGN


def path_parts(name: str) -> tuple[str, ...]:
    """A member's name (or an image path) as the kernel walks it from the image root:
    its components, with empty and `.` ones dropped (`..` is kept, for callers to refuse)."""
    return tuple(p for p in name.split("/") if p not in ("", "."))


def image_path_of(name: str) -> str:
    """The absolute path in the image that an archive name or a path spelling means."""
    if "//" not in name and "/." not in name and name[:1] == "/" and name[-1:] != "/":
        return name  # the common case, already normal
    return "/" + "/".join(path_parts(name))


@dataclass(frozen=True, slots=True)
class Record:
    """One archive member's header, as stored (the name is not normalised), and where
    the reader found it. The writer packs the same fields (`pack_header`)."""

    name: str
    mode: int
    uid: int
    gid: int
    nlink: int
    mtime: int
    size: int
    ino: int = 0
    dev_major: int = 0
    dev_minor: int = 0
    rdev_major: int = 0
    rdev_minor: int = 0
    checksum: int = 0
    format: str = "newc"
    target: str | None = None
    segment: int = 0
    archive: int = 0
    offset: int = 0

    @property
    def kind(self) -> Kind:
        return KIND_OF_BITS[stat.S_IFMT(self.mode)]

    @property
    def permissions(self) -> int:
        return stat.S_IMODE(self.mode)

    @property
    def path(self) -> str:
        """The path inside the image, as the kernel resolves it from its root."""
        return image_path_of(self.name)


PAD = (b"", b"\0", b"\0\0", b"\0\0\0")
# The name's NUL and the padding that ends the header on a multiple of 4, by the
# name's length modulo 4: 110 + len(name) + 1 + pad is a multiple of 4.
NAME_END = tuple(b"\0" * (1 + padding(HEADER_LEN + 1 + n)) for n in range(ALIGN))


def pack_header(ino: int, mode: int, uid: int, gid: int, nlink: int, mtime: int, size: int,
                rmajor: int, rminor: int, name: bytes) -> bytes:
    """One newc header with its name and the padding that follows the name (the writer
    leaves the device of the archive and the checksum 0, as gen_init_cpio does)."""
    fields = (ino, mode, uid, gid, nlink, mtime, size, 0, 0, rmajor, rminor, len(name) + 1, 0)
    try:
        packed = HEADER_FIELDS.pack(*fields)
    except struct.error:
        value = next(v for v in fields if not 0 <= v <= U32)
        raise ValueError(f"{name.decode(errors='replace')}: header field {value} "
                         "does not fit newc's 32 bits") from None
    return NEWC_MAGIC + hexlify(packed).upper() + name + NAME_END[len(name) % ALIGN]


def parse_header(header: bytes, where: str) -> tuple[str, list[int]]:
    """The format ("newc" or "crc") and the 13 fields of a 110-byte header; an
    InputError naming the format when it is a cpio the kernel does not read."""
    magic = header[:6]
    if magic not in (NEWC_MAGIC, CRC_MAGIC):
        raise bad_magic(magic, where)
    values = []
    for i in range(6, HEADER_LEN, 8):
        text = header[i:i + 8]
        if not HEX_DIGITS.issuperset(text):
            raise InputError(f"{where}: cpio header field {text!r} is not 8 hex digits")
        values.append(int(text, 16))
    return ("crc" if magic == CRC_MAGIC else "newc"), values


def bad_magic(magic: bytes, where: str) -> InputError:
    if magic == ODC_MAGIC:
        return InputError(f"{where}: odc ({ODC_MAGIC.decode()}) cpio archive; the kernel "
                          f"only reads newc ({NEWC_MAGIC.decode()}) and crc "
                          f"({CRC_MAGIC.decode()})", hint="rebuild it with cpio -H newc")
    if magic[:2] in BINARY_MAGICS:
        return InputError(f"{where}: old binary cpio archive (cpio's default format); the "
                          "kernel only reads newc", hint="rebuild it with cpio -H newc")
    return InputError(f"{where}: no cpio header (expected {NEWC_MAGIC.decode()} or "
                      f"{CRC_MAGIC.decode()}, "
                      f"found {magic!r})")
