"""ELF headers, read in-process so that any architecture can be inspected on any host.

`ldd` runs the target's loader, which an x86 host cannot do for s390x; everything the
binary resolver needs (class, byte order, machine, PT_INTERP and the dynamic section)
sits in a few hundred bytes of headers, so this reader seeks to them instead of loading
whole libraries. It follows the loader's view: program headers only, because section
headers may be stripped from a binary that still runs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from composer.errors import InputError, ResolveError

ELF_MAGIC = b"\x7fELF"

ET_NAMES = {0: "none", 1: "relocatable", 2: "executable", 3: "shared object", 4: "core"}
ET_EXEC, ET_DYN = 2, 3

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
PN_XNUM = 0xFFFF
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29

EM_386, EM_MIPS, EM_PPC, EM_PPC64, EM_S390, EM_ARM = 3, 8, 20, 21, 22, 40
EM_X86_64, EM_AARCH64, EM_RISCV, EM_LOONGARCH = 62, 183, 243, 258
EM_SPARC, EM_SPARCV9 = 2, 43

ByteOrder = Literal["little", "big"]

# Architecture names as distributions and `uname -m` spell them, keyed by
# (e_machine, ELF class, byte order); the first matching key wins.
_ARCH_NAMES: dict[tuple[int, int | None, ByteOrder | None], str] = {
    (EM_S390, 64, "big"): "s390x",
    (EM_S390, 32, "big"): "s390",
    (EM_X86_64, 64, "little"): "x86_64",
    (EM_X86_64, 32, "little"): "x32",
    (EM_386, 32, "little"): "i386",
    (EM_AARCH64, 64, "little"): "aarch64",
    (EM_AARCH64, 64, "big"): "aarch64_be",
    (EM_ARM, 32, "little"): "arm",
    (EM_ARM, 32, "big"): "armeb",
    (EM_PPC64, 64, "big"): "ppc64",
    (EM_PPC64, 64, "little"): "ppc64le",
    (EM_PPC, 32, "big"): "ppc",
    (EM_RISCV, 64, "little"): "riscv64",
    (EM_RISCV, 32, "little"): "riscv32",
    (EM_MIPS, 64, "little"): "mips64el",
    (EM_MIPS, 64, "big"): "mips64",
    (EM_MIPS, 32, "little"): "mipsel",
    (EM_MIPS, 32, "big"): "mips",
    (EM_SPARCV9, 64, "big"): "sparc64",
    (EM_SPARC, 32, "big"): "sparc",
    (EM_LOONGARCH, 64, "little"): "loongarch64",
}

# Debian multiarch tuples (the directory names under /lib and /usr/lib).
_TRIPLETS: dict[str, tuple[str, ...]] = {
    "s390x": ("s390x-linux-gnu",),
    "s390": ("s390-linux-gnu",),
    "x86_64": ("x86_64-linux-gnu",),
    "x32": ("x86_64-linux-gnux32",),
    "i386": ("i386-linux-gnu",),
    "aarch64": ("aarch64-linux-gnu",),
    "aarch64_be": ("aarch64_be-linux-gnu",),
    "arm": ("arm-linux-gnueabihf", "arm-linux-gnueabi"),
    "armeb": ("armeb-linux-gnueabihf", "armeb-linux-gnueabi"),
    "ppc64": ("powerpc64-linux-gnu",),
    "ppc64le": ("powerpc64le-linux-gnu",),
    "ppc": ("powerpc-linux-gnu",),
    "riscv64": ("riscv64-linux-gnu",),
    "riscv32": ("riscv32-linux-gnu",),
    "mips64el": ("mips64el-linux-gnuabi64",),
    "mips64": ("mips64-linux-gnuabi64",),
    "mipsel": ("mipsel-linux-gnu",),
    "mips": ("mips-linux-gnu",),
    "sparc64": ("sparc64-linux-gnu",),
    "sparc": ("sparc-linux-gnu",),
    "loongarch64": ("loongarch64-linux-gnu",),
}

# Names users type for the same architecture (Debian ports, kernel ARCH, uname -m).
_ALIASES = {
    "amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64", "i686": "i386",
    "i586": "i386", "x86": "i386", "ppc64el": "ppc64le", "armhf": "arm", "armel": "arm",
    "riscv": "riscv64", "loong64": "loongarch64",
}


@dataclass(frozen=True, slots=True)
class Arch:
    """What the loader compares before it maps a library: ELF class, byte order, machine."""

    elf_class: int
    byte_order: ByteOrder
    machine: int

    @property
    def name(self) -> str:
        name = _ARCH_NAMES.get((self.machine, self.elf_class, self.byte_order))
        if name is not None:
            return name
        order = "LE" if self.byte_order == "little" else "BE"
        return f"machine {self.machine} ({self.elf_class}-bit {order})"

    @property
    def triplets(self) -> tuple[str, ...]:
        """Multiarch directory names, most likely first."""
        return _TRIPLETS.get(self.name, ())

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_name(cls, name: str) -> Arch:
        """The architecture a recipe or a kernel names, e.g. 's390x' or Debian's 'arm64'."""
        wanted = _ALIASES.get(name.lower(), name.lower())
        for (machine, elf_class, order), known in _ARCH_NAMES.items():
            if known == wanted and elf_class is not None and order is not None:
                return cls(elf_class, order, machine)
        raise InputError(
            f"unknown architecture {name!r}",
            hint="known: " + ", ".join(sorted(set(_ARCH_NAMES.values()))),
        )


