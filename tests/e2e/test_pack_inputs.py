"""Bad and odd inputs of the packager's options and commands: each a clear message and
exit status 2 (or a warning where the output is still true), never a traceback, and no
half-written output."""

from __future__ import annotations

import json
from pathlib import Path

from kernelfactory import write_kernel
from under_test import compose

RECIPE = "files:\n  - {path: /hello, content: hi}\n"


def test_a_kernel_past_the_fixed_offset_is_refused_before_anything_is_written(
        tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz", size=(16 << 20) + 1)
    (tmp_path / "r.yaml").write_text(RECIPE)
    result = compose(tmp_path / "r.yaml", "--kernel", kernel, "--layout", "fixed-16m",
                     "-o", tmp_path / "out.img", "--ins", tmp_path / "ins")
    assert result.returncode == 2, result.stderr
    assert "too big for the fixed-16m layout" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.img").exists()
    assert not (tmp_path / "ins").exists() or not any((tmp_path / "ins").iterdir())


def test_an_ins_tree_from_a_synthetic_kernel_is_whole(tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz")
    (tmp_path / "r.yaml").write_text(RECIPE + "kernel: {cmdline: console=ttysclp0}\n")
    result = compose(tmp_path / "r.yaml", "--kernel", kernel, "--ins", tmp_path / "ins",
                     "--layout", "fixed-32m")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "ins").iterdir())
    assert names == ["r.addrsize", "r.initrd", "r.ins", "r.kernel", "r.prm"]
    assert (tmp_path / "ins/r.kernel").read_bytes() == kernel.read_bytes()
    assert (tmp_path / "ins/r.prm").read_bytes().rstrip(b"\0") == b"console=ttysclp0"
    assert not (tmp_path / "r.img").exists()  # --ins alone writes the tree only


def test_boot_refuses_an_ins_file_whose_files_are_missing(tmp_path: Path) -> None:
    (tmp_path / "x.ins").write_text("* test\nx.kernel 0x00000000\n")
    result = compose("boot", tmp_path / "x.ins")
    assert result.returncode == 2, result.stderr
    assert "loads x.kernel, which is not a file" in result.stderr


def test_check_and_why_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = compose("check", tmp_path / "file")
    assert result.returncode == 2 and "is not a directory" in result.stderr
    (tmp_path / "empty").mkdir()
    result = compose("check", tmp_path / "empty")
    assert result.returncode == 2 and "no pxelinux.cfg/ files" in result.stderr
    result = compose("why", tmp_path / "file", "/init")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_an_sbom_without_a_dpkg_database_attributes_files_to_the_recipe(
        tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz")
    (tmp_path / "r.yaml").write_text(RECIPE)
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    result = compose(tmp_path / "r.yaml", "--kernel", kernel, "--sysroot", sysroot,
                     "-o", tmp_path / "r.img", "--sbom", tmp_path / "r.spdx.json")
    assert result.returncode == 0, result.stderr
    assert "has no dpkg database" in result.stderr
    document = json.loads((tmp_path / "r.spdx.json").read_text())
    assert [p["name"] for p in document["packages"]] == ["r", "r.yaml"]
    assert {f["fileName"] for f in document["files"]} == {"./hello", "./vmlinuz"}
