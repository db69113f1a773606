"""Variant recipes from the command line: show --origins, and many recipes built at once
(extends, merge by identity, removal and cycles are tests/unit/test_variants.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.recipe import load_recipe
from kernelfactory import write_kernel
from recipefamily import allowing, write, write_family
from under_test import compose


@pytest.fixture
def family(tmp_path: Path) -> Path:
    return write_family(tmp_path)


def test_show_origins_names_file_line_and_set(family: Path) -> None:
    done = compose("show", "variants/debug.yaml", "--origins", "--set", "retries=7",
                   "--allow-path", ".", cwd=family)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert '  greeting: "debug"  # variants/debug.yaml:2:23' in lines
    assert "  retries: 7  # --set" in lines
    assert '  firmware: false  # base.yaml:2:46' in lines
    assert any(line.startswith('  - {path: "/etc/keep"') and line.endswith("# base.yaml:7:5")
               for line in lines)
    # what show prints is itself a valid recipe with the same meaning
    write(family / "shown.yaml", done.stdout)
    again = load_recipe(family / "shown.yaml").recipe
    original = load_recipe(family / "variants/debug.yaml", overrides=[("retries", "7")],
                           confinement=allowing(family)).recipe
    assert _meaning(again.model_dump()) == _meaning(original.model_dump())


def _meaning(value: object) -> object:
    """A recipe dump without where things were written (`at`) or the file's name."""
    if isinstance(value, dict):
        return {k: _meaning(v) for k, v in value.items() if k not in ("at", "name")}
    if isinstance(value, list):
        return [_meaning(v) for v in value]
    return value


def test_several_recipes_in_parallel_give_the_same_bytes(tmp_path: Path) -> None:
    kernel = write_kernel(tmp_path / "vmlinuz")
    for name, codec in (("one", "gzip"), ("two", "xz"), ("three", "zstd")):
        write(tmp_path / f"{name}.yaml", f"compression: {codec}\nfiles:\n"
              f"  - {{path: /etc/{name}, content: \"{name * 1000}\\n\"}}\n")
    write(tmp_path / "broken.yaml", "files: [\n")
    recipes = ["one.yaml", "two.yaml", "three.yaml"]
    serial = compose(*recipes, "--kernel", kernel, "-O", "serial", cwd=tmp_path)
    assert serial.returncode == 0, serial.stderr
    parallel = compose(*recipes, "broken.yaml", "--kernel", kernel, "-O", "parallel", "-j", "2",
                       cwd=tmp_path)
    assert parallel.returncode == 2  # the broken one fails, the others are built
    assert "broken.yaml" in parallel.stderr and "3 built, 1 failed" in parallel.stderr
    for name in ("one", "two", "three"):
        a = (tmp_path / "serial" / f"{name}.img").read_bytes()
        assert a == (tmp_path / "parallel" / f"{name}.img").read_bytes()
    assert not (tmp_path / "parallel" / "broken.img").exists()


def test_the_readmes_add_and_remove_variant_builds_and_shows_its_lists(
        tmp_path: Path, sysroot: Path) -> None:
    """The README's example of K+/K-, as written: vi joins the minimal applets, strace
    comes in, /etc/hostname goes, virtio_blk joins the modules variable."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = next(b for b in readme.split("```yaml\n")[1:]
                 if b.startswith("extends: pxelinux-minimal")).split("```", 1)[0]
    write(tmp_path / "site.yaml", block)
    shown = compose("show", "site.yaml", "--origins", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    busybox = next(line for line in shown.stdout.splitlines() if '{name: "busybox"' in line)
    assert '"sh", ' in busybox and '"vi"]' in busybox  # the base's applets, then vi
    assert busybox.endswith("# site.yaml:3:5")
    assert 'modules: ["virtio_net", "virtio_blk"]  # site.yaml:6:' in shown.stdout
    built = compose("site.yaml", "--sysroot", sysroot, "-o", "site.0", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    listing = compose("inspect", "site.0", cwd=tmp_path).stdout
    assert " bin/vi -> /bin/busybox" in listing and "/strace" in listing
    assert "etc/hostname" not in listing and "virtio_blk.ko" in listing
