"""The lab for the boot tests: real servers (dnsmasq, nginx) in a network namespace.

composer.qemu.lab makes the namespace, the bridge and the guest's tap, and runs the servers;
this module adds what the tests share: the parts of a boot (pxelinux.0 of the stock
recipe, the Debian kernel, the second stage), the TFTP and HTTP roots laid out as a site
would, and one boot with `compose boot --netns` through the compose under test. Every
test here needs root (the namespace); CI runs as root.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

import under_test
from composer.qemu.lab import Lab

ROOT = Path(__file__).resolve().parents[1]
MAC = "52:54:00:12:34:56"
BOOTIF = "01-" + MAC.replace(":", "-")


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab makes a network namespace: run as root (CI does)")
    for tool in ("dnsmasq", "nginx"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/setup installs it")


def build_parts(sysroot: Path, out: Path, *sets: str) -> Path:
    """pxelinux.0 (the stock recipe, --set SETS), stage2.img and vmlinuz in OUT."""
    sets_args = [arg for s in ("on_failure=poweroff", *sets) for arg in ("--set", s)]
    for args in ([ROOT / "recipes/pxelinux.yaml", "-o", "pxelinux.0", *sets_args],
                 [ROOT / "recipes/stage2.yaml", "--initramfs", "stage2.img"]):
        done = under_test.compose(*args, "--sysroot", sysroot, cwd=out, timeout=600)
        assert done.returncode == 0, done.stderr
    shutil.copy(next((sysroot / "boot").glob("vmlinuz-*")), out / "vmlinuz")
    return out


def site_roots(parts: Path, tmp: Path, config: str) -> tuple[Path, Path]:
    """A TFTP root with pxelinux.0 alone and a web root with the PXELINUX config CONFIG
    (pxelinux.cfg/site), the kernel and the second stage under boot/."""
    tftp, www = tmp / "tftp", tmp / "www"
    (www / "boot").mkdir(parents=True)
    (www / "pxelinux.cfg").mkdir()
    tftp.mkdir()
    shutil.copy(parts / "pxelinux.0", tftp)
    for name in ("vmlinuz", "stage2.img"):
        shutil.copy(parts / name, www / "boot" / name)
    (www / "pxelinux.cfg" / "site").write_text(config)
    return tftp, www


def boot(lab: Lab, image: Path, expect: str, timeout: float,
         *extra: object) -> subprocess.CompletedProcess[str]:
    card = ("--tap", lab.tap) if lab.udp_port is None else ("--udp", lab.udp_port)
    return under_test.compose(
        "boot", image, "--tftp", image.parent, "--netns", lab.netns, *card,
        "--mac", MAC, "--expect", expect, "--timeout", timeout, "-v", *extra,
        cwd=image.parent, timeout=timeout + 60)


def stage2_cmdline(console: str) -> str:
    found = re.search(r"STAGE2-CMDLINE<(.*)>", console)
    assert found, console[-4000:]
    return found.group(1)


def booted_with(console: str, *words: str) -> bool:
    """The second stage's command line holds WORDS (APPEND's, BOOTIF; what PXELINUX adds
    besides, like BOOT_IMAGE=, is another test's business)."""
    found = stage2_cmdline(console).split()
    assert set(words) <= set(found), found
    return True


def requests(lab: Lab) -> list[str]:
    """The paths nginx served (status 200), in order."""
    return [m.group(1) for m in re.finditer(r'"GET (\S+) HTTP/[\d.]+" 200 ',
                                            lab.log("nginx.access.log"))]


def addresses(lab: Lab) -> Sequence[str]:
    """Every address in the namespace, as `ip -o addr` shows them."""
    done = subprocess.run([*lab.exec_prefix(), "ip", "-o", "addr"], capture_output=True,
                          text=True, check=True)
    return [line.split()[3] for line in done.stdout.splitlines()]
