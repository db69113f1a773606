"""The s390 kernel header reader on a kernel made here (the image stage byte by byte, through
`compose`, is tests/e2e/test_image.py)."""

from __future__ import annotations

import struct

import pytest

from composer.errors import KernelError
from composer.image.s390 import parse_header
from kernelfactory import s390_kernel


def test_parse_header_reads_the_parm_area() -> None:
    raw = bytearray(s390_kernel(max_cmdline=0))
    struct.pack_into(">QQ", raw, 0x10408, 0x200000, 1234)
    header = parse_header(bytes(raw))
    assert (header.initrd_offset, header.initrd_size) == (0x200000, 1234)
    assert (header.max_cmdline, header.raw_max_cmdline) == (896, 0)
    with pytest.raises(KernelError):
        parse_header(b"\x7fELF" + bytes(0x20000))
