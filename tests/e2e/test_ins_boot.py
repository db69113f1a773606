"""An .INS tree (`compose RECIPE --ins DIR`) booted the way an HMC or QEMU's firmware
loads one: the firmware fetches RECIPE.ins by TFTP as its boot file, sees `* ` and loads
each listed file at its address (pc-bios/s390-ccw/netmain.c, handle_ins_cfg), then
starts the kernel. The kernel must find the initrd from the 32-bit fields that the
fixed-16m layout writes (Ubuntu's initrd.off/initrd.siz) and take the parameter file as
its command line. One boot; run it alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from under_test import compose

MARKER = "ins-tree-marker=7f3a"


@pytest.mark.qemu
def test_an_ins_tree_boots_through_the_firmware(sysroot: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    built = compose("pxelinux", "--sysroot", sysroot, "--ins", tree, "--layout", "fixed-16m",
                    "--cmdline", f"console=ttysclp0 {MARKER}", "-o", tmp_path / "img")
    assert built.returncode == 0, built.stderr
    ins = (tree / "pxelinux.ins").read_text()
    assert ins.splitlines()[1:] == [
        "pxelinux.kernel 0x00000000", "pxelinux.prm 0x00010480",
        "pxelinux.off 0x0001040c", "pxelinux.siz 0x00010414",
        "pxelinux.initrd 0x01000000"]
    # /init exists only in our initramfs: the kernel found it through the 32-bit fields.
    booted = compose("boot", tree / "pxelinux.ins", "--expect", "Run /init as init process",
                     "--timeout", "200", timeout=300)
    console = booted.stdout
    assert booted.returncode == 0, console[-3000:] + booted.stderr
    assert "Parsing .INS file" in console  # the firmware read the tree, not an image
    for name in ("pxelinux.kernel", "pxelinux.initrd", "pxelinux.off", "pxelinux.siz"):
        assert f"TFTP: Received {name}" in console
    assert f"Kernel command line: console=ttysclp0 {MARKER}" in console
