"""A kernel-shaped file: the s390 boot image header fields and nothing else.

Enough for the image stage's byte-level checks without the real 5 MB kernel; the real
kernel is used by the sysroot and QEMU tests.
"""

from __future__ import annotations

import struct
from pathlib import Path

SIGNATURE = bytes.fromhex("02000018600000500200006860000050")
VERSION_AT = 0x11800  # past the 4096-byte command line area at 0x10480


def s390_kernel(size: int = 0x12345, *, version: str = "6.1.0-99-s390x (test@example) #1 SMP",
                max_cmdline: int = 4096, builtin_cmdline: bytes = b"root=/dev/ram0 ro") -> bytes:
    image = bytearray(size)
    image[0x08:0x18] = SIGNATURE
    image[0x10008:0x1000E] = b"S390EP"
    struct.pack_into(">Q", image, 0x10428, VERSION_AT)
    struct.pack_into(">Q", image, 0x10430, max_cmdline)
    image[VERSION_AT : VERSION_AT + len(version) + 1] = version.encode() + b"\0"
    image[0x10480 : 0x10480 + len(builtin_cmdline)] = builtin_cmdline
    for i in range(0x20, 0x400):  # some non-zero "code" so padding bugs show
        image[i] = (i * 7) & 0xFF
    return bytes(image)


def write_kernel(path: Path, **kwargs: object) -> Path:
    path.write_bytes(s390_kernel(**kwargs))  # type: ignore[arg-type]
    return path
