"""compose boot: the TFTP root, the PXELINUX config, the QEMU command line, and real network
boots in qemu-system-s390x of an image the composer builds from tests/recipes/boot-probe.yaml
and the real Debian s390x sysroot (busybox, virtio_net with its dependencies)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from composer.boot import ConsoleWatch, Outcome, boot_image, check_image
from composer.cli import main
from composer.errors import BuildError, InputError
from composer.image.s390 import NETBOOT_LIMIT, SIGNATURE
from composer.pipeline import BuildRequest, build
from composer.qemu import check_firmware, find_qemu, qemu_command
from composer.tftproot import BootEntry, bootfile_in, lay_out_tftp, parse_entry, pxelinux_config
from under_test import COMPOSE

MARKER = "COMPOSE-BOOT-PROBE"
PROBE_RECIPE = Path(__file__).resolve().parent / "recipes" / "boot-probe.yaml"


def build_probe(sysroot: Path, out: Path, **variables: str) -> Path:
    """The probe as a user builds it: the recipe, the real sysroot, the composer.
    VARIABLES override the recipe's (marker, then, fetch)."""
    build(BuildRequest(recipe=PROBE_RECIPE, sysroot=sysroot, image=out,
                       overrides=tuple(variables.items())))
    return out


def fake_image(path: Path, size: int = 0x10480) -> Path:
    """Enough of an s390 image for the checks that run before QEMU starts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(bytes(8) + SIGNATURE)
        f.truncate(size)  # sparse: a 120 MiB image costs nothing
    return path


# --- entries and the PXELINUX config ---------------------------------------------------

def test_entry_with_kernel_initrds_and_append() -> None:
    entry = parse_entry("linux: vmlinuz a.img,b.img console=ttysclp0 quiet")
    assert entry == BootEntry("linux", "vmlinuz", ("a.img", "b.img"), "console=ttysclp0 quiet")


@pytest.mark.parametrize(("text", "initrds", "append"), [
    ("rescue: vmlinuz", (), ""),
    ("rescue: vmlinuz - quiet ro", (), "quiet ro"),
    ("rescue: vmlinuz root=/dev/ram0 ro", (), "root=/dev/ram0 ro"),
    ("rescue:vmlinuz initrd.gz", ("initrd.gz",), ""),
])
def test_second_word_is_initrd_unless_dash_or_an_assignment(
        text: str, initrds: tuple[str, ...], append: str) -> None:
    entry = parse_entry(text)
    assert (entry.label, entry.kernel, entry.initrds, entry.append) == (
        "rescue", "vmlinuz", initrds, append)


@pytest.mark.parametrize("text", ["vmlinuz initrd", "linux:", ": vmlinuz", "two words: vmlinuz"])
def test_malformed_entries_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="LABEL: KERNEL"):
        parse_entry(text)


def test_config_defaults_to_the_first_entry_and_lists_initrds() -> None:
    text = pxelinux_config([BootEntry("one", "k1", ("a", "b"), "x=1"), BootEntry("two", "k2")])
    lines = [line.strip() for line in text.splitlines()]
    assert lines[1] == "DEFAULT one"
    one = lines.index("LABEL one")
    assert lines[one + 1:one + 4] == ["KERNEL k1", "INITRD a,b", "APPEND x=1"]
    two = lines.index("LABEL two")
    assert lines[two + 1] == "KERNEL k2"
    assert not any(line.startswith(("INITRD", "APPEND")) for line in lines[two + 1:])


def test_tftp_root_holds_image_config_and_every_file_it_names(tmp_path: Path) -> None:
    image = fake_image(tmp_path / "probe.img")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for where, text in (("a", "kernel A"), ("b", "kernel B")):
        (tmp_path / where / "vmlinuz").write_text(text)
    (tmp_path / "initrd.img").write_text("initrd")
    root = tmp_path / "root"
    root.mkdir()
    lay_out_tftp(root, image, [
        parse_entry(f"first: {tmp_path}/a/vmlinuz {tmp_path}/initrd.img ro"),
        parse_entry(f"second: {tmp_path}/b/vmlinuz {tmp_path}/initrd.img"),
    ])
    assert (root / "pxelinux.0").read_bytes() == image.read_bytes()
    config = (root / "pxelinux.cfg" / "default").read_text()
    named = [line.split()[1] for line in config.splitlines()
             if line.strip().startswith(("KERNEL", "INITRD"))]
    assert named == ["vmlinuz", "initrd.img", "1/vmlinuz", "initrd.img"]
    assert (root / "vmlinuz").read_text() == "kernel A"
    assert (root / "1/vmlinuz").read_text() == "kernel B"


def test_entry_naming_a_missing_host_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a file"):
        lay_out_tftp(tmp_path, fake_image(tmp_path / "i"), [parse_entry("x: /no/such/kernel")])


def test_image_inside_the_tftp_dir_is_booted_where_it_lies(tmp_path: Path) -> None:
    image = fake_image(tmp_path / "s390x" / "boot.img")
    assert bootfile_in(tmp_path, image) == "s390x/boot.img"
    assert not (tmp_path / "pxelinux.0").exists()


def test_image_outside_is_copied_but_a_different_pxelinux_0_is_kept(tmp_path: Path) -> None:
    tftp = tmp_path / "tftp"
    tftp.mkdir()
    image = fake_image(tmp_path / "probe.img")
    assert bootfile_in(tftp, image) == "pxelinux.0"
    assert (tftp / "pxelinux.0").read_bytes() == image.read_bytes()
    assert bootfile_in(tftp, image) == "pxelinux.0"  # same bytes: fine
    other = fake_image(tmp_path / "other.img", 0x20000)
    with pytest.raises(InputError, match="differs"):
        bootfile_in(tftp, other)
    assert (tftp / "pxelinux.0").read_bytes() == image.read_bytes()


# --- checks before QEMU starts ---------------------------------------------------------

def test_image_over_the_firmware_limit_is_refused(tmp_path: Path) -> None:
    check_image(fake_image(tmp_path / "max.img", NETBOOT_LIMIT))
    with pytest.raises(InputError, match="125,820,928"):
        check_image(fake_image(tmp_path / "big.img", NETBOOT_LIMIT + 1))


def test_something_else_than_an_s390_image_is_refused(tmp_path: Path) -> None:
    elf = tmp_path / "vmlinux"
    elf.write_bytes(b"\x7fELF" + bytes(0x20000))
    with pytest.raises(InputError, match="not an s390 kernel boot image"):
        check_image(elf)


def test_missing_qemu_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        find_qemu(str(tmp_path / "qemu-system-s390x"))
    assert "qemu-system-misc" in str(caught.value)


def test_missing_firmware_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        check_firmware(str(tmp_path / "bin" / "qemu"), dirs=[tmp_path])
    assert "s390-netboot.img" in str(caught.value)
    assert "qemu-system-data" in str(caught.value)


def test_cli_errors_are_one_line_with_the_right_exit_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = fake_image(tmp_path / "probe.img")
    assert main(["boot", str(image), "--qemu", str(tmp_path / "nope")]) == 1
    assert "qemu-system-misc" in capsys.readouterr().err
    assert main(["boot", str(fake_image(tmp_path / "big", NETBOOT_LIMIT + 1))]) == 2
    assert "firmware" in capsys.readouterr().err
    assert main(["boot", str(image), "--entry", "no colon"]) == 2
    assert main(["boot", str(image), "--mac", "01:00:5e:00:00:01"]) == 2
    assert "multicast" in capsys.readouterr().err


def test_command_line_is_a_firmware_network_boot(tmp_path: Path) -> None:
    tftp = tmp_path / "a,b"
    command = qemu_command("qemu-system-s390x", tftp, "pxelinux.0", mac="52:54:00:aa:bb:cc")
    assert "-kernel" not in command
    assert command[command.index("-M") + 1] == "s390-ccw-virtio"
    assert command[command.index("-accel") + 1] == "tcg,tb-size=16"
    assert command[command.index("-netdev") + 1] == (
        f"user,id=n0,tftp={tmp_path}/a,,b,bootfile=pxelinux.0")
    assert command[command.index("-device") + 1] == (
        "virtio-net-ccw,netdev=n0,bootindex=1,mac=52:54:00:aa:bb:cc")
    assert {"-nographic", "-no-reboot"} <= set(command)
    kvm = qemu_command("qemu-system-s390x", tftp, "pxelinux.0", kvm=True)
    assert kvm[kvm.index("-accel") + 1] == "kvm"


# --- reading the console ---------------------------------------------------------------

def test_marker_split_across_reads_is_found() -> None:
    watch = ConsoleWatch(expect="HELLO-THERE")
    assert watch.feed("noise HELLO") == "noise HELLO"
    assert watch.verdict is None
    watch.feed("-THERE\r\n")
    assert watch.verdict is Outcome.MARKER
    assert watch.text == "noise HELLO-THERE\n"


def test_crlf_split_across_reads_becomes_one_newline() -> None:
    watch = ConsoleWatch()
    assert watch.feed("line\r") == "line"
    assert watch.feed("\nnext\r\n") == "\nnext\n"


def test_panic_and_firmware_failures_end_the_run() -> None:
    panic = ConsoleWatch(expect="never")
    panic.feed("[ 3.0] Kernel pan")
    panic.feed("ic - not syncing: Attempted to kill init!")
    assert panic.verdict is Outcome.PANIC
    fallback = ConsoleWatch()
    fallback.feed("TFTP error: file not found: pxelinux.0\nTrying pxelinux.cfg files...\n")
    assert fallback.verdict is Outcome.NETBOOT_FAILED


# --- real network boots ----------------------------------------------------------------

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
