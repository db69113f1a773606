"""A synthetic /lib/modules tree of small but real kernel module files, for tests.

Each module is an ELF relocatable object (ET_REL) with a `.text` and a `.modinfo`
section holding the NUL-separated `key=value` strings the kernel's MODULE_*() macros
emit; by default big-endian ELF64 for s390 (EM_S390), like Debian's s390x modules.
readelf and pyelftools read them, so they test the reader against real tools rather than
against itself. Compressed variants are made with the same codecs kmod accepts.
"""

from __future__ import annotations

import gzip
import lzma
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

import zstandard

EM_S390 = 22
ET_REL = 1
SHT_PROGBITS, SHT_STRTAB = 1, 3
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4

RELEASE = "6.1.0-99-s390x"


def module_elf(
    modinfo: Sequence[str],
    *,
    elf_class: int = 64,
    byteorder: str = "big",
    machine: int = EM_S390,
    text: bytes = b"\x07\x07" * 8,
) -> bytes:
    """An ET_REL object whose `.modinfo` holds `modinfo` ("key=value" strings)."""
    order = ">" if byteorder == "big" else "<"
    word = "Q" if elf_class == 64 else "I"
    ehsize, shentsize = (64, 64) if elf_class == 64 else (52, 40)
    names = b"\0.text\0.modinfo\0.shstrtab\0"
    info = b"".join(entry.encode() + b"\0" for entry in modinfo)
    body = bytearray()
    sections = []  # (name offset, type, flags, offset, size, align)
    for name, kind, flags, content, align in (
        (1, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, text, 4),
        (7, SHT_PROGBITS, SHF_ALLOC, info, 1),
        (16, SHT_STRTAB, 0, names, 1),
    ):
        while (ehsize + len(body)) % 8:
            body.append(0)
        sections.append((name, kind, flags, ehsize + len(body), len(content), align))
        body += content
    while (ehsize + len(body)) % 8:
        body.append(0)
    shoff = ehsize + len(body)
    ident = b"\x7fELF" + bytes([2 if elf_class == 64 else 1, 2 if byteorder == "big" else 1, 1])
    header = ident.ljust(16, b"\0") + struct.pack(
        f"{order}HHI{word}{word}{word}IHHHHHH",
        ET_REL, machine, 1, 0, 0, shoff, 0, ehsize, 0, 0, shentsize, len(sections) + 1, 3,
    )
    table = b"\0" * shentsize
    for name, kind, flags, offset, size, align in sections:
        table += struct.pack(
            f"{order}II{word}{word}{word}{word}II{word}{word}",
            name, kind, flags, 0, offset, size, 0, 0, align, 0,
        )
    return header + bytes(body) + table


def compress(data: bytes, compression: str) -> bytes:
    if compression == "xz":
        return lzma.compress(data, check=lzma.CHECK_CRC32)
    if compression == "zst":
        return zstandard.ZstdCompressor().compress(data)
    if compression == "gz":
        return gzip.compress(data, mtime=0)
    return data


class ModTree:
    """Builds <root>/lib/modules/<release>/... one module at a time."""

    def __init__(self, root: Path, release: str = RELEASE) -> None:
        self.root = root
        self.release = release
        self.directory = root / "lib" / "modules" / release
        self.directory.mkdir(parents=True, exist_ok=True)

    def module(
        self,
        name: str,
        where: str = "kernel/drivers/misc",
        *,
        depends: Iterable[str] = (),
        softdep: str = "",
        firmware: Iterable[str] = (),
        aliases: Iterable[str] = (),
        compression: str = "",
        vermagic: str | None = None,
        **elf: object,
    ) -> Path:
        """Write `<where>/<name>.ko[.xz|.zst|.gz]`; returns its relpath under the release."""
        entries = [f"alias={a}" for a in aliases]
        entries += [f"firmware={f}" for f in firmware]
        if softdep:
            entries.append(f"softdep={softdep}")
        entries += [
            "license=GPL",
            f"depends={','.join(depends)}",
            f"name={name.replace('-', '_')}",
            f"vermagic={vermagic if vermagic is not None else self.release} SMP mod_unload ",
        ]
        suffix = ".ko" + (f".{compression}" if compression else "")
        relpath = Path(where) / f"{name}{suffix}"
        path = self.directory / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(compress(module_elf(entries, **elf), compression))  # type: ignore[arg-type]
        return relpath

    def modules_dep(self, text: str) -> None:
        (self.directory / "modules.dep").write_text(text)

    def builtin(self, *relpaths: str, aliases: Iterable[tuple[str, str]] = ()) -> None:
        (self.directory / "modules.builtin").write_text("".join(p + "\n" for p in relpaths))
        info = b"".join(f"{m}.alias={a}".encode() + b"\0" for m, a in aliases)
        (self.directory / "modules.builtin.modinfo").write_bytes(info)

    def firmware(self, name: str, data: bytes = b"FW", compression: str = "",
                 where: str = "lib/firmware") -> Path:
        suffix = f".{compression}" if compression else ""
        path = self.root / where / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(compress(data, compression))
        return path
