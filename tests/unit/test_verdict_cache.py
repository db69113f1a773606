"""jsonschema's verdict "valid" remembered (composer/cache/verdict.py): the same data
under the same schema is not validated again, data with problems always is (its
messages are jsonschema's every time), and a changed schema or cache off misses.

Each test gets its own cache directory (XDG_CACHE_HOME); `validations` counts the
documents that really went through jsonschema.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.recipe import schema
from composer.recipe.yamldoc import Document, load_document


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    return home / "composer" / "verdict"


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    original = schema._problems_of

    def counting(doc: Document) -> list[schema.Problem]:
        seen.append(doc.data)
        return original(doc)

    monkeypatch.setattr(schema, "_problems_of", counting)
    return seen


def document(tmp_path: Path, text: str) -> Document:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return load_document(path)


def test_valid_data_is_validated_once(tmp_path: Path, cache_dir: Path,
                                      validations: list[object]) -> None:
    doc = document(tmp_path, "files: [{path: /etc/x, content: x}]\n")
    assert schema.validate(doc) == [] and schema.validate(doc) == []
    assert len(validations) == 1
    assert len(list(cache_dir.iterdir())) == 1


def test_data_with_problems_is_validated_every_time(tmp_path: Path, cache_dir: Path,
                                                    validations: list[object]) -> None:
    doc = document(tmp_path, "kernal: {}\n")
    first, second = schema.validate(doc), schema.validate(doc)
    assert [str(p) for p in first] == [str(p) for p in second]
    assert "unknown key 'kernal'" in str(first[0])
    assert len(validations) == 2
    assert not cache_dir.exists()


def test_other_data_or_another_schema_is_another_verdict(
        tmp_path: Path, cache_dir: Path, validations: list[object],
        monkeypatch: pytest.MonkeyPatch) -> None:
    schema.validate(document(tmp_path, "description: a\n"))
    schema.validate(document(tmp_path, "description: b\n"))
    assert len(validations) == 2
    monkeypatch.setattr(schema, "schema_text", lambda: b"{}")
    schema.validate(document(tmp_path, "description: a\n"))
    assert len(validations) == 3


def test_a_true_is_not_a_one(tmp_path: Path, cache_dir: Path,
                             validations: list[object]) -> None:
    """marshal keeps types: `firmware: 1` (refused) is not `firmware: true` (valid)."""
    assert schema.validate(document(tmp_path, "kernel: {firmware: true}\n")) == []
    assert schema.validate(document(tmp_path, "kernel: {firmware: 1}\n")) != []


def test_no_cache_when_off(tmp_path: Path, cache_dir: Path, validations: list[object],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSER_CACHE", "off")
    doc = document(tmp_path, "description: a\n")
    schema.validate(doc)
    schema.validate(doc)
    assert len(validations) == 2
    assert not cache_dir.exists()
