"""What a boot image or initramfs holds: its s390 header, its segments, its entries.

`open_image` is the one door through which inspect, extract and diff read a file: it
tells an s390 boot image (initramfs inside, located by the parm area) from a bare
initramfs, and checks the header's offsets against the file before anything is read.
The formatting functions return text; only `composer/cli/` prints it.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from composer.archive.codec import Codec, detect
from composer.archive.reader import InitramfsReader, Limits, Record, Segment
from composer.cpio import BINARY_MAGICS, DEVICES
from composer.errors import InputError
from composer.image.layout import PAGE, Recognised, read_placement, recognise
from composer.image.s390 import (
    HEADER_SIZE,
    SIGNATURE,
    SIGNATURE_OFFSET,
    BootHeader,
    looks_like_boot_image,
    read_header,
)
from composer.inputfile import UnreadableFile, open_regular
from composer.resolve.elf import ELF_MAGIC

SCHEMA = "composer.inspect/1"
S390_IMAGE = "s390-image"
INITRAMFS = "initramfs"


@dataclass(frozen=True)
class Image:
    """An opened input: where its initramfs lies, and the boot header if it has one."""

    path: Path
    kind: str
    file_size: int
    header: BootHeader | None
    initramfs_offset: int
    initramfs_size: int
    layout: Recognised | None = None  # which tool's convention put the initrd there


def _describe(head: bytes) -> str:
    """Name the usual wrong inputs so the user knows which file they grabbed."""
    if not head:
        return "it is empty"
    if head[:4] == ELF_MAGIC:
        return "it is an ELF file (a vmlinux or a program?)"
    if len(head) > 0x206 and head[0x202:0x206] == b"HdrS":
        return "it is an x86 bzImage"
    return f"it starts with the bytes {head[:8].hex(' ')}"


def classify(path: Path, f: Any) -> Image:
    """Decide what `f` is and where its initramfs lies, refusing what is neither."""
    size = os.fstat(f.fileno()).st_size
    head = f.read(HEADER_SIZE + 8)
    if looks_like_boot_image(head):
        header = read_header(f, str(path))
        placement = read_placement(head, size)
        header = replace(header, initrd_offset=placement.offset, initrd_size=placement.size)
        start, length = placement.offset, placement.size
        if not length:
            start = 0
        elif start < HEADER_SIZE or start + length > size:
            raise InputError(
                f"{path}: the boot header puts the initramfs at offset {start} with size "
                f"{length}, outside the file's {size} bytes after the kernel header"
            )
        page_before = os.pread(f.fileno(), PAGE, start - PAGE) if length else b""
        return Image(path, S390_IMAGE, size, header, start, length,
                     recognise(placement, page_before))
    if head[SIGNATURE_OFFSET:SIGNATURE_OFFSET + len(SIGNATURE)] == SIGNATURE:
        raise InputError(f"{path} looks like a truncated s390 boot image: {size} bytes, "
                         f"but the kernel header alone takes {HEADER_SIZE:#x}")
    if head[:1] not in (b"0", b"\0") and head[:2] not in BINARY_MAGICS and \
            detect(head) is None:
        raise InputError(f"{path} is neither an s390 boot image nor an initramfs: "
                         f"{_describe(head)}")
    return Image(path, INITRAMFS, size, None, 0, size)


@contextmanager
def open_image(path: Path, limits: Limits | None = None) -> Iterator[tuple[Image, InitramfsReader]]:
    """The image's description and a reader over its initramfs (empty if it has none)."""
    try:
        opened = open_regular(path)
    except UnreadableFile as error:
        raise InputError(f"{path} {error.message}; inspect, extract and diff read regular "
                         "files only") from None
    with opened as f:
        image = classify(path, f)
        name = str(path) if image.header is None else \
            f"{path} (initramfs at offset {image.initramfs_offset})"
        yield image, InitramfsReader(f, start=image.initramfs_offset,
                                     length=image.initramfs_size, limits=limits, name=name)


@dataclass(frozen=True)
class Inspection:
    image: Image
    segments: tuple[Segment, ...]
    records: tuple[Record, ...]


def inspect_file(path: Path, limits: Limits | None = None) -> Inspection:
    """Read every header of the file (file data is skipped, never held)."""
    with open_image(path, limits) as (image, reader):
        records = tuple(reader.records())
        return Inspection(image, tuple(reader.segments), records)


# --- JSON (docs/inspect-json.md is the contract) -----------------------------------


def header_json(header: BootHeader | None) -> dict[str, Any] | None:
    if header is None:
        return None
    return {
        "kernel_version": header.kernel_version,
        "initrd_offset": header.initrd_offset,
        "initrd_size": header.initrd_size,
        "cmdline": header.cmdline,
        "max_cmdline": header.max_cmdline,
        "raw_max_cmdline": header.raw_max_cmdline,
    }


