"""Variant recipes: extends, merge by identity, removal, cycles (show --origins and many
recipes at once: tests/e2e/test_variants_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import RecipeError
from composer.recipe import load_recipe
from recipefamily import allowing, write, write_family


@pytest.fixture
def family(tmp_path: Path) -> Path:
    return write_family(tmp_path)


def test_maps_merge_key_by_key(family: Path) -> None:
    recipe = load_recipe(family / "variants/debug.yaml", confinement=allowing(family)).recipe
    assert recipe.variables == {"greeting": "debug", "retries": 3}
    assert (recipe.kernel.cmdline, recipe.kernel.firmware) == ("console=ttyS0 debug", False)
    assert (recipe.compression.codec, recipe.compression.level) == ("gzip", 1)


def test_entry_lists_merge_by_identity_and_removal(family: Path) -> None:
    recipe = load_recipe(family / "variants/debug.yaml", confinement=allowing(family)).recipe
    files = {f.path: f for f in recipe.files}
    assert list(files) == ["/etc/motd", "/etc/keep"]  # replaced in place, issue removed
    assert files["/etc/motd"].content == "{{ greeting }}\n" and files["/etc/motd"].source is None
    # a destination claimed by a template leaves the symlink list
    assert recipe.symlinks == [] and [t.path for t in recipe.templates] == ["/bin/sh"]
    assert Path(recipe.templates[0].source) == (family / "variants/sh.j2").resolve()
    assert [(b.name, b.applets) for b in recipe.binaries] == [("busybox", ["sh", "ls"]),
                                                              ("strace", None)]
    assert [m.name or m.pattern for m in recipe.modules] == ["virtio_net", "virtio_blk"]


def test_a_variant_below_its_base_needs_the_base_allowed(family: Path) -> None:
    """extends: ../base.yaml climbs out of variants/: refused, naming the entry."""
    with pytest.raises(RecipeError) as caught:
        load_recipe(family / "variants/debug.yaml")
    assert (f"variants/debug.yaml:1:10: extends: ../base.yaml is {family / 'base.yaml'}, "
            f"outside the recipe's directory {family / 'variants'}: refused") \
        in str(caught.value)


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
    assert message.startswith(f"{tmp_path / 'c.yaml'}:1:10: extends: extends cycle: ")
    chain = message.split("extends cycle: ", 1)[1]
    assert chain.index("a.yaml") < chain.index("b.yaml") < chain.index("c.yaml")


def test_errors_point_into_the_base_that_has_them(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "files:\n  - {path: /x, contents: y}\n")
    write(tmp_path / "v.yaml", "extends: base.yaml\n")
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path / "v.yaml")
    assert "base.yaml:2:16: files[0].contents: unknown key" in str(caught.value)
