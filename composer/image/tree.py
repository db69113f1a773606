"""Writing an .INS tree (`--ins DIR`, `output.ins`) beside or instead of the combined image.

DIR receives NAME.kernel (the kernel file as it is), NAME.initrd (the initramfs the build
wrote), NAME.prm (the command line), the initrd's start and size as the layout writes
them, and NAME.ins that loads them all (composer/image/ins.py has the format). Each file
is an output of the build like the image: written whole or not at all, committed with
the others.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from composer.errors import BuildError
from composer.image.ins import ins_text, tree_files
from composer.image.kernel import Kernel
from composer.image.layout import Layout, initrd_offset
from composer.kernelcopy import copy_range
from composer.output import AtomicOutput, describe_os_error


@dataclass(frozen=True)
class ArchiveCopy:
    """Where the written initramfs lies: a file still being written, an offset, a size."""

    file: BinaryIO
    offset: int
    size: int


@dataclass(frozen=True)
class InsTree:
    """An .INS tree to write: its directory, the files' stem, the initrd layout."""

    directory: Path
    name: str
    layout: Layout

    def any_file(self) -> Path:
        return self.directory / f"{self.name}.ins"

    def paths(self) -> list[Path]:
        suffixes = (".ins", ".kernel", ".initrd", ".prm", ".addrsize", ".off", ".siz")
        return [self.directory / f"{self.name}{suffix}" for suffix in suffixes]


def _copy(out: BinaryIO, source: BinaryIO, offset: int, size: int) -> None:
    done = 0
    while done < size:
        n = copy_range(source.fileno(), out.fileno(), size - done, offset + done)
        if not n:
            break
        done += n
    while done < size:
        chunk = os.pread(source.fileno(), min(1 << 20, size - done), offset + done)
        if not chunk:
            raise BuildError("the initramfs was cut short while the .INS tree copied it")
        out.write(chunk)
        done += len(chunk)


def write_ins_tree(tree: InsTree, kernel: Kernel | None, cmdline: bytes | None,
                   release: str | None, outputs: ExitStack,
                   archive: ArchiveCopy | None) -> None:
    """Write every file of the tree into `outputs` (committed with the build's others).
    CMDLINE as the plan encoded it; None keeps the kernel's built-in line."""
    assert kernel is not None and archive is not None, "check_outputs: a tree has a kernel"
    try:
        tree.directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise describe_os_error(error, tree.directory) from None
    kernel_size = kernel.path.stat().st_size
    if cmdline is None:  # keep the kernel's own line, as the combined image does
        cmdline = kernel.header.cmdline.encode()
    files = tree_files(tree.name, tree.layout,
                       initrd_offset=initrd_offset(tree.layout, kernel_size),
                       initrd_size=archive.size, cmdline=cmdline,
                       cmdline_area=kernel.header.max_cmdline)
    title = f"{tree.name} (composer, kernel {release or 'unknown'}, " \
            f"{tree.layout.name} layout)"
    for item in files:
        path = tree.directory / item.name
        out = outputs.enter_context(AtomicOutput(path))
        try:
            if item.data is not None:
                out.write(item.data)
            elif item.name.endswith(".kernel"):
                with open(kernel.path, "rb") as source:
                    _copy(out, source, 0, kernel_size)
            else:
                _copy(out, archive.file, archive.offset, archive.size)
        except OSError as error:
            raise describe_os_error(error, path) from None
    ins_path = tree.directory / f"{tree.name}.ins"
    out = outputs.enter_context(AtomicOutput(ins_path))
    try:
        out.write(ins_text(title, files).encode())
    except OSError as error:
        raise describe_os_error(error, ins_path) from None
