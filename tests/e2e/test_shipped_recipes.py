"""The recipes we ship: editor support, docs in sync with the schema, and each one builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from composer.recipe.docs import markdown
from composer.recipe.schema import recipe_schema
from under_test import compose

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "recipes").glob("*.yaml"))


def test_there_are_the_three_variants() -> None:
    names = {p.name for p in SHIPPED}
    assert {"pxelinux.yaml", "pxelinux-debug.yaml", "pxelinux-minimal.yaml"} <= names


@pytest.mark.parametrize("recipe", SHIPPED, ids=[p.name for p in SHIPPED])
def test_recipes_point_editors_at_the_schema(recipe: Path) -> None:
    first = recipe.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/recipe.schema.json"
    assert (recipe.parent / "../schemas/recipe.schema.json").resolve().is_file()


def test_docs_are_generated_from_the_schema() -> None:
    committed = (ROOT / "docs/recipes.md").read_text()
    assert committed == markdown(recipe_schema()), (
        "docs/recipes.md is out of date: run `compose schema --markdown > docs/recipes.md`")


def test_the_schema_command_prints_the_shipped_schema() -> None:
    done = compose("schema")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((ROOT / "schemas/recipe.schema.json")
                                                 .read_text())


def test_every_schema_key_is_documented() -> None:
    text = (ROOT / "docs/recipes.md").read_text()
    schema = recipe_schema()
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        for branch in [definition, *definition.get("anyOf", [])]:
            keys |= set(branch.get("properties", {}))
    missing = [k for k in sorted(keys) if f"| `{k}` |" not in text]
    assert not missing


@pytest.mark.sysroot
@pytest.mark.parametrize("recipe", SHIPPED, ids=[p.name for p in SHIPPED])
def test_each_shipped_recipe_builds_against_the_real_sysroot(recipe: Path, sysroot: Path,
                                                            tmp_path: Path) -> None:
    done = compose(recipe, "--sysroot", sysroot, "-o", tmp_path / "image", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["release"] and result["arch"] == "s390x"
    assert 0 < result["image_size"] < 125_820_928
    listing = compose("inspect", tmp_path / "image", "--json").stdout
    paths = {e["path"] for e in json.loads(listing)["entries"]}
    for needed in ("/init", "/sbin/pxeboot", "/etc/udhcpc/default.script", "/sbin/kexec",
                   "/bin/busybox", "/lib/ld64.so.1", "/dev/console", "/sbin/udhcpc",
                   "/bin/sh", "/sbin/modprobe"):
        assert needed in paths, needed
    assert any(p.startswith("/lib/modules/") and p.endswith("/modules.dep") for p in paths)
