"""`compose inspect` on boot images and initramfs files made by composer and by others."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

import under_test
from hostile.corpus import archive, entry, link
from hostile.makers import compress, gnu_cpio, s390_image, sample_tree
from kernelfactory import write_kernel

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "inspect-json.md"


def compose(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return under_test.compose(*args, cwd=cwd, timeout=120)


def inspect_json(path: Path) -> dict[str, object]:
    result = compose("inspect", "--json", path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A boot image built by composer itself, with a device node and a symlink.

    No command line in the recipe: the fake kernel keeps its version string inside the
    command line area, which a recipe's command line would blank.
    """
    kernel = write_kernel(tmp_path / "vmlinuz", size=0x12345)
    (tmp_path / "r.yaml").write_text(
        "compression: xz\n"
        "files:\n  - {path: /etc/motd, content: hello}\n"
        "symlinks:\n  - {path: /bin/sh, target: busybox}\n"
        "devices:\n  - {path: /dev/console, type: char, major: 5, minor: 1}\n")
    done = compose("r.yaml", "--no-check", "--kernel", kernel, "-o", "pxelinux.0",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "pxelinux.0"


def test_a_composer_image_lists_header_segments_and_entries(built: Path) -> None:
    result = compose("inspect", built)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "s390 boot image" in out
    assert "kernel version  6.1.0-99-s390x (test@example) #1 SMP" in out
    assert "initrd          offset 0x13000 (77824), size " in out
    assert "command line    'root=/dev/ram0 ro'" in out
    assert "max length      4096 bytes with the NUL" in out
    assert re.search(r"^segment 0 at offset 0 \(file offset 77824\): xz, \d+ -> \d+ bytes, "
                     r"\d+ entries$", out, re.M)
    assert re.search(r"^crw------- +1 0/0 +5, +1 \d{4}-\d\d-\d\d \d\d:\d\d dev/console$",
                     out, re.M)
    assert re.search(r"^lrwxrwxrwx .* bin/sh -> busybox$", out, re.M)
    assert re.search(r"^-rw-r--r-- +1 0/0 +5 .* etc/motd$", out, re.M)


def test_json_gives_the_header_and_every_entry(built: Path) -> None:
    data = inspect_json(built)
    assert data["schema"] == "composer.inspect/1" and data["type"] == "s390-image"
    header = data["header"]
    assert isinstance(header, dict)
    assert header["cmdline"] == "root=/dev/ram0 ro"
    assert header["max_cmdline"] == header["raw_max_cmdline"] == 4096
    assert header["initrd_offset"] == 0x13000
    [segment] = data["segments"]  # type: ignore[misc]
    assert segment["compression"] == "xz"
    assert segment["file_offset"] == 0x13000
    entries = {e["path"]: e for e in data["entries"]}  # type: ignore[attr-defined]
    console = entries["/dev/console"]
    assert (console["type"], console["major"], console["minor"], console["mode"]) == (
        "char", 5, 1, "0600")
    assert entries["/bin/sh"]["target"] == "busybox"
    assert entries["/etc/motd"]["size"] == 5 and entries["/etc/motd"]["major"] is None


def _documented_keys() -> set[str]:
    return set(re.findall(r"^\| `([a-z_0-9]+)`", DOC.read_text(), re.M))


def test_every_json_key_is_documented(built: Path, tmp_path: Path) -> None:
    data = inspect_json(built)
    keys = set(data) | set(data["header"]) | set(data["initramfs"])  # type: ignore[arg-type]
    keys |= set(data["segments"][0]) | set(data["entries"][0])  # type: ignore[index]
    other = tmp_path / "other.img"
    other.write_bytes(archive(entry(b"x", data=b"1")))
    diff = json.loads(compose("diff", "--json", built, other).stdout)
    keys |= set(diff) | set(diff["a"]) | set(diff["removed"][0]) | set(diff["added"][0])
    assert keys <= _documented_keys(), keys - _documented_keys()


def test_initramfs_from_gnu_cpio_with_segments(tmp_path: Path) -> None:
    tree = sample_tree(tmp_path / "tree")
    plain = gnu_cpio(tree)
    path = tmp_path / "initrd.img"
    path.write_bytes(plain + compress(plain, "zstd") + compress(plain, "lz4-frame"))
    result = compose("inspect", path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}: initramfs, {path.stat().st_size} bytes"
    segments = [line for line in lines if line.startswith("segment ")]
    assert segments[0] == f"segment 0 at offset 0: uncompressed, {len(plain)} bytes, " \
                          f"{len(list(tree.rglob('*'))) + 1} entries"
    assert segments[1].startswith(f"segment 1 at offset {len(plain)}: zstd, ")
    assert "  note: LZ4 frame format: the kernel only reads legacy LZ4 (lz4 -l)" in lines
    assert any(line.startswith("-rwsr-xr-x ") and line.endswith(" bin/busybox")
               for line in lines)


def test_hostile_names_are_escaped_on_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "names.img"
    path.write_bytes(archive(entry(b"evil\x1b[2Jname\n", data=b"x"), entry(b"latin1-\xe9"),
                             link(b"l", b"\x1b]0;title\x07")))
    result = compose("inspect", path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "evil\\x1b[2Jname\\n" in result.stdout
    assert "latin1-\\xe9" in result.stdout
    assert "l -> \\x1b]0;title\\x07" in result.stdout
    assert json.loads(compose("inspect", "--json", path).stdout)["entries"][0]["name"] == \
        "evil\x1b[2Jname\n"


def test_an_image_without_initramfs_and_an_old_kernel(tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz", max_cmdline=0)
    result = compose("inspect", kernel)
    assert result.returncode == 0, result.stderr
    assert "no initramfs (initrd size 0)" in result.stdout
    assert "max length      896 bytes with the NUL (0 at 0x10430: a kernel before 5.16)" \
        in result.stdout


@pytest.mark.parametrize("cut", [0x10000, 0x13010])
def test_a_truncated_image_is_a_clear_error(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "cut.img"
    path.write_bytes(s390_image(archive(entry(b"x", data=b"y" * 100)))[:cut])
    result = compose("inspect", path)
    assert result.returncode == 2
    assert result.stderr.startswith("compose: error: ") and "Traceback" not in result.stderr
    assert "truncated" in result.stderr or "outside the file" in result.stderr


@pytest.mark.sysroot
def test_the_debian_kernel_header(sysroot: Path) -> None:
    [kernel] = sorted((sysroot / "boot").glob("vmlinuz-*"))
    result = compose("inspect", "--json", kernel)
    assert result.returncode == 0, result.stderr
    header = json.loads(result.stdout)["header"]
    release = kernel.name.removeprefix("vmlinuz-")
    assert header["kernel_version"].startswith(release + " ")
    assert header["max_cmdline"] == 4096 and header["initrd_size"] == 0
