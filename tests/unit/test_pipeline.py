"""The pipeline, called directly: load -> plan -> check outputs -> write.

A synthetic kernel (tests/kernelfactory.py) stands in for the real one: these tests are
about what the pipeline writes where and what it refuses before writing, not about
booting (tests/test_pxelinux_boot.py boots the real thing).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import textwrap
from pathlib import Path

import pytest

from composer.build.pipeline import BuildRequest, BuildResult, build, netboot_warnings
from composer.build.plan import plan
from composer.errors import BuildError, InputError, KernelError
from composer.image.s390 import COMMAND_LINE, NETBOOT_LIMIT, PAGE, patch_image, read_kernel
from composer.recipe import load_recipe
from kernelfactory import s390_kernel, write_kernel

RECIPE = """\
    variables: {console: ttyS1}
    kernel:
      cmdline: "console={{ console }} quiet"
    compression: {codec: gzip}
    files:
      - {path: /init, mode: "0755", content: "#!/bin/sh\\necho {{ console }}\\n"}
    symlinks:
      - {path: /bin/sh, target: busybox}
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "sysroot").mkdir()
    (tmp_path / "out").mkdir()
    write_kernel(tmp_path / "vmlinuz")
    (tmp_path / "image.yaml").write_text(textwrap.dedent(RECIPE))
    return tmp_path


def _request(work: Path, **kwargs: object) -> BuildRequest:
    options: dict[str, object] = {
        "recipe": work / "image.yaml", "sysroot": work / "sysroot",
        "kernel": work / "vmlinuz", "image": work / "out" / "image.img"}
    options.update(kwargs)
    return BuildRequest(**options)  # type: ignore[arg-type]


