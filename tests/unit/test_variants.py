"""Variant recipes: extends, merge by identity, removal, cycles, origins, many at once."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from composer.errors import RecipeError
from composer.recipe import load_recipe
from kernelfactory import write_kernel
from under_test import compose


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def family(tmp_path: Path) -> Path:
    write(tmp_path / "files/base-motd", "base\n")
    write(tmp_path / "base.yaml", """\
variables: {greeting: hello, retries: 3}
kernel: {cmdline: "console=ttyS0", firmware: false}
compression: {codec: gzip, level: 9}
files:
  - {path: /etc/motd, source: files/base-motd}
  - {path: /etc/issue, content: "issue\\n"}
  - {path: /etc/keep, content: "keep\\n"}
symlinks:
  - {path: /bin/sh, target: busybox}
binaries: [kexec, busybox]
modules: [virtio_net, {pattern: "fs/*"}]
""")
    write(tmp_path / "variants/debug.yaml", """\
extends: ../base.yaml
variables: {greeting: debug}
kernel: {cmdline: "console=ttyS0 debug"}
compression: {level: 1}
files:
  - {path: /etc/issue, remove: true}
  - {path: /etc/motd, content: "{{ greeting }}\\n"}
templates:
  - {path: /bin/sh, source: sh.j2}
binaries: [{name: busybox, applets: [sh, ls]}, {name: kexec, remove: true}, strace]
modules: [{pattern: "fs/*", remove: true}, virtio_blk]
""")
    write(tmp_path / "variants/sh.j2", "#!/bin/true {{ greeting }}\n")
    return tmp_path


def test_maps_merge_key_by_key(family: Path) -> None:
    recipe = load_recipe(family / "variants/debug.yaml").recipe
    assert recipe.variables == {"greeting": "debug", "retries": 3}
    assert (recipe.kernel.cmdline, recipe.kernel.firmware) == ("console=ttyS0 debug", False)
    assert (recipe.compression.codec, recipe.compression.level) == ("gzip", 1)


def test_entry_lists_merge_by_identity_and_removal(family: Path) -> None:
    recipe = load_recipe(family / "variants/debug.yaml").recipe
    files = {f.path: f for f in recipe.files}
    assert list(files) == ["/etc/motd", "/etc/keep"]  # replaced in place, issue removed
    assert files["/etc/motd"].content == "{{ greeting }}\n" and files["/etc/motd"].source is None
    # a destination claimed by a template leaves the symlink list
    assert recipe.symlinks == [] and [t.path for t in recipe.templates] == ["/bin/sh"]
    assert Path(recipe.templates[0].source) == (family / "variants/sh.j2").resolve()
    assert [(b.name, b.applets) for b in recipe.binaries] == [("busybox", ["sh", "ls"]),
                                                              ("strace", None)]
    assert [m.name or m.pattern for m in recipe.modules] == ["virtio_net", "virtio_blk"]


def test_sources_stay_relative_to_the_file_that_names_them(family: Path) -> None:
    base = load_recipe(family / "base.yaml").recipe
    assert Path(base.files[0].source or "") == (family / "files/base-motd").resolve()


def test_extends_list_applies_in_order(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "variables: {x: a, y: a}\n")
    write(tmp_path / "b.yaml", "variables: {y: b, z: b}\n")
    write(tmp_path / "c.yaml", "extends: [a.yaml, b.yaml]\nvariables: {z: c}\n")
    recipe = load_recipe(tmp_path / "c.yaml").recipe
    assert recipe.variables == {"x": "a", "y": "b", "z": "c"}


def test_cycles_are_errors_naming_the_chain(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: c.yaml\n")
    write(tmp_path / "c.yaml", "extends: a.yaml\n")
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path / "a.yaml")
    message = str(caught.value)
    assert "extends cycle" in message
    assert message.index("a.yaml") < message.index("b.yaml") < message.index("c.yaml")


def test_errors_point_into_the_base_that_has_them(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "files:\n  - {path: /x, contents: y}\n")
    write(tmp_path / "v.yaml", "extends: base.yaml\n")
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path / "v.yaml")
    assert "base.yaml:2:16: files[0].contents: unknown key" in str(caught.value)


def test_show_origins_names_file_line_and_set(family: Path) -> None:
    done = compose("show", "variants/debug.yaml", "--origins", "--set", "retries=7", cwd=family)
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
    original = load_recipe(family / "variants/debug.yaml", overrides=[("retries", "7")]).recipe
    assert _meaning(asdict(again)) == _meaning(asdict(original))


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
