"""The parse cache against the whole corpus: every recipe of the repository and every
bad input of tests/bad loads to the same data, or fails with the same problems word for
word, from the cache as from PyYAML (tests/unit/test_parse_cache.py holds the rest; this
one is slow for the quick loop: the alias bombs take seconds to refuse, twice).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import InputError, RecipeError
from composer.recipe import load_recipe, yamldoc
from composer.recipe.yamldoc import Document

REPO = Path(__file__).resolve().parents[2]
PARSE = yamldoc.parse_document


@pytest.fixture
def parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    files: list[str] = []

    def counting(text: str, file: str) -> Document:
        files.append(file)
        return PARSE(text, file)

    monkeypatch.setattr(yamldoc, "parse_document", counting)
    return files


def outcome(path: Path) -> object:
    try:
        return load_recipe(path).data
    except RecipeError as error:
        return ("RecipeError", error.lines())
    except InputError as error:
        return ("InputError", str(error), error.hint)


def test_every_recipe_and_bad_input_loads_the_same_warm_as_cold(parses: list[str]) -> None:
    """The repository's recipes and the bad-input corpus: the same data or the same
    problems, word for word, from the cache as from PyYAML."""
    paths = sorted([*REPO.glob("recipes/*.yaml"), *REPO.glob("tests/bad/*.yaml"),
                    *REPO.glob("tests/recipes/**/*.yaml")])
    assert len(paths) > 100
    cold = [outcome(p) for p in paths]
    parsed = len(parses)
    warm = [outcome(p) for p in paths]
    assert warm == cold
    assert len(parses) - parsed < parsed / 2  # most came from the cache the second time
