"""Kernel modules of the real Debian s390x sysroot: virtio_net's dependencies, .modinfo
against pyelftools, every module resolved, modules.dep against kmod's depmod, host busybox's
modprobe on what we wrote, and Debian's busybox modprobe bringing up eth0 in QEMU. The
synthetic trees are tests/unit/test_modules.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from composer.manifest import read_content
from composer.resolve.elfsection import elf_section
from composer.resolve.modules import ModuleIndex
from modoracle import busybox_root, dep_lines, install, modprobe_show, pyelftools_modinfo


@pytest.mark.sysroot
def test_real_virtio_net(sysroot: Path) -> None:
    index = ModuleIndex.load(sysroot)
    assert index.listed_deps is None  # Debian ships no modules.dep: .modinfo it is
    selection = index.select(names=["virtio_net"])
    assert selection.load_order() == ["failover", "net_failover", "virtio_net"]
    assert dep_lines(selection) == {
        "kernel/net/core/failover.ko": [],
        "kernel/drivers/net/net_failover.ko": ["kernel/net/core/failover.ko"],
        "kernel/drivers/net/virtio_net.ko": ["kernel/drivers/net/net_failover.ko",
                                             "kernel/net/core/failover.ko"],
    }
    # the virtio core is built in (modules.builtin says so: a request for it is satisfied);
    # virtio_ccw is built in through a bool option, so it is in neither list
    assert index.select(names=["virtio"]).builtin == ("virtio",)
    assert "virtio_ccw" not in index and "virtio_ccw" not in index.builtin


@pytest.mark.sysroot
def test_real_modinfo_matches_pyelftools(sysroot: Path) -> None:
    index = ModuleIndex.load(sysroot)
    for module in sorted(index.modules.values(), key=lambda m: m.relpath)[::25]:
        expected = pyelftools_modinfo(module.source)
        assert elf_section(module.source.read_bytes(), b".modinfo") == expected, module.relpath


@pytest.mark.sysroot
def test_real_all_modules_resolve_fast(sysroot: Path) -> None:
    started = time.perf_counter()
    index = ModuleIndex.load(sysroot)
    selection = index.select(all_=True)
    entries = selection.entries()
    elapsed = time.perf_counter() - started
    assert len(selection.modules) == len(index) > 2000
    assert len(entries) == len(index) + 3  # + modules.dep, modules.alias, modules.builtin
    assert elapsed < 5, f"{len(index)} modules took {elapsed:.2f}s"  # ~0.3 s measured here
    order = {name: i for i, name in enumerate(selection.load_order())}
    for module in selection.modules:
        assert all(order[d] < order[module.name] for d in index.depends(module.name)
                   if d in order)


@pytest.mark.sysroot
def test_real_modules_dep_agrees_with_kmod_depmod(sysroot: Path) -> None:
    """kmod's depmod (from symbols, not .modinfo) as the oracle: every module's line has
    the same dependencies; the order of independent ones may differ, both being valid."""
    if shutil.which("depmod") is None:
        pytest.skip("needs kmod's depmod on the host")
    index = ModuleIndex.load(sysroot)
    system_map = sysroot / "boot" / f"System.map-{index.release}"
    result = subprocess.run(["depmod", "-n", "-b", str(sysroot), "-F", str(system_map),
                             index.release], capture_output=True, text=True, check=True,
                            timeout=120)
    theirs = {}
    for line in result.stdout.split("\n# ", 1)[0].splitlines():
        head, _, tail = line.partition(":")
        theirs[head] = sorted(tail.split())
    ours = dep_lines(index.select(all_=True))
    assert {head: sorted(deps) for head, deps in ours.items()} == theirs


@pytest.mark.sysroot
def test_real_busybox_modprobe_loads_virtio_net_stack(sysroot: Path, tmp_path: Path) -> None:
    selection = ModuleIndex.load(sysroot).select(names=["virtio_net", "ext4"])
    root = busybox_root(tmp_path)
    install(selection, root)
    assert modprobe_show(root, "virtio_net") == [
        "kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
        "kernel/drivers/net/virtio_net.ko"]
    ext4 = modprobe_show(root, "ext4")
    assert ext4[-1] == "kernel/fs/ext4/ext4.ko"
    assert ext4[:-1] == dep_lines(selection)["kernel/fs/ext4/ext4.ko"][::-1]
    assert sorted(ext4) == ["kernel/fs/ext4/ext4.ko", "kernel/fs/jbd2/jbd2.ko",
                            "kernel/fs/mbcache.ko", "kernel/lib/crc16.ko"]
    # busybox ignores softdeps: ext4's and jbd2's `pre: crc32c` is only in the load order
    order = selection.load_order()
    assert order.index("crc32c_generic") < order.index("jbd2") < order.index("ext4")


BOOT_INIT = """#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "BEFORE: $(/bin/busybox ls /sys/class/net | /bin/busybox tr '\\n' ' ')"
/bin/busybox modprobe virtio_net; echo "MODPROBE-RC=$?"
/bin/busybox cat /proc/modules
echo "AFTER: $(/bin/busybox ls /sys/class/net | /bin/busybox tr '\\n' ' ')"
echo MODULES-TEST-DONE
/bin/busybox poweroff -f
"""


@pytest.mark.sysroot
@pytest.mark.qemu
def test_debian_busybox_modprobe_brings_up_eth0_in_qemu(sysroot: Path, tmp_path: Path) -> None:
    """The real thing: Debian's s390x busybox-static runs `modprobe virtio_net` against
    our modules.dep in an s390x guest, and the virtio-net-ccw device becomes eth0."""
    if shutil.which("qemu-system-s390x") is None or shutil.which("cpio") is None:
        pytest.skip("needs qemu-system-s390x and GNU cpio")
    index = ModuleIndex.load(sysroot)
    root = tmp_path / "initramfs"
    for entry in index.select(names=["virtio_net"]).entries():
        host = root / entry.path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_bytes(read_content(entry))
    for directory in ("bin", "dev", "proc", "sys"):
        (root / directory).mkdir(exist_ok=True)
    shutil.copy(sysroot / "bin/busybox", root / "bin/busybox")
    (root / "init").write_text(BOOT_INIT)
    (root / "init").chmod(0o755)
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    initrd = tmp_path / "initrd.cpio"
    with initrd.open("wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet"], cwd=root,
                       input="\n".join(names).encode(), stdout=out, check=True)
    kernel = sysroot / "boot" / f"vmlinuz-{index.release}"
    result = subprocess.run(
        ["qemu-system-s390x", "-M", "s390-ccw-virtio", "-m", "512", "-nographic",
         "-no-reboot", "-accel", "tcg,tb-size=16", "-kernel", str(kernel),
         "-initrd", str(initrd), "-append", "console=ttysclp0 quiet",
         "-netdev", "user,id=n0", "-device", "virtio-net-ccw,netdev=n0"],
        capture_output=True, text=True, errors="replace", timeout=180, check=False)
    console = result.stdout
    assert "MODULES-TEST-DONE" in console, console[-3000:]
    assert "MODPROBE-RC=0" in console
    assert re.search(r"BEFORE: lo \n", console)
    assert re.search(r"AFTER: eth0 lo \n", console)
    loaded = re.findall(r"^(\w+) \d+ \d+ .* Live", console, re.MULTILINE)
    assert sorted(loaded) == ["failover", "net_failover", "virtio_net"]