class ElfError(ResolveError):
    """A file is not an ELF object, or its headers are cut short or inconsistent."""


@dataclass(frozen=True, slots=True)
class ElfInfo:
    """The parts of an ELF object that decide what the loader needs alongside it."""

    arch: Arch
    type: int
    flags: int
    interp: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...] | None
    runpath: tuple[str, ...] | None
    soname: str | None

    @property
    def type_name(self) -> str:
        return ET_NAMES.get(self.type, f"type {self.type}")

    @property
    def is_dynamic(self) -> bool:
        return self.interp is not None or bool(self.needed)


def elf_class_and_order(ident: bytes) -> tuple[int, ByteOrder] | None:
    """The class (32 or 64) and byte order that e_ident declares; None if it is no ELF's.

    The one place the identification bytes are judged: the resolver, the architecture
    check and the module reader all ask here.
    """
    if len(ident) < 6 or ident[:4] != ELF_MAGIC or ident[4] not in (1, 2) \
            or ident[5] not in (1, 2):
        return None
    return (32 if ident[4] == 1 else 64), ("little" if ident[5] == 1 else "big")


def identify(head: bytes) -> Arch | None:
    """The architecture an ELF header declares, from its first 20 bytes; None if not ELF."""
    found = elf_class_and_order(head)
    if found is None or len(head) < 20:
        return None
    elf_class, order = found
    return Arch(elf_class, order, int.from_bytes(head[18:20], order))


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == ELF_MAGIC


def read_elf(path: Path, *, name: str | None = None) -> ElfInfo:
    """Parse the headers of `path`; `name` (an image path) is what error messages show."""
    shown = name or str(path)
    with open(path, "rb") as f:
        return _Reader(f, shown).info()


@dataclass(frozen=True, slots=True)
class _Segment:
    """A program header's fields that the dynamic section and interpreter lookups need."""

    type: int
    offset: int
    vaddr: int
    filesz: int