def test_the_image_carries_the_plans_command_line_and_initramfs(work: Path) -> None:
    initramfs = work / "out" / "image.initramfs"
    result = build(_request(work, initramfs=initramfs))
    the_plan = plan(load_recipe(work / "image.yaml"), sysroot=work / "sysroot",
                    kernel_override=work / "vmlinuz")
    assert the_plan.cmdline == b"console=ttyS1 quiet"

    image = (work / "out" / "image.img").read_bytes()
    header = read_kernel(work / "out" / "image.img")
    assert header.cmdline == "console=ttyS1 quiet"
    # The whole area is rewritten: nothing of the kernel's longer built-in line is left.
    area = image[COMMAND_LINE:COMMAND_LINE + header.max_cmdline]
    assert area == the_plan.cmdline.ljust(header.max_cmdline, b"\0")
    kernel_size = (work / "vmlinuz").stat().st_size
    assert header.initrd_offset == -(-kernel_size // PAGE) * PAGE
    appended = image[header.initrd_offset:header.initrd_offset + header.initrd_size]
    assert appended == initramfs.read_bytes()  # the image copies the initramfs written
    assert appended[:2] == b"\x1f\x8b"  # gzip, as the recipe asked

    assert result.image_size == len(image)
    assert result.initramfs_size == header.initrd_size == initramfs.stat().st_size
    assert result.release == the_plan.release == "6.1.0-99-s390x"
    assert result.arch == "s390x"
    assert result.kernel_version is not None and result.kernel_version.startswith(
        "6.1.0-99-s390x ")
    assert result.entries == len(the_plan.entries)


def test_the_command_line_is_encoded_once_per_build(work: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan encodes it; the image stage writes those bytes and encodes nothing."""
    import composer.image.s390

    calls: list[str] = []
    real = composer.image.s390.encode_cmdline

    def counted(cmdline: str, max_cmdline: int) -> bytes:
        calls.append(cmdline)
        return real(cmdline, max_cmdline)

    for name, module in list(sys.modules.items()):  # wherever it was imported to
        if name.startswith("composer") and getattr(module, "encode_cmdline", None) is real:
            monkeypatch.setattr(module, "encode_cmdline", counted)
    build(_request(work, cmdline="console={{ console }}  panic=5 "))
    assert calls == ["console=ttyS1  panic=5"]
    assert read_kernel(work / "out" / "image.img").cmdline == "console=ttyS1  panic=5"


def test_the_result_is_frozen(work: Path) -> None:
    result = build(_request(work))
    assert isinstance(result, BuildResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.image_size = 0  # type: ignore[misc]
    assert isinstance(result.warnings, tuple)


def test_only_the_initramfs_when_no_image_is_asked(work: Path) -> None:
    initramfs = work / "out" / "only.initramfs"
    result = build(_request(work, image=None, initramfs=initramfs))
    assert result.image is None and result.image_size is None
    assert result.initramfs_size == initramfs.stat().st_size > 0
    assert sorted(os.listdir(work / "out")) == ["only.initramfs"]


def test_no_kernel_config_support_refuses_before_any_output(work: Path) -> None:
    boot = work / "sysroot" / "boot"
    boot.mkdir()
    (boot / "config-6.1.0-99-s390x").write_text("# CONFIG_RD_GZIP is not set\n")
    with pytest.raises(InputError, match=r"cannot unpack a gzip initramfs"):
        build(_request(work, initramfs=work / "out" / "image.initramfs"))
    assert os.listdir(work / "out") == []  # not even a temporary file was made


def test_a_command_line_too_long_refuses_before_any_output(work: Path) -> None:
    write_kernel(work / "vmlinuz", max_cmdline=8)
    with pytest.raises(KernelError, match=r"kernel.cmdline: the command line is 19 bytes"):
        build(_request(work))
    assert os.listdir(work / "out") == []


def test_an_image_without_a_kernel_is_refused(work: Path) -> None:
    with pytest.raises(InputError, match=r"names no kernel, so no boot image can be made"):
        build(_request(work, kernel=None))
    assert os.listdir(work / "out") == []


def test_an_output_that_is_an_input_is_refused_and_left_alone(work: Path) -> None:
    before = (work / "vmlinuz").read_bytes()
    with pytest.raises(InputError, match=r"is also an input of this build"):
        build(_request(work, image=work / "vmlinuz"))
    assert (work / "vmlinuz").read_bytes() == before


def test_a_bad_source_date_epoch_is_refused_before_any_output(
        work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(InputError, match=r"SOURCE_DATE_EPOCH='yesterday'"):
        build(_request(work))
    assert os.listdir(work / "out") == []


def test_the_same_request_gives_the_same_bytes(work: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build(_request(work, image=work / "out" / "a.img"))
    build(_request(work, image=work / "out" / "b.img"))
    assert (work / "out" / "a.img").read_bytes() == (work / "out" / "b.img").read_bytes()


def test_netboot_policy() -> None:
    assert netboot_warnings(None, "error") == ()  # no image, nothing to load
    assert netboot_warnings(NETBOOT_LIMIT, "error") == ()
    over = NETBOOT_LIMIT + 1
    (warning,) = netboot_warnings(over, "warn")
    assert f"{over:,} bytes, over the s390 firmware's network-boot limit" in warning
    assert netboot_warnings(over, "ignore") == ()
    with pytest.raises(BuildError, match=r"network-boot limit"):
        netboot_warnings(over, "error")


def test_patch_image_writes_the_encoded_line_or_keeps_the_builtin(tmp_path: Path) -> None:
    kernel = s390_kernel(builtin_cmdline=b"root=/dev/ram0 ro")
    for cmdline, expected in ((b"console=ttysclp0", "console=ttysclp0"),
                              (None, "root=/dev/ram0 ro")):
        image = tmp_path / "image"
        image.write_bytes(kernel + bytes(0x3000))
        header = read_kernel(image)
        with open(image, "r+b") as out:
            patch_image(out, header, offset=len(kernel), size=0x3000, cmdline=cmdline)
        patched = read_kernel(image)
        assert patched.cmdline == expected
        assert (patched.initrd_offset, patched.initrd_size) == (len(kernel), 0x3000)
