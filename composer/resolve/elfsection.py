"""One section of an ELF object, found by name in its section header table.

Kernel modules are relocatable objects (ET_REL): what they declare sits in sections
(`.modinfo`), not in the program headers `composer.resolve.elf` reads for programs.
Only the ELF header, the section header table, the section names and the wanted
section are touched, so a mapped file costs a few pages. The layout is the System V
gABI's, for either class and byte order, so an s390x module is read on any host.
"""

from __future__ import annotations

import mmap
import struct

from composer.resolve.elf import ELF_MAGIC, elf_class_and_order

_SHN_XINDEX = 0xFFFF
# (e_shoff, e_shentsize/e_shnum/e_shstrndx offsets, section header layout picking
# sh_name, sh_offset and sh_size) per ELF class; from the System V gABI.
_LAYOUT = {
    1: ("I", 0x20, 0x2E, "I12xII16x", 40),
    2: ("Q", 0x28, 0x3A, "I4x16xQQ24x", 64),
}


class SectionError(ValueError):
    """The bytes are not an ELF object whose section table can be read."""


def elf_section(image: bytes | mmap.mmap, wanted: bytes) -> bytes | None:
    """The content of the section called `wanted`, or None if the object has none."""
    if len(image) < 0x34 or image[:4] != ELF_MAGIC:
        raise SectionError("not an ELF file")
    found = elf_class_and_order(image[:6])
    if found is None:
        raise SectionError(f"unknown ELF class {image[4]} or byte order {image[5]}")
    elf_class = 1 if found[0] == 32 else 2  # e_ident[EI_CLASS], which _LAYOUT is keyed by
    order = "<" if found[1] == "little" else ">"
    word, shoff_at, counts_at, header_format, entry_size = _LAYOUT[elf_class]
    (shoff,) = struct.unpack_from(order + word, image, shoff_at)
    shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", image, counts_at)
    if shoff == 0:
        return None
    if shentsize != entry_size:
        raise SectionError(f"section header size {shentsize}, expected {entry_size}")
    if shnum == 0 or shstrndx == _SHN_XINDEX:
        # More than 0xff00 sections: the real numbers sit in section header 0.
        first = image[shoff : shoff + entry_size]
        _, _, size0 = struct.unpack(order + header_format, first)
        (link0,) = struct.unpack_from(order + "I", first, 24 if elf_class == 1 else 40)
        shnum = shnum or size0
        shstrndx = link0 if shstrndx == _SHN_XINDEX else shstrndx
    table = image[shoff : shoff + shnum * entry_size]
    if len(table) != shnum * entry_size or shstrndx >= shnum:
        raise SectionError("section header table is truncated")
    headers = list(struct.iter_unpack(order + header_format, table))
    _, names_at, names_size = headers[shstrndx]
    names = image[names_at : names_at + names_size]
    key = wanted + b"\0"
    for name, offset, size in headers:
        if names[name : name + len(key)] == key:
            content = image[offset : offset + size]
            if len(content) != size:
                raise SectionError(f"section {wanted.decode()} runs past the end of the file")
            return bytes(content)
    return None
