"""The recipe's shape is said once, by the models of composer/recipe/model.py; the JSON
Schema that validates recipes and that editors use is generated from them and checked
in. These hold the checked-in file to the models, and the models to what they promise:
the schema's keys are the models' fields, its choices the models' choices, and a
recipe the schema accepts loads into the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from composer.archive.codec import WRITABLE, Codec
from composer.recipe.model import (
    ENTRY_LISTS,
    CompressionSpec,
    Module,
    Recipe,
    parse_mode,
)
from composer.recipe.schema import generate, recipe_schema

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "schemas/recipe.schema.json"


def test_the_checked_in_schema_is_the_generated_one() -> None:
    generated = json.dumps(generate(), indent=2) + "\n"
    assert CHECKED_IN.read_text() == generated, (
        "schemas/recipe.schema.json differs from the models: run scripts/generate-schema")


def test_the_shipped_schema_is_the_checked_in_one() -> None:
    assert recipe_schema() == json.loads(CHECKED_IN.read_text())


def test_the_generated_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(generate())


def test_loader_fields_are_not_in_the_schema() -> None:
    schema = generate()
    assert "name" not in schema["properties"]
    for kind in ENTRY_LISTS.values():
        definition = schema["$defs"][kind.__name__]
        for branch in [definition, *definition.get("anyOf", [])]:
            assert "at" not in branch.get("properties", {})


def test_every_mapping_refuses_unknown_keys_and_allows_notes() -> None:
    schema = generate()
    mappings = [schema, *(b for d in schema["$defs"].values()
                          for b in [d, *d.get("anyOf", [])] if "properties" in b)]
    assert len(mappings) == 1 + 3 + len(ENTRY_LISTS)  # kernel, output, compression
    for mapping in mappings:
        assert mapping["additionalProperties"] is False
        assert mapping["patternProperties"] == {"^x-": {}}


def test_the_schema_offers_exactly_the_codecs_composer_writes() -> None:
    definition = generate()["$defs"]["CompressionSpec"]
    short, mapping = definition["anyOf"]
    assert short["enum"] == mapping["properties"]["codec"]["enum"] == list(WRITABLE)
    assert Codec.LZO not in WRITABLE
    with pytest.raises(ValueError, match="never written"):
        CompressionSpec.model_validate({"codec": "lzo"})


def test_no_key_may_be_written_empty() -> None:
    """pydantic offers `null` for optional fields; a recipe leaves the key out instead."""
    assert '"null"' not in json.dumps(generate())


VALID = {
    "description": "d", "arch": "s390x", "extends": "base.yaml",
    "variables": {"a": 1, "b": [True, "x"], "c": 2.5},
    "kernel": {"image": "/boot/vmlinuz-*", "cmdline": "quiet", "firmware": False},
    "compression": "gzip",
    "output": {"netboot_limit": "error", "x-note": 1},
    "directories": [{"path": "/d", "mode": "0755"}],
    "files": [{"path": "/f", "content": "x", "uid": 3}],
    "symlinks": [{"path": "/s", "target": "f"}, {"path": "/t", "remove": True}],
    "devices": [{"path": "/dev/console", "type": "char", "major": 5, "minor": 1}],
    "templates": [{"path": "/t", "source": "t.j2", "mode": 644}],
    "binaries": ["busybox", {"name": "kexec", "applets": "all"}],
    "modules": ["all", {"pattern": "drivers/**"}, "virtio-net"],
}


def test_what_the_schema_accepts_the_models_load() -> None:
    assert not list(Draft202012Validator(generate()).iter_errors(VALID))
    recipe = Recipe.model_validate(VALID)
    assert recipe.compression.codec is Codec.GZIP
    assert recipe.directories[0].mode == 0o755 and recipe.templates[0].mode == 0o644
    assert recipe.binaries[0].name == "busybox" and recipe.binaries[1].applets == "all"
    assert [m.pattern or m.name for m in recipe.modules] == ["**", "drivers/**", "virtio-net"]
    assert recipe.variables == {"a": 1, "b": [True, "x"], "c": 2.5}
    assert type(recipe.variables["a"]) is int and recipe.variables["b"][0] is True
    assert recipe.output.netboot_limit == "error"


def test_the_models_are_frozen_and_refuse_unknown_fields() -> None:
    recipe = Recipe.model_validate(VALID)
    with pytest.raises(ValueError, match="frozen"):
        recipe.description = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="souce"):
        Recipe.model_validate({"files": [{"path": "/f", "souce": "x"}]})


@pytest.mark.parametrize(("text", "mode"), [("0755", 0o755), ("755", 0o755),
                                             ("0o755", 0o755), (644, 0o644), ("4755", 0o4755)])
def test_modes_are_octal_however_written(text: str | int, mode: int) -> None:
    assert parse_mode(text) == mode


def test_module_identities_follow_kmod() -> None:
    assert Module.identity(Module.spelt_out("virtio-net")) == Module.identity(
        {"name": "virtio_net"})
    assert Module.identity(Module.spelt_out("all")) == "pattern:**"
