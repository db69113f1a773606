"""The plan stage, called directly: what it decides, that it decides it once, and what
it refuses before any output exists.

Synthetic kernels (tests/kernelfactory.py) and tiny ELF files (tests/elffactory.py); the
plan against the real Debian s390x sysroot is in tests/e2e/test_plan_sysroot.py.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from composer.archive.codec import Codec
from composer.build.plan import Plan, arch_of, plan
from composer.errors import InputError, KernelError, ResolveError
from composer.manifest import Entry, Kind
from composer.recipe import load_recipe
from elffactory import EM_S390, EM_X86_64, make_elf
from kernelfactory import write_kernel

RELEASE = "6.1.0-99-s390x"  # kernelfactory's default version string


def _recipe(tmp_path: Path, body: str, name: str = "image") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def _plan(recipe: Path, tmp_path: Path, **kwargs: object) -> Plan:
    """Plan `recipe` against an empty sysroot and a synthetic kernel given as --kernel."""
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir(exist_ok=True)
    options: dict[str, object] = {"kernel_override": _kernel(tmp_path)}
    options.update(kwargs)
    return plan(load_recipe(recipe), sysroot=sysroot, **options)  # type: ignore[arg-type]


def _kernel(tmp_path: Path, **kwargs: object) -> Path:
    path = tmp_path / "vmlinuz"
    if not path.exists() or kwargs:
        write_kernel(path, **kwargs)
    return path


SMALL = """\
    variables:
      console: ttyS0
      extra: ""
    kernel:
      cmdline: "  console={{ console }}  quiet {{ extra }} "
    files:
      - path: /etc/motd
        content: "hello from {{ console }}\\n"
    symlinks:
      - path: /bin/sh
        target: busybox