class _Reader:
    def __init__(self, file: BinaryIO, name: str) -> None:
        self.file = file
        self.name = name
        self.size = file.seek(0, 2)

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ElfError(
                f"{self.name} is truncated or corrupt: its {what} (bytes {offset}.."
                f"{offset + length}) lies beyond the end of the file ({self.size} bytes)"
            )
        self.file.seek(offset)
        return self.file.read(length)

    def info(self) -> ElfInfo:
        ident = self.read(0, min(16, self.size), "identification")
        if ident[:4] != ELF_MAGIC:
            raise ElfError(
                f"{self.name} is not an ELF file (it starts with {ident[:4]!r})",
                hint="only ELF executables, shared libraries and #! scripts can be resolved",
            )
        found = elf_class_and_order(ident)
        if len(ident) < 16 or found is None:
            raise ElfError(f"{self.name} has an ELF magic but an invalid class or byte order")
        elf_class, order = found
        self.end = "<" if order == "little" else ">"
        self.wide = elf_class == 64
        layout = "HHIQQQIHHHHHH" if self.wide else "HHIIIIIHHHHHH"
        header = self.read(16, struct.calcsize(self.end + layout), "ELF header")
        (e_type, machine, _ver, _entry, phoff, shoff, flags, _ehsize, phentsize, phnum,
         shentsize, _shnum, _shstrndx) = struct.unpack(self.end + layout, header)
        if phnum == PN_XNUM:
            phnum = self._extended_phnum(shoff, shentsize)
        segments = self._segments(phoff, phentsize, phnum)
        interp = self._interp(segments)
        dynamic = self._dynamic(segments)
        return ElfInfo(
            arch=Arch(elf_class, order, machine),
            type=e_type,
            flags=flags,
            interp=interp,
            needed=tuple(s for tag, s in dynamic if tag == DT_NEEDED),
            rpath=_path_list(dynamic, DT_RPATH),
            runpath=_path_list(dynamic, DT_RUNPATH),
            soname=next((s for tag, s in dynamic if tag == DT_SONAME), None),
        )

    def _extended_phnum(self, shoff: int, shentsize: int) -> int:
        """With more than 0xfffe program headers the count moves to section 0's sh_info."""
        layout = "IIQQQQIIQQ" if self.wide else "IIIIIIIIII"
        raw = self.read(shoff, struct.calcsize(self.end + layout), "section header 0")
        return int(struct.unpack(self.end + layout, raw)[7])

    def _segments(self, phoff: int, phentsize: int, phnum: int) -> list[_Segment]:
        layout = "IIQQQQQQ" if self.wide else "IIIIIIII"
        entry = struct.calcsize(self.end + layout)
        if phnum and phentsize != entry:
            raise ElfError(
                f"{self.name} is corrupt: program header size {phentsize}, expected {entry}"
            )
        table = self.read(phoff, phnum * entry, "program header table")
        segments = []
        for fields in struct.iter_unpack(self.end + layout, table):
            if self.wide:
                p_type, _flags, offset, vaddr, _paddr, filesz = fields[:6]
            else:
                p_type, offset, vaddr, _paddr, filesz = fields[:5]
            segments.append(_Segment(p_type, offset, vaddr, filesz))
        return segments

    def _interp(self, segments: list[_Segment]) -> str | None:
        seg = next((s for s in segments if s.type == PT_INTERP), None)
        if seg is None:
            return None
        raw = self.read(seg.offset, seg.filesz, "PT_INTERP segment")
        return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    def _dynamic(self, segments: list[_Segment]) -> list[tuple[int, str]]:
        """(tag, string) for the string-valued dynamic entries, in file order."""
        seg = next((s for s in segments if s.type == PT_DYNAMIC), None)
        if seg is None:
            return []
        layout = self.end + ("qQ" if self.wide else "iI")
        entry = struct.calcsize(layout)
        raw = self.read(seg.offset, seg.filesz - seg.filesz % entry, "dynamic section")
        values: list[tuple[int, int]] = []
        strtab = strsz = None
        for tag, value in struct.iter_unpack(layout, raw):
            if tag == DT_NULL:
                break
            if tag == DT_STRTAB:
                strtab = value
            elif tag == DT_STRSZ:
                strsz = value
            elif tag in (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH):
                values.append((tag, value))
        if not values:
            return []
        if strtab is None or strsz is None:
            raise ElfError(f"{self.name} is corrupt: its dynamic section has no string table")
        table = self.read(self._file_offset(segments, strtab), strsz, "dynamic string table")
        return [(tag, _string_at(table, value, self.name)) for tag, value in values]

    def _file_offset(self, segments: list[_Segment], vaddr: int) -> int:
        for seg in segments:
            if seg.type == PT_LOAD and seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return seg.offset + vaddr - seg.vaddr
        raise ElfError(
            f"{self.name} is corrupt: its dynamic string table (address {vaddr:#x}) "
            "lies in no loadable segment"
        )


def _string_at(table: bytes, offset: int, name: str) -> str:
    end = table.find(b"\0", offset)
    if offset >= len(table) or end < 0:
        raise ElfError(f"{name} is corrupt: a dynamic string lies outside its string table")
    return table[offset:end].decode("utf-8", "surrogateescape")


def _path_list(dynamic: list[tuple[int, str]], tag: int) -> tuple[str, ...] | None:
    """RPATH/RUNPATH as a list of directories; None when the tag is absent (it matters:
    an empty RUNPATH still switches off RPATH)."""
    found = [s for t, s in dynamic if t == tag]
    if not found:
        return None
    return tuple(d for s in found for d in s.split(":") if d)
