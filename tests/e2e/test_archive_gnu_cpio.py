"""The archive stage writes what GNU cpio writes for the same list, byte for byte.

GNU `cpio -o -H newc --reproducible` (device numbers dropped, inodes renumbered) reads a
tree staged from the composer's own entries, in the composer's order, every mtime set
to the epoch and every owner the test's user. Two header fields are GNU's own and are
normalised in its archive before the comparison, nothing else: c_ino, which GNU counts
from 0 and the composer from 1 (the kernel only uses inode numbers to join hard links),
and a directory's c_nlink, which GNU takes from the tree (2 + its subdirectories) and the
composer always writes as 2 (the kernel ignores it). GNU also fills its last 512-byte
block with NULs after the trailer, where the composer pads to 4 bytes only.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from composer.archive import write_initramfs
from composer.archive.codec import Compression
from composer.build.plan import plan
from composer.cpio import ALIGN, HEADER_LEN, TRAILER, Kind
from composer.manifest import Entry, Manifest
from composer.recipe import load_recipe

pytestmark = pytest.mark.skipif(shutil.which("cpio") is None, reason="needs GNU cpio")


def owned_by_us(entries: Sequence[Entry]) -> list[Entry]:
    """The entries as a tree staged by this user holds them: GNU cpio stores real owners."""
    return [replace(e, uid=os.getuid(), gid=os.getgid()) for e in entries
            if e.kind in (Kind.DIR, Kind.FILE, Kind.SYMLINK)]


def stage(entries: Sequence[Entry], root: Path) -> list[str]:
    """The entries as a tree under `root`, mtimes at the epoch; their names, in order."""
    names = []
    for entry in entries:
        name = entry.path.lstrip("/")
        target = root / name
        if entry.kind is Kind.DIR:
            target.mkdir()
        elif entry.kind is Kind.SYMLINK:
            target.symlink_to(entry.target or "")
        elif entry.source is not None:
            shutil.copyfile(entry.source, target)
        else:
            target.write_bytes(entry.data or b"")
        if entry.kind is not Kind.SYMLINK:
            target.chmod(entry.mode)
        names.append(name)
    for name in reversed(names):  # children first: creating them moved their parent's mtime
        os.utime(root / name, (0, 0), follow_symlinks=False)
    return names


def ours(entries: Sequence[Entry], path: Path) -> bytes:
    with open(path, "wb", buffering=0) as out:  # as the pipeline opens its output
        write_initramfs(entries, Compression(), out, epoch=0)
    return path.read_bytes()


def gnu_cpio(root: Path, names: Sequence[str]) -> bytes:
    done = subprocess.run(["cpio", "-o", "-H", "newc", "--reproducible", "--quiet"],
                          input="".join(f"{n}\n" for n in names).encode(), cwd=root,
                          capture_output=True, check=True)
    return done.stdout


def field(header: bytes | bytearray, index: int) -> int:
    return int(header[6 + 8 * index: 14 + 8 * index], 16)


def normalised(archive: bytes) -> bytes:
    """GNU's archive with c_ino counted from 1 and every directory's c_nlink 2, up to
    its trailer (the NULs of its last block checked and left out)."""
    out = bytearray(archive)
    at = 0
    while True:
        head = out[at: at + HEADER_LEN]
        assert head[:6] == b"070701", f"no newc header at {at}"
        size, namesize = field(head, 6), field(head, 11)
        name = bytes(out[at + HEADER_LEN: at + HEADER_LEN + namesize - 1])
        if name == TRAILER.encode():
            end = at + HEADER_LEN + namesize
            end += -end % ALIGN
            assert not any(out[end:]) and len(out) % 512 == 0
            return bytes(out[:end])
        out[at + 6: at + 14] = b"%08X" % (field(head, 0) + 1)
        if stat.S_ISDIR(field(head, 1)):
            out[at + 38: at + 46] = b"%08X" % 2
        at += HEADER_LEN + namesize
        at += -at % ALIGN + size
        at += -at % ALIGN


def assert_same_archive(entries: Sequence[Entry], tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    names = stage(entries, root)
    mine, theirs = ours(entries, tmp_path / "ours.cpio"), gnu_cpio(root, names)
    assert mine == normalised(theirs)


def test_module_tree_from_the_real_sysroot(sysroot: Path, tmp_path: Path) -> None:
    """Every file system module of the Debian kernel, modules.dep and modules.alias as
    the plan generates them, and the directories implied above them."""
    recipe = tmp_path / "fs.yaml"
    recipe.write_text("kernel: {firmware: false}\nmodules:\n  - pattern: 'fs/**'\n")
    entries = owned_by_us(plan(load_recipe(recipe), sysroot=sysroot).entries)
    files = [e for e in entries if e.kind is Kind.FILE]
    assert len(files) > 100 and any(e.source is None for e in files)  # generated ones too
    assert any(e.source is not None and e.source.stat().st_size >= 256 << 10 for e in files)
    assert_same_archive(entries, tmp_path)


def test_every_name_and_size_alignment(tmp_path: Path) -> None:
    """Names of every length modulo 4 (the header padding), contents of every size
    modulo 4 (the data padding), an empty file, a file big enough to be copied in the
    kernel, symlinks, and directories nested three deep."""
    data = tmp_path / "data"
    data.mkdir()
    manifest = Manifest()
    for n in range(9):
        source = data / f"f{n}"
        source.write_bytes(bytes(range(256)) * (n * 37) + b"x" * n)
        manifest.add(Entry(f"/d/{'n' * (n + 1)}", Kind.FILE, mode=0o640, source=source))
    big = data / "big"
    big.write_bytes(os.urandom(1 << 20) + b"tail")
    manifest.add(Entry("/d/e/f/big.bin", Kind.FILE, mode=0o755, source=big))
    manifest.add(Entry("/d/empty", Kind.FILE, data=b""))
    manifest.add(Entry("/d/inline", Kind.FILE, data=b"inline data\n"))
    manifest.add(Entry("/d/link", Kind.SYMLINK, target="nnn"))
    manifest.add(Entry("/d/e/abs", Kind.SYMLINK, target="/d/e/f/big.bin"))
    manifest.add(Entry("/d/e/g", Kind.DIR, mode=0o700))
    assert_same_archive(owned_by_us(manifest.entries()), tmp_path)
