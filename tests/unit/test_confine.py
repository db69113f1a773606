"""composer/recipe/confine.py: which host files a recipe may read."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import InputError, RecipeError
from composer.recipe import load_recipe
from composer.recipe.confine import Confinement, recipe_tree, variable_place
from composer.recipe.stock import data_dir


def test_a_recipe_reads_its_own_tree(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    confinement = Confinement()
    assert confinement.refusal(tmp_path / "sub/../motd", tmp_path) is None
    assert confinement.refusal(tmp_path / "../motd", tmp_path) == (
        f"is {tmp_path.parent / 'motd'}, outside the recipe's directory {tmp_path}: refused")
    assert confinement.refusal(Path("/etc/hosts"), tmp_path) == (
        f"is outside the recipe's directory {tmp_path}: refused")


def test_a_link_that_leads_out_is_out(tmp_path: Path) -> None:
    (tmp_path / "motd").symlink_to("/etc/hostname")
    assert Confinement().refusal(tmp_path / "motd", tmp_path) == (
        f"is a link to /etc/hostname, outside the recipe's directory {tmp_path}: refused")


def test_allowed_directories_and_the_sysroot(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "sysroot/etc").mkdir(parents=True)
    confinement = Confinement.of([tmp_path / "allowed"], sysroot=tmp_path / "sysroot")
    assert confinement.refusal(tmp_path / "allowed/ca.pem", tmp_path / "site") is None
    assert confinement.refusal(tmp_path / "sysroot/etc/x", tmp_path / "site") is None
    assert confinement.refusal(tmp_path / "other/x", tmp_path / "site") is not None


def test_a_sysroot_of_slash_allows_nothing() -> None:
    """Building against the host itself must not open the whole host to the recipe."""
    assert Confinement.of([], sysroot=Path("/")).allowed == ()


def test_the_stock_recipes_tree_is_composers_data() -> None:
    recipes = data_dir("recipes")
    assert recipes is not None
    assert recipe_tree(recipes / "pxelinux.yaml") == recipes.resolve().parent
    loaded = load_recipe(recipes / "pxelinux.yaml")  # reaches ../bootscripts/: allowed
    assert loaded.recipe.files


def test_a_directory_named_recipes_elsewhere_is_just_a_directory(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    assert recipe_tree(tmp_path / "recipes/r.yaml") == tmp_path / "recipes"


def test_where_a_variable_was_set_decides_its_base(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path / "site/r.yaml"
    (tmp_path / "site/layers").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert variable_place("--set", top) == (tmp_path, tmp_path / "site")
    assert variable_place(f"variables file {tmp_path}/v/vars.yaml", top) == (
        tmp_path / "v", tmp_path / "site")
    assert variable_place(f"{tmp_path}/site/layers/base.yaml:3:5", top) == (
        tmp_path / "site/layers", tmp_path / "site/layers")


def test_all_refused_sources_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("files:\n  - {path: /a, source: /etc/hosts}\n"
                                     "  - {path: /b, source: ../x}\n")
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path / "r.yaml")
    assert [p.key_path for p in caught.value.problems] == ["files[0].source",
                                                           "files[1].source"]


def test_vars_files_outside_are_refused_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site/r.yaml").write_text("variables: {x: 1}\n")
    (tmp_path / "v.yaml").write_text("x: 2\n")
    with pytest.raises(InputError, match=r"--vars .*v.yaml is outside the recipe's"):
        load_recipe(tmp_path / "site/r.yaml", vars_files=[tmp_path / "v.yaml"])
    loaded = load_recipe(tmp_path / "site/r.yaml", vars_files=[tmp_path / "v.yaml"],
                         confinement=Confinement.of([tmp_path]))
    assert loaded.recipe.variables["x"] == 2
