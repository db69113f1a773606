"""`compose check TREE`: a served tree with eight planted problems (five in a config the
image reads, three over the limits of QEMU's firmware in a config it reads itself), a
clean config beside them; each problem is found once, and nothing else."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from under_test import compose

GOOD = "console=ttysclp0 quiet"


@pytest.fixture(scope="module")
def tree(sysroot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("check") / "srv"
    root.mkdir()
    built = compose("pxelinux", "--sysroot", sysroot, "-o", root / "pxelinux.0",
                    "--initramfs", root / "initrd.img")
    assert built.returncode == 0, built.stderr
    kernel = next((sysroot / "boot").glob("vmlinuz-*"))
    shutil.copyfile(kernel, root / "vmlinuz")
    (root / "README").write_text("not a kernel\n" * 100)
    with open(root / "big.img", "wb") as big:  # sparse: 80 MiB on no disk
        big.truncate(80 << 20)
    cfg = root / "pxelinux.cfg"
    cfg.mkdir()
    (cfg / "default").write_text(f"""\
DEFAULT ok
LABEL ok
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND {GOOD}
LABEL nokernel
  KERNEL vmlinuz-gone
  APPEND {GOOD}
LABEL noinitrd
  KERNEL vmlinuz
  INITRD initrd.img,gone.img
  APPEND {GOOD}
LABEL longline
  KERNEL vmlinuz
  APPEND {GOOD} {"x" * 4100}
LABEL notkernel
  KERNEL README
  APPEND {GOOD}
LABEL toobig
  KERNEL vmlinuz
  INITRD big.img
  APPEND {GOOD}
""")
    (cfg / "01-52-54-00-12-34-56").write_text(
        f"DEFAULT a\nLABEL a\n  KERNEL vmlinuz\n  INITRD initrd.img\n  APPEND {GOOD}\n")
    # Served without an s390 image: QEMU's firmware reads this config itself.
    firmware = root / "fw"
    (firmware / "pxelinux.cfg").mkdir(parents=True)
    os.link(root / "vmlinuz", firmware / "vmlinuz")
    labels = "".join(f"LABEL l{i}\n  KERNEL vmlinuz\n  APPEND {GOOD} n={i}\n"
                     for i in range(17))
    padding = "# " + "-" * 70 + "\n"
    (firmware / "pxelinux.cfg" / "default").write_text(
        "DEFAULT l0\n" + padding * 12 + labels
        + f"LABEL long\n  KERNEL vmlinuz\n  APPEND {'y' * 900}\n")
    return root


def test_each_planted_problem_is_found_and_nothing_else(tree: Path) -> None:
    result = compose("check", tree, "--memory", "64", "--json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["configs"] == ["fw/pxelinux.cfg/default", "pxelinux.cfg/01-52-54-00-12-34-56",
                               "pxelinux.cfg/default"]
    found = sorted((p["config"], p["label"], p["check"]) for p in data["problems"])
    assert found == sorted([
        ("pxelinux.cfg/default", "nokernel", "missing"),
        ("pxelinux.cfg/default", "noinitrd", "missing"),
        ("pxelinux.cfg/default", "longline", "cmdline"),
        ("pxelinux.cfg/default", "notkernel", "not-kernel"),
        ("pxelinux.cfg/default", "toobig", "memory"),
        ("fw/pxelinux.cfg/default", "", "firmware-size"),
        ("fw/pxelinux.cfg/default", "", "firmware-entries"),
        ("fw/pxelinux.cfg/default", "long", "firmware-append"),
    ]), data["problems"]
    messages = {p["label"] or p["check"]: p["message"] for p in data["problems"]}
    assert "'gone.img' is not in the tree" in messages["noinitrd"]
    assert "takes at most 4095" in messages["longline"]
    assert "18 labels" in messages["firmware-entries"]


def test_text_output_is_one_line_per_problem(tree: Path) -> None:
    result = compose("check", tree, "--memory", "64")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 8
    assert "pxelinux.cfg/default: label 'nokernel': kernel 'vmlinuz-gone' is not in the tree" \
        in lines


def test_a_clean_tree_passes(tree: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    (clean / "pxelinux.cfg").mkdir(parents=True)
    for name in ("pxelinux.0", "vmlinuz", "initrd.img"):
        os.link(tree / name, clean / name)
    shutil.copyfile(tree / "pxelinux.cfg/01-52-54-00-12-34-56", clean / "pxelinux.cfg/default")
    result = compose("check", clean, "--memory", "512")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
