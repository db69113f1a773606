"""Initrd layouts of combined s390 images (composer/image/layout.py) and the .INS files
that load the same pieces separately (composer/image/ins.py), against the offsets the
distributions' own tools publish: Ubuntu's ubuntu.ins (initrd.off 0x0001040c, initrd.siz
0x00010414, initrd 0x01000000) and lorax's generic.ins (initrd 0x02000000,
initrd.addrsize 0x00010408)."""

from __future__ import annotations

import struct

import pytest

from composer.errors import KernelError
from composer.image.ins import ins_text, parameter_file, parse_ins, tree_files
from composer.image.layout import (
    LAYOUTS,
    Placement,
    header_fields,
    initrd_offset,
    read_placement,
    recognise,
)


def parm_area(start: int, size: int) -> bytes:
    head = bytearray(0x10480)
    head[0x10408:0x10418] = struct.pack(">QQ", start, size)
    return bytes(head)


def test_each_layout_puts_the_initrd_where_its_tools_do() -> None:
    assert initrd_offset(LAYOUTS["s390-tools"], 5066753) == 5070848  # next 4 KiB
    assert initrd_offset(LAYOUTS["s390-tools"], 5066752) == 5066752
    assert initrd_offset(LAYOUTS["fixed-16m"], 5066752) == 0x1000000
    assert initrd_offset(LAYOUTS["fixed-32m"], 5066752) == 0x2000000


def test_a_kernel_past_the_fixed_offset_is_refused() -> None:
    with pytest.raises(KernelError, match="too big for the fixed-16m layout"):
        initrd_offset(LAYOUTS["fixed-16m"], 0x1000001)


def test_32_bit_layouts_write_the_low_halves_and_zero_the_high_ones() -> None:
    image = bytearray(b"\xff" * 0x10420)
    for where, data in header_fields(LAYOUTS["fixed-16m"], 0x1000000, 1234):
        image[where:where + len(data)] = data
    assert image[0x1040C:0x10410] == struct.pack(">I", 0x1000000)
    assert image[0x10414:0x10418] == struct.pack(">I", 1234)
    assert struct.unpack_from(">QQ", image, 0x10408) == (0x1000000, 1234)
    assert header_fields(LAYOUTS["fixed-32m"], 0x2000000, 9) == [
        (0x10408, struct.pack(">QQ", 0x2000000, 9))]


def test_32_bit_fields_are_read_when_the_high_halves_hold_other_bytes() -> None:
    head = bytearray(parm_area(0x1000000, 4096))
    head[0x10408:0x1040C] = b"\x12\x34\x56\x78"
    head[0x10410:0x10414] = b"\x9a\xbc\xde\xf0"
    assert read_placement(bytes(head), 0x1001000) == Placement(0x1000000, 4096, 32)
    assert read_placement(parm_area(0x1000000, 4096), 0x1001000) == \
        Placement(0x1000000, 4096, 64)


def test_layouts_are_recognised_by_offset_and_the_gap_before_it() -> None:
    gap, kernel_tail = bytes(4096), b"\x07" * 4096
    ubuntu = recognise(Placement(0x1000000, 10, 64), gap)
    assert ubuntu is not None and (ubuntu.name, ubuntu.field_bits) == ("fixed-16m", 32)
    lorax = recognise(Placement(0x2000000, 10, 64), gap)
    assert lorax is not None and (lorax.name, lorax.field_bits) == ("fixed-32m", 64)
    tools = recognise(Placement(0x4D5000, 10, 64), kernel_tail)
    assert tools is not None and tools.name == "s390-tools"
    # A kernel that ends exactly at 16 MiB with its initrd behind it: mk-s390image's rule.
    after = recognise(Placement(0x1000000, 10, 64), kernel_tail)
    assert after is not None and after.name == "s390-tools"
    odd = recognise(Placement(0x1234567, 10, 64), gap)
    assert odd is not None and odd.name == "custom"
    assert recognise(Placement(0, 0, 64), gap) is None


def test_ins_files_list_the_pieces_as_ubuntu_and_lorax_do() -> None:
    ubuntu = tree_files("u", LAYOUTS["fixed-16m"], initrd_offset=0x1000000, initrd_size=77,
                        cmdline=b"console=ttysclp0", cmdline_area=896)
    text = ins_text("u test", ubuntu)
    assert text.splitlines() == ["* u test", "u.kernel 0x00000000", "u.prm 0x00010480",
                                 "u.off 0x0001040c", "u.siz 0x00010414",
                                 "u.initrd 0x01000000"]
    by_name = {f.name: f.data for f in ubuntu}
    assert by_name["u.off"] == struct.pack(">I", 0x1000000)
    assert by_name["u.siz"] == struct.pack(">I", 77)
    lorax = tree_files("l", LAYOUTS["fixed-32m"], initrd_offset=0x2000000, initrd_size=77,
                       cmdline=b"x", cmdline_area=896)
    assert [(e.name, e.address) for e in parse_ins(ins_text("l", lorax))] == [
        ("l.kernel", 0), ("l.prm", 0x10480), ("l.addrsize", 0x10408),
        ("l.initrd", 0x2000000)]
    assert {f.name: f.data for f in lorax}["l.addrsize"] == struct.pack(">QQ", 0x2000000, 77)


def test_the_parameter_file_covers_the_kernels_whole_line_area() -> None:
    data = parameter_file(b"console=ttysclp0", 896)
    assert len(data) == 896 and data.rstrip(b"\0") == b"console=ttysclp0"
    with pytest.raises(KernelError):
        parameter_file(b"x" * 896, 896)


def test_parse_ins_reads_addresses_as_the_firmwares_strtol_base_0() -> None:
    entries = parse_ins("* title\n\nkernel 0x00000000\nparm 66688\n")
    assert [(e.name, e.address) for e in entries] == [("kernel", 0), ("parm", 66688)]
    with pytest.raises(KernelError, match="first line"):
        parse_ins("kernel 0x0\n")
    with pytest.raises(KernelError, match="no space"):
        parse_ins("* t\nkernel\n")
