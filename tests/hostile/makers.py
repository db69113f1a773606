"""Real archives for the tests, written by the tools people use (GNU cpio, bsdtar).

Compression goes through the command-line tools with the options a kernel needs
(`xz --check=crc32`, `lz4 -l`), so the reader is checked against their output rather
than against our own idea of each format.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kernelfactory import s390_kernel

COMPRESSORS: dict[str, list[str]] = {
    "gzip": ["gzip", "-9", "-n", "-c"],
    "bzip2": ["bzip2", "-c"],
    "lzma": ["lzma", "-c"],
    "xz": ["xz", "--check=crc32", "-c"],
    "zstd": ["zstd", "-q", "-c"],
    "lz4": ["lz4", "-l", "-q", "-c"],
    "lz4-frame": ["lz4", "-q", "-c"],
}
MTIME = 1_700_000_000


def compress(data: bytes, codec: str) -> bytes:
    if codec == "none":
        return data
    return subprocess.run(COMPRESSORS[codec], input=data, capture_output=True,
                          check=True).stdout


def sample_tree(root: Path) -> Path:
    """A small tree with every kind of entry a normal user can make."""
    (root / "bin").mkdir(parents=True)
    (root / "etc" / "ssl").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "bin" / "busybox").write_bytes(os.urandom(150_000))
    (root / "bin" / "busybox").chmod(0o4755)
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "init").write_text("#!/bin/sh\nexec /bin/sh\n")
    (root / "init").chmod(0o755)
    (root / "etc" / "motd").write_text("welcome\n")
    (root / "etc" / "motd").chmod(0o600)
    os.link(root / "etc" / "motd", root / "etc" / "motd.hard")
    (root / "etc" / "ssl" / "certs").symlink_to("/usr/share/ca-certificates")
    (root / "etc" / "empty.conf").write_bytes(b"")
    (root / "etc" / "name with spaces é").write_text("unicode\n")
    os.mkfifo(root / "etc" / "initctl", 0o600)
    (root / "empty").chmod(0o500)
    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)
    os.utime(root, (MTIME, MTIME))
    return root


def gnu_cpio(root: Path, fmt: str = "newc") -> bytes:
    """`find . | cpio -o -H fmt`: names come out as "bin/sh" and "."."""
    names = subprocess.run(["find", ".", "-print0"], cwd=root, capture_output=True,
                           check=True).stdout
    return subprocess.run(["cpio", "-o", "-0", "-H", fmt, "--quiet"], cwd=root, input=names,
                          capture_output=True, check=True).stdout


def bsdtar_newc(root: Path, *flags: str) -> bytes:
    """bsdtar's newc writer: names come out as "./bin/sh"; flags may add compression."""
    return subprocess.run(["bsdtar", "--format", "newc", *flags, "-cf", "-", "."], cwd=root,
                          capture_output=True, check=True).stdout


def s390_image(initrd: bytes, *, cmdline: bytes = b"root=/dev/ram0 ro",
               version: str = "6.1.0-99-s390x (test@example) #1 SMP",
               max_cmdline: int = 4096) -> bytes:
    """A kernel-shaped file with `initrd` appended at the next page and patched in."""
    image = bytearray(s390_kernel(version=version, max_cmdline=max_cmdline,
                                  builtin_cmdline=cmdline))
    image += bytes(-len(image) % 4096)
    struct.pack_into(">QQ", image, 0x10408, len(image), len(initrd))
    return bytes(image) + initrd


def tree_snapshot(root: Path, *, skip: Path | None = None) -> dict[str, tuple[int, ...]]:
    """Everything under root (lstat, contents' size and mtime), to prove nothing changed."""
    seen: dict[str, tuple[int, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            if here / name == skip:
                continue
            st = (here / name).lstat()
            seen[str((here / name).relative_to(root))] = (
                st.st_mode, st.st_size, st.st_mtime_ns, st.st_nlink)
    return seen
