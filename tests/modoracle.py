"""The oracles the module index is checked against: pyelftools for .modinfo, and host
busybox's modprobe (the same full modprobe, not modprobe-small, as Debian's busybox-static),
which reads the generated modules.dep in a chroot inside an unprivileged user namespace and
prints the insmod sequence (`-D`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from composer.manifest import Kind, read_content
from composer.resolve.modules import ModuleSelection


def pyelftools_modinfo(path: Path) -> bytes:
    with path.open("rb") as handle:
        section = ELFFile(handle).get_section_by_name(".modinfo")
        assert section is not None
        data: bytes = section.data()
        return data


def dep_lines(selection: ModuleSelection) -> dict[str, list[str]]:
    lines = {}
    for line in selection.modules_dep().decode().splitlines():
        head, _, tail = line.partition(":")
        lines[head] = tail.split()
    return lines


def busybox_root(tmp_path: Path) -> Path:
    """A chroot holding the host's busybox and its libraries, or skip."""
    busybox = shutil.which("busybox")
    if busybox is None or shutil.which("unshare") is None:
        pytest.skip("needs the host's busybox and unshare")
    root = tmp_path / "bbroot"
    ldd = subprocess.run(["ldd", busybox], capture_output=True, text=True, check=False).stdout
    for lib in re.findall(r"(/\S+) \(0x", ldd):
        (root / lib.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, root / lib.lstrip("/"))
    (root / "bin").mkdir(parents=True)
    shutil.copy(busybox, root / "bin/busybox")
    probe = subprocess.run(["unshare", "-r", "chroot", str(root), "/bin/busybox", "true"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no unprivileged chroot here: {probe.stderr.strip()}")
    return root


def install(selection: ModuleSelection, root: Path) -> None:
    """Write the entries into `root`, under the host's release, which is what busybox
    modprobe looks for (uname -r)."""
    old, new = f"/lib/modules/{selection.release}/", f"/lib/modules/{os.uname().release}/"
    for entry in selection.entries():
        host = root / entry.path.replace(old, new).lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        assert entry.kind is Kind.FILE
        host.write_bytes(read_content(entry))


def modprobe_show(root: Path, *args: str) -> list[str]:
    """`modprobe -D`: what busybox would insmod, in its order, as module paths."""
    result = subprocess.run(["unshare", "-r", "chroot", str(root), "/bin/busybox", "modprobe",
                             "-D", *args], capture_output=True, text=True, check=False,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    prefix = f"insmod /lib/modules/{os.uname().release}/"
    lines = result.stdout.splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix).split()[0] for line in lines]
