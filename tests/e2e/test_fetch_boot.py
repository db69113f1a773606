"""Fetching beyond TFTP, for real: recipes/pxelinux.yaml network-booted by the s390
firmware in qemu-system-s390x (`compose boot`), with a host HTTP server bound to
127.0.0.1 that the guest reaches as 10.0.2.2:PORT through QEMU's user network.

Two boots, each proving several things at once from its console:
- HTTP: only pxelinux.0 and pxelinux.cfg/default are on the TFTP server; that config
  INCLUDEs a missing URL (a 404, reported, no panic) and a URL that redirects (302) to the
  labels; the kernel and both initrds (the second 100 MB) come by absolute URLs; the
  guest has two cards and only the second (the firmware's boot device) reaches DHCP.
- TFTP: the same 100 MB initrd over TFTP, past 65,535 blocks (the block number rolls
  over), with progress lines on the console.
The second stage (tests/recipes/stage2.yaml) prints its command line and the names of
the files the extra initrd brought, then powers off.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import under_test
from http_server import HttpServer

ROOT = Path(__file__).resolve().parents[2]
MAC = "52:54:00:12:34:56"
BIG_MB = 100
pytestmark = [pytest.mark.qemu, pytest.mark.sysroot]


def compose(*args: object, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return under_test.compose(*args, cwd=cwd, timeout=timeout)


def newc(name: str, data: bytes, ino: int) -> bytes:
    """One newc cpio record (regular file, mode 0644)."""
    fields = [ino, 0o100644, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + "".join(f"{field:08X}" for field in fields).encode() + name.encode()
    head += b"\0" * (4 - len(head) % 4)
    return head + data + b"\0" * ((4 - len(data) % 4) % 4)


def big_initrd(path: Path, megabytes: int) -> None:
    """An uncompressed initrd holding /extra-big, MEGABYTES of random bytes."""
    with path.open("wb") as file:
        file.write(newc("extra-big", os.urandom(megabytes << 20), 1))
        file.write(newc("TRAILER!!!", b"", 0))


@pytest.fixture(scope="module")
def parts(sysroot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fetch-parts")
    for args in ([ROOT / "recipes/pxelinux.yaml", "-o", "pxelinux.0", "--set",
                  "on_failure=poweroff"],
                 [ROOT / "tests/recipes/stage2.yaml", "--initramfs", "stage2.img"]):
        done = compose(*args, "--sysroot", sysroot, cwd=out)
        assert done.returncode == 0, done.stderr
    shutil.copy(next((sysroot / "boot").glob("vmlinuz-*")), out / "vmlinuz")
    big_initrd(out / "big.img", BIG_MB)
    return out


def boot(tftp: Path, expect: str, timeout: float, *extra: object) -> tuple[int, str, str]:
    done = compose("boot", tftp / "pxelinux.0", "--tftp", tftp, "--mac", MAC, "--expect",
                   expect, "--timeout", timeout, "-v", *extra, cwd=tftp, timeout=timeout + 60)
    return done.returncode, done.stdout, done.stderr


def stage2_cmdline(console: str) -> str:
    found = re.search(r"STAGE2-CMDLINE<(.*)>", console)
    assert found, console[-3000:]
    # syslinux 6's line: BOOT_IMAGE=KERNEL first, initrd= left on it (docs/pxelinux.md).
    words = found.group(1).split(" ")
    assert words[0].startswith("BOOT_IMAGE="), found.group(1)
    return " ".join(word for word in words[1:] if not word.startswith("initrd="))


def progress(console: str, name: str) -> list[str]:
    return [line for line in console.splitlines() if line.startswith(f"pxeboot: {name}: ")]


def test_kernel_initrds_and_include_by_url_redirect_404_and_two_nics(
        parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    www, tftp = tmp_path / "www", tmp_path / "tftp"
    (www / "files").mkdir(parents=True)
    (www / "cfg").mkdir()
    (tftp / "pxelinux.cfg").mkdir(parents=True)
    shutil.copy(parts / "pxelinux.0", tftp)
    for name in ("vmlinuz", "stage2.img", "big.img"):
        (www / "files" / name).symlink_to(parts / name)
    with HttpServer(www, redirects={"/old/menu.cfg": (302, "/cfg/menu.cfg")}) as web:
        url = web.url  # as the host sees it; the guest reaches the same port on 10.0.2.2
        guest = {name: url(name, host="10.0.2.2") for name in (
            "missing.cfg", "old/menu.cfg", "files/vmlinuz", "files/stage2.img", "files/big.img")}
        (tftp / "pxelinux.cfg" / "default").write_text(
            f"INCLUDE {guest['missing.cfg']}\nINCLUDE {guest['old/menu.cfg']}\nDEFAULT http\n")
        (www / "cfg" / "menu.cfg").write_text(
            f"LABEL http\n  KERNEL {guest['files/vmlinuz']}\n"
            f"  INITRD {guest['files/stage2.img']},{guest['files/big.img']}\n"
            "  APPEND console=ttysclp0 scenario=http\n  IPAPPEND 2\n")
        code, console, log = boot(tftp, "STAGE2-FILE", 600, "--unwired-nics", 1)
        requests = list(web.requests)
    assert code == 0, console[-4000:] + log
    assert "Kernel panic" not in console
    # The 404 is reported, the boot goes on.
    assert f"warning: INCLUDE '{guest['missing.cfg']}' not found" in console
    # The redirect was followed to the labels, which exist only on the HTTP server.
    assert requests[:3] == ["GET /missing.cfg", "GET /old/menu.cfg", "GET /cfg/menu.cfg"]
    assert requests[3:] == ["GET /files/vmlinuz", "GET /files/stage2.img", "GET /files/big.img"]
    # Two cards; DHCP ran on the firmware's boot device (the second CCW device) alone, and
    # BOOTIF names that card.
    dhcp = [line for line in console.splitlines() if line.startswith("init: DHCP on ")]
    assert len(dhcp) == 1 and dhcp[0].endswith("(the boot device 0.0.0001)"), dhcp
    assert stage2_cmdline(console) == ("console=ttysclp0 scenario=http "
                                       "BOOTIF=01-" + MAC.replace(":", "-"))
    # The 100 MB initrd arrived whole (the second stage has its file) with progress lines.
    assert "STAGE2-FILE /extra-big" in console
    lines = progress(console, guest["files/big.img"])
    assert len(lines) >= 5, console[-4000:]
    assert lines[-1].startswith(f"pxeboot: {guest['files/big.img']}: {BIG_MB}.0 of {BIG_MB}.0 MB "
                                "(100%), ")
    with capsys.disabled():
        print(f"\n  [http] {lines[-1]}")


def test_100_mb_initrd_over_tftp(parts: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    tftp = tmp_path / "tftp"
    (tftp / "pxelinux.cfg").mkdir(parents=True)
    shutil.copy(parts / "pxelinux.0", tftp)
    for name in ("vmlinuz", "stage2.img", "big.img"):
        (tftp / name).symlink_to(parts / name)
    (tftp / "pxelinux.cfg" / "default").write_text(
        "DEFAULT tftp\nLABEL tftp\n  KERNEL vmlinuz\n  INITRD stage2.img,big.img\n"
        "  APPEND console=ttysclp0 scenario=tftp\n")
    # TFTP is lock-step: under TCG on a busy host it runs at 0.2-4 MB/s.
    code, console, log = boot(tftp, "STAGE2-FILE", 900)
    assert code == 0, console[-4000:] + log
    assert stage2_cmdline(console) == "console=ttysclp0 scenario=tftp"
    assert "STAGE2-FILE /extra-big" in console
    lines = progress(console, "big.img")
    assert len(lines) >= 5, console[-4000:]  # every 10 MB (TFTP gives no size up front)
    assert lines[-1].startswith(f"pxeboot: big.img: {BIG_MB}.0 MB, ")
    with capsys.disabled():
        print(f"\n  [tftp] {lines[-1]}")
