"""The operator at the console, for real: recipes/pxelinux.yaml network-booted in
qemu-system-s390x, `compose boot --type` typing on the guest's SCLP console (QEMU's stdin
under -nographic) when a prompt appears, and the second stage (recipes/stage2.yaml)
printing the command line it got. Several answers are proven per boot (a typo, then the
right label), as each boot costs half a minute of TCG.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import under_test

ROOT = Path(__file__).resolve().parents[2]
MAC = "52:54:00:12:34:56"
MARKER = "STAGE2-CMDLINE<"
pytestmark = [pytest.mark.qemu, pytest.mark.sysroot]


def compose(*args: object, cwd: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return under_test.compose(*args, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def served(sysroot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TFTP root with pxelinux.0, the sysroot's kernel and the second stage."""
    root = tmp_path_factory.mktemp("tftp")
    for args in ([ROOT / "recipes/pxelinux.yaml", "-o", root / "pxelinux.0"],
                 [ROOT / "recipes/stage2.yaml", "--initramfs", root / "stage2.img"]):
        done = compose(*args, "--sysroot", sysroot, cwd=root)
        assert done.returncode == 0, done.stderr
    shutil.copy(next((sysroot / "boot").glob("vmlinuz-*")), root / "vmlinuz")
    (root / "pxelinux.cfg").mkdir()
    return root


def boot(root: Path, config: str, *options: str, expect: str = MARKER,
         timeout: float = 300) -> tuple[int, str, str]:
    """(exit code, console, compose's own messages) of a network boot of CONFIG."""
    (root / "pxelinux.cfg" / "default").write_text(config)
    done = compose("boot", root / "pxelinux.0", "--tftp", root, "--mac", MAC, "--expect",
                   expect, "--timeout", timeout, "-v", *options, cwd=root,
                   timeout=timeout + 60)
    return done.returncode, done.stdout, done.stderr


def stage2_cmdline(console: str) -> str:
    found = re.search(re.escape(MARKER) + r"(.*)>", console)
    assert found, console[-3000:]
    # syslinux 6's line: BOOT_IMAGE=KERNEL first, initrd= left on it (docs/pxelinux.md).
    words = found.group(1).split(" ")
    assert words[0].startswith("BOOT_IMAGE="), found.group(1)
    return " ".join(word for word in words[1:] if not word.startswith("initrd="))


def linux(label: str) -> str:
    return (f"LABEL {label}\n  KERNEL vmlinuz\n  INITRD stage2.img\n"
            f"  APPEND console=ttysclp0 label={label}\n")


# A kernel message (printk, "[    4.775487] IPv6: ... link becomes ready") can land in the
# middle of a line of ours, after a prompt: the boot is fast enough now to show boot:
# before the kernel's late network messages. The operator's lines are read without them.
PRINTK = re.compile(r"\[ *[0-9]+\.[0-9]+\] [^\n]*\n")


def in_order(text: str, *parts: str) -> None:
    text = PRINTK.sub("", text)
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"{part!r} not after offset {at}:\n{text[-4000:]}"
        at = found + len(part)


def test_prompt_typo_enter_for_default_then_a_label_with_words(served: Path) -> None:
    config = ("PROMPT 1\nDEFAULT gone from=default\n" + linux("one") + linux("two") +
              "LABEL gone\n  KERNEL not-there\n")
    code, console, _ = boot(served, config, "--type", "boot: =tow", "--type", "boot: =",
                            "--type", "boot: =two extra=1")
    assert code == 0, console[-3000:]
    in_order(console,
             "\nboot: tow\n", "kernel 'tow' not found on TFTP server 10.0.2.2",
             "\nboot: \n", "booting label 'gone' with 'from=default' from DEFAULT (Enter",
             "kernel 'not-there' not found on TFTP server",
             "\nboot: two extra=1\n", "booting label 'two' with 'extra=1' from the boot: prompt")
    assert stage2_cmdline(console) == "console=ttysclp0 label=two extra=1"


def test_menu_by_number_then_hidden_label_with_a_password_wrong_then_right(
        served: Path) -> None:
    stored = subprocess.run(["openssl", "passwd", "-6", "-salt", "consoletest", "s3cret"],
                            capture_output=True, text=True, check=True).stdout.strip()
    config = ("UI menu.c32\nMENU TITLE composer console test\n"
              "LABEL gone\n  MENU LABEL ^Gone (no such kernel)\n  KERNEL not-there\n" +
              linux("one").replace("LABEL one\n", "LABEL one\n  MENU LABEL ^One\n") +
              linux("rescue") + f"  MENU HIDE\n  MENU PASSWD {stored}\n")
    code, console, _ = boot(served, config, "--type", "boot: =1", "--type", "boot: =rescue",
                            "--type", "Password required: =wrong", "--type", "boot: =rescue",
                            "--type", "Password required: =s3cret")
    assert code == 0, console[-3000:]
    menu = PRINTK.sub("", console[console.index("composer console test"):
                                  console.index("\nboot: 1\n")])
    assert "   1) [G]one (no such kernel)\n   2) [O]ne\n" in menu
    assert "rescue" not in menu  # MENU HIDE
    in_order(console,
             "\nboot: 1\n", "booting label 'gone' from the menu ('1')",
             "kernel 'not-there' not found on TFTP server",
             "\nboot: rescue\n", "Password required: *****\n", "Wrong password.",
             "\nboot: rescue\n", "Password required: ******\n",
             "booting label 'rescue' from the menu ('rescue')")
    assert stage2_cmdline(console) == "console=ttysclp0 label=rescue"


def test_timeout_to_ontimeout_localboot_reipls_the_disk(served: Path, tmp_path: Path) -> None:
    """Nobody types: TIMEOUT 20 (2 s) runs ONTIMEOUT, a LOCALBOOT label: a re-IPL from
    the virtio-blk-ccw disk, which the firmware then reads; blank, it has no zIPL."""
    disk = tmp_path / "blank.img"
    with disk.open("wb") as f:
        f.truncate(16 << 20)
    config = ("PROMPT 1\nTIMEOUT 20\nDEFAULT one\nONTIMEOUT local\n" + linux("one") +
              "LABEL local\n  LOCALBOOT 0\n")
    code, console, _ = boot(served, config, "--disk", str(disk), "--reboot",
                            expect="No zIPL section")
    assert code == 0, console[-3000:]
    in_order(console,
             "\nboot: \n", "booting label 'local' from ONTIMEOUT (timeout at boot:)",
             "LOCALBOOT 0: re-IPL from CCW device 0.0.0001",
             "LOADPARM", "Using virtio-blk.", "No zIPL section")
    assert MARKER not in console
