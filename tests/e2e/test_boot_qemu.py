"""compose boot's real network boots in qemu-system-s390x of an image the composer builds from
tests/recipes/boot-probe.yaml and the real Debian s390x sysroot (busybox, virtio_net with its
dependencies). The TFTP root, the PXELINUX config and the QEMU command line are
tests/unit/test_boot.py."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from composer.build.pipeline import BuildRequest, build
from composer.qemu.boot import Outcome, boot_image
from composer.qemu.tftproot import parse_entry
from under_test import COMPOSE

MARKER = "COMPOSE-BOOT-PROBE"
PROBE_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "boot-probe.yaml"


def build_probe(sysroot: Path, out: Path, **variables: str) -> Path:
    """The probe as a user builds it: the recipe, the real sysroot, the composer.
    VARIABLES override the recipe's (marker, then, fetch)."""
    build(BuildRequest(recipe=PROBE_RECIPE, sysroot=sysroot, image=out,
                       overrides=tuple(variables.items())))
    return out


def qemu_running(command: tuple[str, ...]) -> bool:
    """Whether a process with exactly this command line (unique temp paths) is alive."""
    wanted = "\0".join(command).encode() + b"\0"
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes() == wanted:
                return True
        except OSError:
            continue
    return False


def children_of(pid: int) -> list[Path]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces.
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if proc.name.isdigit() and fields[1] == str(pid):
                found.append(proc)
        except (OSError, IndexError):
            continue
    return found


@pytest.fixture
def probe(sysroot: Path, tmp_path: Path) -> Path:
    return build_probe(sysroot, tmp_path / "probe.img", then="sleep")


@pytest.mark.qemu
@pytest.mark.sysroot
def test_expect_succeeds_at_the_marker_and_stops_the_guest(probe: Path) -> None:
    result = boot_image(probe, expect=f"{MARKER} done", timeout=90)
    assert result.outcome is Outcome.MARKER and result.ok, result.console[-2000:]
    assert "Network boot starting" in result.console  # the firmware loaded it, not -kernel
    assert f"{MARKER} release=6." in result.console
    assert result.seconds_to_marker is not None and result.seconds_to_marker < 60
    assert not qemu_running(result.command)


@pytest.mark.qemu
@pytest.mark.sysroot
def test_guest_that_outlives_the_timeout_fails(probe: Path) -> None:
    result = boot_image(probe, expect="never printed", timeout=8)
    assert result.outcome is Outcome.TIMEOUT and not result.ok
    assert 8 <= result.elapsed < 20
    assert not qemu_running(result.command)


@pytest.mark.qemu
@pytest.mark.sysroot
def test_power_off_without_expect_succeeds(sysroot: Path, tmp_path: Path) -> None:
    image = build_probe(sysroot, tmp_path / "probe.img", then="poweroff")
    result = boot_image(image, timeout=90)
    assert result.outcome is Outcome.POWEROFF and result.ok, result.console[-2000:]
    assert f"{MARKER} done" in result.console


@pytest.mark.qemu
@pytest.mark.sysroot
def test_kernel_panic_fails_although_qemu_exits_zero(sysroot: Path, tmp_path: Path) -> None:
    image = build_probe(sysroot, tmp_path / "probe.img", then="exit")
    result = boot_image(image, timeout=90)
    assert result.outcome is Outcome.PANIC and not result.ok
    assert result.qemu_status == 0
    assert "Attempted to kill init" in result.console


@pytest.mark.qemu
@pytest.mark.sysroot
def test_guest_fetches_the_config_and_files_written_from_entries(
        sysroot: Path, tmp_path: Path) -> None:
    image = build_probe(sysroot, tmp_path / "probe.img", then="poweroff",
                        fetch="pxelinux.cfg/default initrd.img")
    kernel = next((sysroot / "boot").glob("vmlinuz-*"))
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(os.urandom(12345))
    result = boot_image(image, timeout=120, mac="52:54:00:0a:0b:0c", entries=[
        parse_entry(f"probe: {kernel} {initrd} console=ttysclp0 quiet"),
        parse_entry(f"other: {kernel}"),
    ])
    assert result.ok, result.console[-3000:]
    console = result.console
    assert "boot_file=pxelinux.0" in console
    assert "DEFAULT probe" in console
    assert f"KERNEL {kernel.name}" in console
    assert "APPEND console=ttysclp0 quiet" in console
    assert "fetched initrd.img bytes=12345" in console


@pytest.mark.qemu
@pytest.mark.sysroot
def test_user_tftp_dir_serves_the_image_from_a_subdirectory(
        sysroot: Path, tmp_path: Path) -> None:
    tftp = tmp_path / "tftp"
    (tftp / "s390x").mkdir(parents=True)
    image = build_probe(sysroot, tftp / "s390x" / "probe.img", then="poweroff",
                        fetch="s390x/probe.img")
    result = boot_image(image, tftp_dir=tftp, timeout=120)
    assert result.ok, result.console[-3000:]
    assert "boot_file=s390x/probe.img" in result.console
    assert f"fetched s390x/probe.img bytes={image.stat().st_size}" in result.console
    assert not (tftp / "pxelinux.0").exists()


@pytest.mark.qemu
@pytest.mark.sysroot
def test_ctrl_c_stops_the_guest(probe: Path, tmp_path: Path) -> None:
    command = [*COMPOSE, "boot", str(probe), "--timeout", "90",
               "--log", str(tmp_path / "console.log")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    for line in process.stdout:
        if MARKER in line or time.monotonic() > deadline:
            break
    children = children_of(process.pid)
    assert children, "compose boot should be running QEMU"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert not any(child.exists() for child in children)
    assert MARKER in (tmp_path / "console.log").read_text()
