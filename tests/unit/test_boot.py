"""compose boot: the TFTP root, the PXELINUX config, the QEMU command line and the console
watch, before any QEMU runs. The real network boots are tests/e2e/test_boot_qemu.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.cli import boot as boot_command
from composer.cli import main
from composer.errors import BuildError, InputError
from composer.image.s390 import NETBOOT_LIMIT, SIGNATURE
from composer.qemu.boot import ConsoleWatch, Outcome, check_image
from composer.qemu.command import check_firmware, find_qemu, qemu_command
from composer.qemu.tftproot import (
    ENTRY_FORMAT,
    BootEntry,
    bootfile_in,
    lay_out_tftp,
    parse_entry,
    pxelinux_config,
)


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



def test_lab_cards_have_virtio_event_index_off(tmp_path: Path) -> None:
    """A lab guest (tap or the trunk's UDP) gets event_idx=off; QEMU's user network keeps
    QEMU's default card."""
    def card(command: list[str]) -> str:
        return command[command.index("-device") + 1]

    assert card(qemu_command("q", tmp_path, "b", tap="tap0")).endswith(",event_idx=off")
    assert card(qemu_command("q", tmp_path, "b", udp=4000)).endswith(",event_idx=off")
    assert "event_idx" not in card(qemu_command("q", tmp_path, "b"))

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


def test_the_boot_options_describe_entries_as_the_boot_module_parses_them() -> None:
    """The CLI takes the format from composer.qemu.tftproot: a build need not import
    composer.qemu.boot."""
    assert boot_command.ENTRY_FORMAT == ENTRY_FORMAT
