"""The recipes we ship and the recipe docs, against the schema: editor support, docs generated
from it, every key documented (each recipe built, and `compose schema`, are
tests/e2e/test_shipped_recipes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.recipe.docs import markdown
from composer.recipe.schema import recipe_schema

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


def test_every_schema_key_is_documented() -> None:
    text = (ROOT / "docs/recipes.md").read_text()
    schema = recipe_schema()
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        for branch in [definition, *definition.get("anyOf", [])]:
            keys |= set(branch.get("properties", {}))
    missing = [k for k in sorted(keys) if f"| `{k}` |" not in text]
    assert not missing
