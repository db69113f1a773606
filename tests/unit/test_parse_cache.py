"""Recipes without PyYAML: a parse from the cache is the Document a fresh parse makes,
line and column of every key and value included; a changed file is parsed again; a
damaged entry is never used; errors are PyYAML's every time.

Each test gets its own cache directory (XDG_CACHE_HOME); `parses` counts the files that
really went through PyYAML.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.cache import store
from composer.errors import RecipeError
from composer.recipe import yamldoc
from composer.recipe.yamldoc import Document, load_document

REPO = Path(__file__).resolve().parents[2]
PARSE = yamldoc.parse_document  # the real one (the fixture counts calls)
RECIPE = """\
description: a test   # comment
variables: {a: 1, b: "1", c: true, d: 1.5, e: [x, y], f: null, mode: 755}
files:
  - {path: /etc/x, content: "{{ a }}\\n", mode: 0644}
  - path: /etc/y
    content: |
      two lines
      here
directories: [{path: /etc}]
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    return home / "composer" / "parse"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    files: list[str] = []

    def counting(text: str, file: str) -> Document:
        files.append(file)
        return PARSE(text, file)

    monkeypatch.setattr(yamldoc, "parse_document", counting)
    return files


def same(a: Document, b: Document) -> bool:
    return (a.data, a.file, a.values, a.keys) == (b.data, b.file, b.values, b.keys) and \
        [type(v) for v in a.data.values()] == [type(v) for v in b.data.values()]


def test_a_second_load_comes_from_the_cache_and_is_the_same_document(
        tmp_path: Path, cache_dir: Path, parses: list[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    first, second = load_document(recipe), load_document(recipe)
    assert len(parses) == 1
    assert same(first, second)
    assert same(second, PARSE(RECIPE, str(recipe)))
    assert second.data["variables"] == {"a": 1, "b": "1", "c": True, "d": 1.5,
                                        "e": ["x", "y"], "f": None, "mode": 755}
    assert second.data["files"][0]["mode"] == "0644"  # the digits as written
    assert str(second.where(("files", 1, "content"))) == f"{recipe}:6:14"
    second.data["files"].clear()  # what a loader changes is its own copy
    assert load_document(recipe).data["files"]


def test_a_changed_file_or_another_name_is_parsed_again(
        tmp_path: Path, cache_dir: Path, parses: list[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    load_document(recipe)
    recipe.write_text(RECIPE.replace("a: 1,", "a: 2,"))
    assert load_document(recipe).data["variables"]["a"] == 2
    other = tmp_path / "other.yaml"
    other.write_text(RECIPE.replace("a: 1,", "a: 2,"))
    assert str(load_document(other).where(("variables",))) == f"{other}:2:12"
    assert len(parses) == 3


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage-payload",
                                    "wrong-shape"])
def test_a_damaged_entry_is_parsed_again(
        tmp_path: Path, cache_dir: Path, parses: list[str], damage: str) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    reference = load_document(recipe)
    [entry] = cache_dir.iterdir()
    raw = entry.read_bytes()
    key = raw[len(store.MAGIC):len(store.MAGIC) + store.KEY_SIZE]

    def whole(payload: bytes) -> bytes:
        return store.MAGIC + key + store._check(key, payload) + payload

    if damage == "flip":
        raw = raw[:-7] + bytes([raw[-7] ^ 4]) + raw[-6:]
    elif damage == "truncate":
        raw = raw[:-9]
    elif damage == "empty":
        raw = b""
    elif damage == "garbage-payload":
        raw = whole(b"\x00\x01 not marshal")
    else:
        import marshal

        raw = whole(marshal.dumps(({}, ((("x",), "1", 2),), ())))  # a line that is text
    entry.write_bytes(raw)
    parses.clear()
    assert same(load_document(recipe), reference)
    assert len(parses) == 1


def test_errors_are_pyyamls_and_nothing_is_stored(
        tmp_path: Path, cache_dir: Path, parses: list[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("files:\n  - {path: /x\n")
    messages = []
    for _ in range(2):
        with pytest.raises(RecipeError) as error:
            load_document(recipe)
        messages.append(error.value.lines())
    assert messages[0] == messages[1]
    assert messages[0][0].startswith(f"{recipe}:")
    assert len(parses) == 2
    assert not cache_dir.exists() or not list(cache_dir.iterdir())


def test_data_marshal_cannot_hold_is_parsed_every_time(
        tmp_path: Path, cache_dir: Path, parses: list[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("description: x\nvariables: {when: 2024-01-01}\n")
    assert load_document(recipe).data == load_document(recipe).data
    assert len(parses) == 2


def test_no_cache_when_off(tmp_path: Path, cache_dir: Path, parses: list[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSER_CACHE", "off")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    assert same(load_document(recipe), load_document(recipe))
    assert len(parses) == 2
    assert not cache_dir.exists()