def record_json(record: Record) -> dict[str, Any]:
    device = record.kind in DEVICES
    return {
        "segment": record.segment,
        "archive": record.archive,
        "path": record.path,
        "name": record.name,
        "type": record.kind,
        "mode": f"{record.permissions:04o}",
        "uid": record.uid,
        "gid": record.gid,
        "size": record.size,
        "mtime": record.mtime,
        "nlink": record.nlink,
        "ino": record.ino,
        "target": record.target,
        "major": record.rdev_major if device else None,
        "minor": record.rdev_minor if device else None,
        "format": record.format,
    }


def segment_json(segment: Segment, image: Image) -> dict[str, Any]:
    return {
        "index": segment.index,
        "offset": segment.offset,
        "file_offset": image.initramfs_offset + segment.offset,
        "compression": str(segment.codec),
        "stored_size": segment.stored_size,
        "size": segment.size,
        "archives": segment.archives,
        "members": segment.members,
        "entries": segment.entries,
        "kernel_caveat": segment.caveat,
    }


def layout_json(layout: Recognised | None) -> dict[str, Any] | None:
    if layout is None:
        return None
    return {"name": layout.name, "field_bits": layout.field_bits, "used_by": layout.used_by}


def inspection_json(result: Inspection) -> dict[str, Any]:
    image = result.image
    return {
        "schema": SCHEMA,
        "file": str(image.path),
        "type": image.kind,
        "size": image.file_size,
        "header": header_json(image.header),
        "layout": layout_json(image.layout),
        "initramfs": {"offset": image.initramfs_offset, "size": image.initramfs_size},
        "segments": [segment_json(s, image) for s in result.segments],
        "entries": [record_json(r) for r in result.records],
    }


# --- plain text, like ls -l ----------------------------------------------------------


def printable(text: str) -> str:
    """A name safe to show on a terminal: control bytes and undecodable bytes escaped."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1] if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def mtime_text(mtime: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(min(mtime, 253402300799)))


def listing_line(record: Record) -> str:
    if record.kind in DEVICES:
        size = f"{record.rdev_major:>4}, {record.rdev_minor:>3}"
    else:
        size = f"{record.size:>9}"
    owner = f"{record.uid}/{record.gid}"
    line = (f"{stat.filemode(record.mode)} {record.nlink:>2} {owner:<7} {size} "
            f"{mtime_text(record.mtime)} {printable(record.name)}")
    if record.target is not None:
        line += f" -> {printable(record.target)}"
    return line


def header_lines(image: Image) -> list[str]:
    header = image.header
    if header is None:
        return [f"{printable(str(image.path))}: initramfs, {image.file_size} bytes"]
    legacy = " (0 at 0x10430: a kernel before 5.16)" if header.raw_max_cmdline == 0 else ""
    version = printable(header.kernel_version) if header.kernel_version else "unknown"
    lines = [
        f"{printable(str(image.path))}: s390 boot image, {image.file_size} bytes",
        f"  kernel version  {version}",
        f"  initrd          offset {header.initrd_offset:#x} ({header.initrd_offset}), "
        f"size {header.initrd_size}",
        *([f"  layout          {image.layout.describe()}"] if image.layout else []),
        f"  command line    {printable(repr(header.cmdline))}",
        f"  max length      {header.max_cmdline} bytes with the NUL{legacy}",
    ]
    if not header.initrd_size:
        lines.append("  no initramfs (initrd size 0)")
    return lines


def segment_line(segment: Segment, image: Image) -> str:
    where = f"offset {segment.offset}"
    if image.header is not None:
        where += f" (file offset {image.initramfs_offset + segment.offset})"
    if segment.codec is Codec.NONE:
        body = f"uncompressed, {segment.size} bytes"
    else:
        members = f" ({segment.members} members)" if segment.members > 1 else ""
        body = f"{segment.codec}{members}, {segment.stored_size} -> {segment.size} bytes"
    count = "1 entry" if segment.entries == 1 else f"{segment.entries} entries"
    if segment.archives > 1:
        count = f"{segment.archives} archives, {count}"
    return f"segment {segment.index} at {where}: {body}, {count}"


def inspection_lines(result: Inspection) -> list[str]:
    lines = header_lines(result.image)
    by_segment: dict[int, list[Record]] = {}
    for record in result.records:
        by_segment.setdefault(record.segment, []).append(record)
    for segment in result.segments:
        lines.append(segment_line(segment, result.image))
        if segment.caveat:
            lines.append(f"  note: {segment.caveat}")
        lines += [listing_line(r) for r in by_segment.get(segment.index, [])]
    return lines