"""


def test_the_plan_is_frozen(tmp_path: Path) -> None:
    the_plan = _plan(_recipe(tmp_path, SMALL), tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        the_plan.arch = "x86_64"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        the_plan.release = "another"  # type: ignore[misc]
    for part in (the_plan.entries, the_plan.inputs, the_plan.warnings):
        assert isinstance(part, tuple)  # nothing inside can be appended to either


def test_the_command_line_is_expanded_and_encoded_in_the_plan(tmp_path: Path) -> None:
    the_plan = _plan(_recipe(tmp_path, SMALL), tmp_path)
    # Expanded with the variables, ends stripped (inner spacing may be quoted), bytes.
    assert the_plan.cmdline == b"console=ttyS0  quiet"


def test_cmdline_override_replaces_the_recipe_line(tmp_path: Path) -> None:
    the_plan = _plan(_recipe(tmp_path, SMALL), tmp_path,
                     cmdline_override="root=/dev/ram0 con={{ console }} rel={{ composer.release }}")
    assert the_plan.cmdline == f"root=/dev/ram0 con=ttyS0 rel={RELEASE}".encode()


def test_a_line_that_expands_to_nothing_keeps_the_kernels_own(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, """\
        variables: {cmdline: ""}
        kernel: {cmdline: "{{ cmdline }}"}
    """)
    assert _plan(recipe, tmp_path).cmdline is None


def test_without_a_kernel_there_is_no_command_line(tmp_path: Path) -> None:
    the_plan = _plan(_recipe(tmp_path, SMALL), tmp_path, kernel_override=None)
    assert the_plan.kernel is None and the_plan.cmdline is None
    assert the_plan.arch is None  # no kernel, no binaries, no `arch`: nothing to say


def test_a_command_line_too_long_for_the_kernel_is_refused_with_its_place(
        tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, """\
        kernel:
          cmdline: "console=ttyS0 and then some more words than fit"
    """)
    _kernel(tmp_path, max_cmdline=32)
    with pytest.raises(KernelError) as caught:
        _plan(recipe, tmp_path)
    message = caught.value.message
    assert message.startswith(f"{recipe}:2:"), message  # file:line:col of kernel.cmdline
    assert "kernel.cmdline: the command line is 47 bytes" in message
    assert "at most 31" in message


def test_too_long_from_the_command_line_names_the_option(tmp_path: Path) -> None:
    _kernel(tmp_path, max_cmdline=16)
    with pytest.raises(KernelError, match=r"^--cmdline: kernel.cmdline: the command line"):
        _plan(_recipe(tmp_path, SMALL), tmp_path, cmdline_override="x" * 16)


def test_the_kernel_and_its_release_come_from_the_header(tmp_path: Path) -> None:
    the_plan = _plan(_recipe(tmp_path, SMALL), tmp_path)
    assert the_plan.kernel is not None
    assert the_plan.kernel.path == tmp_path / "vmlinuz"
    assert the_plan.release == RELEASE
    assert the_plan.arch == "s390x"  # an s390 boot image was given


def test_entries_are_in_archive_order_with_parents_and_a_console(tmp_path: Path) -> None:
    the_plan = _plan(_recipe(tmp_path, SMALL), tmp_path)
    paths = [e.path for e in the_plan.entries]
    assert paths == sorted(paths, key=lambda p: p.encode())
    assert {"/bin", "/etc", "/dev", "/dev/console", "/bin/sh", "/etc/motd"} <= set(paths)
    motd = next(e for e in the_plan.entries if e.path == "/etc/motd")
    assert motd.data == b"hello from ttyS0\n"
    console = next(e for e in the_plan.entries if e.path == "/dev/console")
    assert (console.kind, console.major, console.minor) == (Kind.CHAR, 5, 1)


def test_the_recipes_own_console_replaces_the_default(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, """\
        devices:
          - {path: /dev/console, type: char, major: 4, minor: 64, mode: "0620"}
    """)
    console = [e for e in _plan(recipe, tmp_path).entries if e.path == "/dev/console"]
    assert [(e.major, e.minor, e.mode) for e in console] == [(4, 64, 0o620)]


def test_inputs_list_every_file_the_build_reads(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("variables: {who: base}\n")
    (tmp_path / "part.txt").write_text("included {{ who }}")
    (tmp_path / "init.j2").write_text('#!/bin/sh\n{% include "part.txt" %}\n')
    (tmp_path / "data.bin").write_bytes(b"\x00\x01")
    vars_file = tmp_path / "site.yaml"
    vars_file.write_text("who: site\n")
    recipe = _recipe(tmp_path, """\
        extends: base.yaml
        templates:
          - {path: /init, source: init.j2, mode: "0755"}
        files:
          - {path: /data.bin, source: data.bin}
    """)
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    the_plan = plan(load_recipe(recipe, vars_files=(vars_file,)), sysroot=sysroot,
                    kernel_override=_kernel(tmp_path))
    inputs = {p.resolve() for p in the_plan.inputs}
    for name in ("image.yaml", "base.yaml", "site.yaml", "init.j2", "part.txt", "data.bin",
                 "vmlinuz"):
        assert (tmp_path / name).resolve() in inputs, name
    init = next(e for e in the_plan.entries if e.path == "/init")
    assert init.data == b"#!/bin/sh\nincluded site\n"


def test_compression_and_netboot_policy_are_decided_in_the_plan(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, """\
        compression: {codec: xz, level: 3}
        output: {netboot_limit: error}
    """)
    the_plan = _plan(recipe, tmp_path)
    assert (the_plan.compression.codec, the_plan.compression.effective_level) == (Codec.XZ, 3)
    assert the_plan.netboot_limit == "error"
    assert _plan(recipe, tmp_path, netboot_limit="ignore").netboot_limit == "ignore"


def test_a_compression_level_out_of_range_is_refused_by_the_plan(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, "compression: {codec: gzip, level: 12}\n")
    with pytest.raises(InputError, match=r"compression level 12 is out of range for gzip"):
        _plan(recipe, tmp_path)


def _config(tmp_path: Path, text: str) -> None:
    boot = tmp_path / "sysroot" / "boot"
    boot.mkdir(parents=True, exist_ok=True)
    (boot / f"config-{RELEASE}").write_text(text)


def test_a_codec_the_kernel_config_lacks_is_a_user_error_at_plan_time(
        tmp_path: Path) -> None:
    _config(tmp_path, "CONFIG_RD_GZIP=y\n# CONFIG_RD_ZSTD is not set\n")
    recipe = _recipe(tmp_path, "compression: {codec: zstd}\n")
    with pytest.raises(InputError) as caught:
        _plan(recipe, tmp_path)
    assert caught.value.exit_code == 2
    assert f"kernel {RELEASE} cannot unpack a zstd initramfs" in caught.value.message
    assert f"config-{RELEASE} does not enable it" in caught.value.message


def test_a_codec_the_kernel_config_enables_passes(tmp_path: Path) -> None:
    _config(tmp_path, "CONFIG_RD_GZIP=y\n# CONFIG_RD_ZSTD is not set\n")
    recipe = _recipe(tmp_path, "compression: {codec: gzip}\n")
    assert _plan(recipe, tmp_path).compression.codec is Codec.GZIP


def test_a_foreign_elf_file_is_refused_by_the_plan(tmp_path: Path) -> None:
    (tmp_path / "tool").write_bytes(make_elf(machine=EM_X86_64, byte_order="little"))
    recipe = _recipe(tmp_path, "files:\n  - {path: /bin/tool, source: tool}\n")
    with pytest.raises(ResolveError, match=r"/bin/tool is an ELF file for x86_64, but the "
                                           r"image is for s390x"):
        _plan(recipe, tmp_path)


def test_arch_of_is_the_first_elf_files(tmp_path: Path) -> None:
    entries = [
        Entry("/etc/motd", Kind.FILE, data=b"not an ELF"),
        Entry("/bin/sh", Kind.SYMLINK, target="busybox"),
        Entry("/bin/busybox", Kind.FILE, data=make_elf(machine=EM_S390)),
        Entry("/bin/other", Kind.FILE, data=make_elf(machine=EM_X86_64, byte_order="little")),
    ]
    assert arch_of(entries) == "s390x"
    assert arch_of(entries[:2]) is None
