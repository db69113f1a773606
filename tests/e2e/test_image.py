"""The image stage, byte by byte: offsets 0x10408/0x10410/0x10480 of a produced image."""

from __future__ import annotations

import gzip
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from composer.image.s390 import parse_header
from kernelfactory import s390_kernel, write_kernel
from under_test import compose


def build(*args: object, cwd: Path) -> CompletedProcess[str]:
    """These images hold no /init: what is checked here is the header, not the boot."""
    return compose("r.yaml", "--no-check", *args, cwd=cwd)


def recipe(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(body)
    return path


def test_initrd_offset_size_and_cmdline_are_patched(tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz", size=0x12345)
    recipe(tmp_path, "files:\n  - {path: /hello, content: hi}\n"
                     "kernel: {cmdline: '  console=ttyS0 quiet  '}\n")
    done = build("--kernel", kernel, "-o", "img", "--initramfs", "initrd",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    image = (tmp_path / "img").read_bytes()
    initrd = (tmp_path / "initrd").read_bytes()
    kernel_bytes = kernel.read_bytes()
    offset = 0x13000  # 0x12345 rounded up to 4096
    assert image[0x10408:0x10410] == offset.to_bytes(8, "big")
    assert image[0x10410:0x10418] == len(initrd).to_bytes(8, "big")
    assert image[offset:] == initrd
    assert image[len(kernel_bytes) : offset] == bytes(offset - len(kernel_bytes))
    line = b"console=ttyS0 quiet"
    assert image[0x10480 : 0x10480 + len(line) + 1] == line + b"\0"
    assert image[0x10480 + len(line) : 0x10480 + 4096] == bytes(4096 - len(line))
    # Everything outside the patched fields is the kernel, unchanged.
    assert image[:0x10408] == kernel_bytes[:0x10408]
    assert image[0x10418:0x10480] == kernel_bytes[0x10418:0x10480]
    assert image[0x10480 + 4096 : len(kernel_bytes)] == kernel_bytes[0x10480 + 4096 :]


def test_without_cmdline_the_builtin_line_stays(tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz")
    recipe(tmp_path, "files:\n  - {path: /x, content: x}\n")
    assert build("--kernel", kernel, "-o", "img", cwd=tmp_path).returncode == 0
    header = parse_header((tmp_path / "img").read_bytes())
    assert header.cmdline == "root=/dev/ram0 ro"
    assert header.kernel_version == "6.1.0-99-s390x (test@example) #1 SMP"


@pytest.mark.parametrize(("raw_max", "limit"), [(4096, 4096), (0, 896)])
def test_cmdline_longer_than_the_kernel_maximum_is_an_error(tmp_path: Path, raw_max: int,
                                                            limit: int) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz", max_cmdline=raw_max)
    fits = "x" * (limit - 1)
    recipe(tmp_path, f"kernel: {{cmdline: '{fits}'}}\n")
    assert build("--kernel", kernel, "-o", "ok", cwd=tmp_path).returncode == 0
    recipe(tmp_path, f"kernel: {{cmdline: '{fits}y'}}\n")
    done = build("--kernel", kernel, "-o", "img", cwd=tmp_path)
    assert done.returncode == 2
    assert f"at most {limit - 1}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "img").exists()


def _elf() -> bytes:
    return b"\x7fELF\x02\x02\x01" + bytes(0x20000)


def _bzimage() -> bytes:
    data = bytearray(0x20000)
    data[0x202:0x206] = b"HdrS"
    return bytes(data)


@pytest.mark.parametrize(("content", "words"), [
    (_elf(), "ELF"),
    (_bzimage(), "x86 bzImage"),
    (gzip.compress(b"x" * 1000), "gzip"),
    (s390_kernel()[:0x10000], "truncated"),
    (bytes(range(256)) * 400, "not an s390 kernel image"),
], ids=["elf-vmlinux", "x86-bzimage", "gzip", "truncated", "random"])
def test_non_s390_kernels_are_refused_by_name(tmp_path: Path, content: bytes,
                                              words: str) -> None:
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(content)
    recipe(tmp_path, "files:\n  - {path: /x, content: x}\n")
    done = build("--kernel", kernel, "-o", "img", cwd=tmp_path)
    assert done.returncode == 2
    assert words in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "img").exists()


def test_cmdline_option_overrides_the_recipe(tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz")
    recipe(tmp_path, "files:\n  - {path: /x, content: x}\nkernel: {cmdline: from-recipe}\n")
    done = build("--kernel", kernel, "-o", "img", "--cmdline", "from-cli ro",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert parse_header((tmp_path / "img").read_bytes()).cmdline == "from-cli ro"
    too_long = build("--kernel", kernel, "-o", "img2", "--cmdline", "x" * 5000,
                       cwd=tmp_path)
    assert too_long.returncode == 2 and "--cmdline" in too_long.stderr
    assert not (tmp_path / "img2").exists()
