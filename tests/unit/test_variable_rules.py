"""Variables declared with rules (composer/recipe/variables.py): merged across variants,
read from --set by their type, and every value checked where it is declared."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import RecipeError
from composer.recipe import load_recipe
from composer.recipe.variables import merge_variables, violation

BASE = """\
variables:
  on_failure: {default: shell, choices: [shell, retry, poweroff]}
  verbosity: {default: 1, min: 0, max: 2, description: how much to say}
  ratio: {default: 0.5, type: number, max: 1}
  modules: {default: [virtio_net], choices: [virtio_net, virtio_blk]}
  plain: 3
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_values_within_the_rules_load_as_plain_values(tmp_path: Path) -> None:
    loaded = load_recipe(write(tmp_path / "base.yaml", BASE),
                         overrides=[("verbosity", "2"), ("modules", "virtio_blk virtio_net")])
    assert loaded.recipe.variables == {"on_failure": "shell", "verbosity": 2, "ratio": 0.5,
                                       "modules": ["virtio_blk", "virtio_net"], "plain": 3}


@pytest.mark.parametrize(("name", "value", "wrong"), [
    ("on_failure", "reboot", "'reboot' (from --set) is not one of shell, retry, poweroff"),
    ("verbosity", "3", "3 (from --set) is out of range 0..2"),
    ("verbosity", "-1", "-1 (from --set) is out of range 0..2"),
    ("verbosity", "lots", "'lots' (from --set) is not of type integer"),
    ("ratio", "1.5", "1.5 (from --set) is out of range …..1"),
    ("modules", "virtio_nett", "['virtio_nett'] (from --set) is not one of virtio_net, "
                               "virtio_blk"),
])
def test_a_set_value_breaking_a_rule_is_an_error_at_the_declaration(
        tmp_path: Path, name: str, value: str, wrong: str) -> None:
    path = write(tmp_path / "base.yaml", BASE)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path, overrides=[(name, value)])
    line = {"on_failure": 2, "verbosity": 3, "ratio": 4, "modules": 5}[name]
    assert str(caught.value).startswith(f"{path}:{line}:")
    assert str(caught.value).endswith(f": variables.{name}: {wrong}")
    assert caught.value.exit_code == 2


def test_a_variant_value_keeps_the_rules_and_a_declaration_merges(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", BASE)
    ok = write(tmp_path / "ok.yaml", "extends: base.yaml\nvariables:\n  verbosity: 0\n"
                                     "  on_failure: {choices: [shell, retry, poweroff, reboot]}\n"
                                     "  plain: {default: 4, max: 9}\n")
    assert load_recipe(ok, overrides=[("on_failure", "reboot")]).recipe.variables[
        "on_failure"] == "reboot"
    bad = write(tmp_path / "bad.yaml", "extends: base.yaml\nvariables: {verbosity: 7}\n")
    with pytest.raises(RecipeError, match=r"base.yaml:3:\d+: variables.verbosity: 7 "
                                          r"\(from .*bad.yaml:2:24\) is out of range 0..2"):
        load_recipe(bad)


def test_vars_files_are_held_to_the_rules_too(tmp_path: Path) -> None:
    path = write(tmp_path / "base.yaml", BASE)
    values = write(tmp_path / "site.yaml", "on_failure: halt\n")
    with pytest.raises(RecipeError, match=r"from variables file .*site\.yaml"):
        load_recipe(path, vars_files=[values])


def test_merge_and_violation_as_pure_functions() -> None:
    base = {"a": {"default": 1, "max": 2}, "b": "x"}
    assert merge_variables(base, {"a": 2, "b": {"default": "y"}}) == {
        "a": {"default": 2, "max": 2}, "b": {"default": "y"}}
    assert violation({"default": True}, "yes") == "is not of type boolean"
    assert violation({"default": 1}, True) == "is not of type integer"
    assert violation({"default": 1, "type": "number"}, 2) == ""
