"""The quick validity check agrees with jsonschema, so skipping jsonschema changes nothing.

`conforms` answers True only where jsonschema finds no problem; if it said True for
an invalid recipe, its problems would go unreported. Checked on every recipe in the
repository (the shipped ones, the tests', the bad-input corpus) and on thousands of
seeded random mutations of them: wrong types, bad values, unknown and missing keys.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from budget import examples
from composer.errors import RecipeError
from composer.recipe.conform import conforms
from composer.recipe.schema import recipe_schema, validate
from composer.recipe.yamldoc import load_document

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = recipe_schema()
JSONSCHEMA = Draft202012Validator(SCHEMA)


def corpus() -> list[tuple[str, Any]]:
    paths = sorted([*ROOT.glob("recipes/*.yaml"), *ROOT.glob("tests/recipes/*.yaml"),
                    *ROOT.glob("bench/recipes/*.yaml"), *ROOT.glob("tests/bad/*.yaml"),
                    *ROOT.glob("tests/bad/*/*.yaml")])
    out = []
    for path in paths:
        if _refused_by_the_loader(path):
            continue
        try:
            out.append((str(path.relative_to(ROOT)), load_document(path).data))
        except RecipeError:
            continue  # YAML that does not load never reaches the schema
    return out


def _refused_by_the_loader(path: Path) -> bool:
    """A tests/bad alias bomb, which the YAML loader refuses by its own header: it never
    reaches the schema, and loading the deepest one costs seconds of the quick loop."""
    header = path.read_bytes()[:4096]
    return b"# expect:" in header and b"category: alias-bomb\n" in header


CORPUS = corpus()
ODD_VALUES: list[Any] = ["", "x", "/abs", "rel/path", "0755", "rwx", "all", "gzip", "zstd",
                         "char", "error", 0, 1, -1, 7, 99, 4096, 2**32, 1.5, True, False,
                         None, [], ["a"], [1, "b"], {}, {"path": "/x"}, {"name": "n"},
                         {"x-note": 1}, {"codec": "xz", "level": 3}]


def agree(data: Any) -> tuple[bool, bool]:
    return conforms(SCHEMA, data), not any(True for _ in JSONSCHEMA.iter_errors(data))


def test_the_corpus_has_valid_and_invalid_recipes() -> None:
    verdicts = [agree(data)[1] for _, data in CORPUS]
    assert len(CORPUS) > 80 and any(verdicts) and not all(verdicts)


@pytest.mark.parametrize(("name", "data"), CORPUS, ids=[name for name, _ in CORPUS])
def test_agrees_with_jsonschema_on_every_recipe(name: str, data: Any) -> None:
    quick, full = agree(data)
    assert quick == full


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in the data, containers included."""
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _places(item, (*path, i))
    return out


def _mutate(data: Any, rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    path = rng.choice(_places(data)[1:] or [()])
    if not path:
        return data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = rng.randrange(4)
    if action == 0:
        parent[last] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif action == 1 and isinstance(parent, dict):
        del parent[last]
    elif action == 2 and isinstance(parent, dict):
        parent[rng.choice(["extra", "x-ok", "pathh", "name", "pattern", "mode"])] = (
            copy.deepcopy(rng.choice(ODD_VALUES)))
    elif isinstance(parent[last], str):
        parent[last] = parent[last][::-1]
    return data


def test_agrees_with_jsonschema_on_random_mutations() -> None:
    rng = random.Random(17)
    valid = [data for _, data in CORPUS if agree(data)[1]]
    seen = {True: 0, False: 0}
    for _ in range(examples(3000)):
        data = rng.choice(valid)
        for _ in range(rng.randrange(1, 4)):
            data = _mutate(data, rng)
        quick, full = agree(data)
        assert quick == full, data
        seen[full] += 1
    # both answers were exercised
    assert seen[True] > examples(300) and seen[False] > examples(1000)


def test_unsure_means_no_and_jsonschema_has_the_last_word(tmp_path: Path) -> None:
    """A float where an integer goes is left to jsonschema (3.0 is an integer to it)."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("compression: {codec: gzip, level: 3.0}\n")
    doc = load_document(recipe)
    assert not conforms(SCHEMA, doc.data)
    assert validate(doc) == []
    assert not conforms({"type": "string", "format": "email"}, "x")  # an unknown keyword
