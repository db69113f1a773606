"""The recipe's shape is said twice, and this proves the two say the same thing.

The JSON Schema (schemas/recipe.schema.json) is what users and editors see; the
dataclasses of composer/recipe/model.py are what the code works with. For every
object of the recipe (the top level, kernel, compression, output, and every entry
kind) the schema's keys must be the model's fields, with the same JSON types and the
same choices, and an unknown key must be refused by both (keys starting with x- are
free in both). The quick checker composer/recipe/conform.py must agree with
jsonschema on recipes generated from the schema itself, valid and invalid alike.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import fields
from enum import StrEnum
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from budget import examples
from composer.manifest import Entry, Kind
from composer.recipe.conform import conforms
from composer.recipe.model import (
    ENTRY_KINDS,
    CompressionSpec,
    Kernel,
    Output,
    Recipe,
    UnknownKeys,
    parse_mode,
)
from composer.recipe.schema import recipe_schema

SCHEMA = recipe_schema()
JSONSCHEMA = Draft202012Validator(SCHEMA)
LOADER_KEYS = {"extends"}  # read by recipe.load_recipe, which removes it before the model
# Values the model converts from what the schema allows into what it stores.
CONVERTED: dict[str, tuple[set[str], set[str]]] = {  # field: (schema types, model types)
    "mode": ({"string", "integer"}, {"integer"}),  # octal text or number -> int
    "compression": ({"string", "object"}, {"object"}),  # a codec name is {codec: name}
}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return resolve({**SCHEMA["$defs"][ref.removeprefix("#/$defs/")],
                    **{k: v for k, v in schema.items() if k != "$ref"}})


def object_branch(schema: dict[str, Any]) -> dict[str, Any]:
    """The mapping form of a schema that also takes a short string form."""
    schema = resolve(schema)
    for branch in schema.get("anyOf", [schema]):
        branch = resolve(branch)
        if branch.get("type") == "object":
            return branch
    raise AssertionError(f"no object form in {schema}")


def pairs() -> list[tuple[str, dict[str, Any], type]]:
    """Every object of a recipe with the model class that holds it."""
    props = SCHEMA["properties"]
    out = [("recipe", SCHEMA, Recipe), ("kernel", props["kernel"], Kernel),
           ("output", props["output"], Output),
           ("compression", object_branch(props["compression"]), CompressionSpec)]
    for key, kind in ENTRY_KINDS.items():
        out.append((key, object_branch(props[key]["items"]), kind))
    return out


PAIRS = pairs()
IDS = [name for name, _, _ in PAIRS]


def recipe_keys(kind: type) -> set[str]:
    """The fields a recipe writes (not those the loader fills in)."""
    return {f.name for f in fields(kind) if not f.metadata}


def test_every_schema_object_has_a_model_and_the_reverse() -> None:
    assert set(ENTRY_KINDS) == {k for k, v in SCHEMA["properties"].items()
                                if v.get("type") == "array"}
    nested = {name for name, _, _ in PAIRS}
    objects = {k for k, v in SCHEMA["properties"].items()
               if "properties" in resolve(v) or any("properties" in resolve(b)
                                                    for b in v.get("anyOf", []))}
    assert objects <= nested


@pytest.mark.parametrize(("name", "schema", "kind"), PAIRS, ids=IDS)
def test_the_schema_keys_are_the_model_fields(name: str, schema: dict[str, Any],
                                              kind: type) -> None:
    keys = set(schema["properties"]) - (LOADER_KEYS if kind is Recipe else set())
    assert keys == recipe_keys(kind), (
        f"{name}: only in the schema: {sorted(keys - recipe_keys(kind))}; "
        f"only in the model: {sorted(recipe_keys(kind) - keys)}")
    # The same rule for keys neither knows: refused, except notes starting with x-.
    assert schema.get("additionalProperties") is False
    assert schema.get("patternProperties") == {"^x-": {}}


def schema_types(schema: dict[str, Any]) -> set[str]:
    schema = resolve(schema)
    if "anyOf" in schema:
        return set().union(*(schema_types(b) for b in schema["anyOf"]))
    if "enum" in schema or "const" in schema:
        choices = schema.get("enum", [schema.get("const")])
        return {{str: "string", bool: "boolean", int: "integer"}[type(c)] for c in choices}
    kinds = schema.get("type", [])
    return {kinds} if isinstance(kinds, str) else set(kinds)


def model_types(annotation: Any) -> set[str]:
    """The JSON types a field's annotation holds (None: the key may be left out)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(model_types(a) for a in typing.get_args(annotation)))
    if origin is Literal:
        return {{str: "string", bool: "boolean", int: "integer"}[type(a)]
                for a in typing.get_args(annotation)}
    if annotation is type(None):
        return set()
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return {"string"}
    base = origin or annotation
    if base is bool:
        return {"boolean"}
    for python, json in ((str, "string"), (int, "integer"), (float, "number"),
                         (list, "array"), (dict, "object")):
        if base is python:
            return {json}
    return {"object"}  # a nested dataclass


def schema_choices(schema: dict[str, Any]) -> set[Any] | None:
    """The fixed values a schema names (enum, const), in any of its branches."""
    schema = resolve(schema)
    found = [set(schema["enum"])] if "enum" in schema else [{schema["const"]}] \
        if "const" in schema else []
    found += [c for b in schema.get("anyOf", []) if (c := schema_choices(b)) is not None]
    return set().union(*found) if found else None


def choices(annotation: Any) -> set[Any] | None:
    for arg in [annotation, *typing.get_args(annotation)]:
        if typing.get_origin(arg) is Literal:
            return set(typing.get_args(arg))
        if isinstance(arg, type) and issubclass(arg, StrEnum):
            return {str(member) for member in arg}
    return None


@pytest.mark.parametrize(("name", "schema", "kind"), PAIRS, ids=IDS)
def test_the_schema_types_are_the_model_types(name: str, schema: dict[str, Any],
                                              kind: type) -> None:
    hints = typing.get_type_hints(kind)
    for key in sorted(recipe_keys(kind)):
        prop = schema["properties"][key]
        want, have = schema_types(prop), model_types(hints[key])
        assert (want, have) == CONVERTED.get(key, (want, want)), (
            f"{name}.{key}: schema {sorted(want)}, model {sorted(have)}")
        enum, literal = schema_choices(prop), choices(hints[key])
        if literal is not None:
            assert enum is not None, f"{name}.{key}: the model has choices, the schema not"
            if typing.get_origin(hints[key]) is Literal:
                assert set(enum) == literal, f"{name}.{key}"
            else:  # an enumeration of the code, of which a recipe may name some
                assert set(enum) <= literal, f"{name}.{key}"


def sample(schema: dict[str, Any]) -> Any:
    """A small valid value of a schema: each object with as few keys as will do."""
    schema = resolve(schema)
    if "anyOf" in schema:
        return sample(object_branch(schema)) if any(
            resolve(b).get("type") == "object" for b in schema["anyOf"]) \
            else sample(schema["anyOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        value = {k: sample(schema["properties"][k]) for k in schema.get("required", [])}
        for key, prop in schema.get("properties", {}).items():
            if Draft202012Validator({**schema, "$defs": SCHEMA["$defs"]}).is_valid(value):
                break
            value[key] = sample(prop)
        return value
    if kind == "array":
        return [sample(schema["items"])]
    return {"string": "/a" if schema.get("pattern") == "^/" else "0755"
            if "pattern" in schema else "a",
            "integer": schema.get("minimum", 0), "boolean": True}[kind]


def place(name: str, value: dict[str, Any]) -> dict[str, Any]:
    """A whole recipe holding `value` as the object `name`."""
    if name == "recipe":
        return value
    return {name: [value] if name in ENTRY_KINDS else value}


def model(data: dict[str, Any]) -> Recipe:
    """The model built as the loader builds it: extends gone, name set, entries placed."""
    values = {k: v for k, v in data.items() if k not in LOADER_KEYS}
    for key in ENTRY_KINDS:
        if isinstance(values.get(key), list):
            values[key] = [dict(item, at="r.yaml:1:1") if isinstance(item, dict) else item
                           for item in values[key]]
    return Recipe.from_data({**values, "name": "r"})


@pytest.mark.parametrize(("name", "schema", "kind"), PAIRS, ids=IDS)
def test_both_refuse_an_unknown_key_and_both_allow_notes(name: str, schema: dict[str, Any],
                                                         kind: type) -> None:
    value = sample(schema)
    assert JSONSCHEMA.is_valid(place(name, value)), place(name, value)
    model(place(name, value))
    noted = place(name, {**value, "x-note": {"any": ["thing"]}})
    assert JSONSCHEMA.is_valid(noted)
    model(noted)
    for unknown in ("bogus", "Path", "x_note", "modes"):
        bad = place(name, {**value, unknown: "/a"})
        assert not JSONSCHEMA.is_valid(bad), bad
        with pytest.raises(UnknownKeys) as caught:
            model(bad)
        assert caught.value.exit_code == 2 and repr(unknown) in str(caught.value)


# Generated recipes: built from the schema, mostly valid, with a few wrong values,
# wrong types, out-of-range numbers and unknown keys mixed in.
JUNK = st.recursive(st.none() | st.booleans() | st.integers(-3, 2**33) | st.text(max_size=4)
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=2)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=2), max_leaves=4)


def sometimes(strategy: st.SearchStrategy[Any], other: st.SearchStrategy[Any],
              one_in: int = 25) -> st.SearchStrategy[Any]:
    """`other` once in `one_in` draws, else `strategy` (only the chosen one is drawn)."""
    return st.integers(0, one_in - 1).flatmap(lambda i: other if i == 0 else strategy)


def values(schema: dict[str, Any] | bool) -> st.SearchStrategy[Any]:
    if schema is True or schema == {}:
        return JUNK
    assert isinstance(schema, dict)
    schema = resolve(schema)
    if "anyOf" in schema or "oneOf" in schema:
        return sometimes(st.one_of([values(b) for b in schema.get("anyOf", [])
                                    or [{k: v for k, v in schema.items() if k != "oneOf"}]]),
                         JUNK)
    if "enum" in schema:
        return sometimes(st.sampled_from(schema["enum"]), st.text(max_size=6))
    if "const" in schema:
        return st.just(schema["const"])
    kinds = schema.get("type", [])
    out = []
    for kind in [kinds] if isinstance(kinds, str) else kinds:
        if kind == "string" and "pattern" in schema:
            out.append(st.from_regex(schema["pattern"], fullmatch=True)
                       .filter(lambda s: "\n" not in s)
                       if schema["pattern"] != "^/" else st.text(max_size=8).map(
                           lambda s: "/" + s))
        elif kind == "string":
            out.append(st.text(min_size=schema.get("minLength", 0), max_size=8))
        elif kind == "integer":
            low, high = schema.get("minimum", -5), schema.get("maximum", 2**33)
            out.append(sometimes(st.integers(low, high), st.integers(low - 2, high + 2), 10))
        elif kind == "number":
            out.append(st.integers(-5, 5) | st.floats(-5, 5))
        elif kind == "boolean":
            out.append(st.booleans())
        elif kind == "array":
            out.append(st.lists(values(schema["items"]), max_size=2))
        elif kind == "object" and "properties" in schema:
            props = {k: values(v) for k, v in schema["properties"].items()}
            if "mode" in props:  # the loader keeps a mode's digits as written: a string
                props["mode"] = props["mode"].map(lambda v: str(v) if type(v) is int else v)
            required = {k: props.pop(k) for k in schema.get("required", [])}
            mapping = st.fixed_dictionaries(required, optional={**props, "x-note": JUNK})
            out.append(sometimes(mapping, st.tuples(mapping, st.sampled_from(
                ["bogus", "Path", "pathh", "x_note"]), JUNK).map(
                    lambda t: {**t[0], t[1]: t[2]}), 8))
        elif kind == "object":
            names = st.from_regex(schema["propertyNames"]["pattern"], fullmatch=True) \
                if "propertyNames" in schema else st.text(max_size=4)
            out.append(st.dictionaries(names, values(schema.get("additionalProperties", {})),
                                       max_size=3))
    return st.one_of(out) if out else JUNK


RECIPES = values(SCHEMA)


def has_integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(has_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(has_integral_float(v) for v in value)
    return False


def test_the_quick_check_agrees_with_jsonschema_and_the_model_takes_what_is_valid() -> None:
    verdicts = {True: 0, False: 0}

    @settings(max_examples=examples(150), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(RECIPES)
    def check(data: Any) -> None:
        valid = JSONSCHEMA.is_valid(data)
        verdicts[valid] += 1
        if conforms(SCHEMA, data):
            assert valid, data  # a quick yes for an invalid recipe would hide its problems
        elif not has_integral_float(data):  # 3.0 where an integer goes: left to jsonschema
            assert not valid, data
        if valid:
            model(data)  # every recipe the schema takes, the model takes

    check()
    each = examples(150) // 10  # both were exercised
    assert verdicts[True] >= each and verdicts[False] >= each, verdicts


@settings(max_examples=examples(80), deadline=None)
@given(st.one_of(st.from_regex(resolve({"$ref": "#/$defs/mode"})["pattern"], fullmatch=True),
                 st.text(alphabet="0123456789o", max_size=6)))
def test_a_mode_the_schema_takes_is_one_the_model_and_the_entry_take(text: str) -> None:
    """The loader hands a mode over as the text written (mode: 755 is '755'), so the
    schema's pattern is the whole rule: what it takes parses as octal permission bits."""
    valid = JSONSCHEMA.is_valid({"directories": [{"path": "/a", "mode": text}]})
    if valid:
        mode = parse_mode(text)
        assert mode is not None and 0 <= mode <= 0o7777
        Entry("/a", Kind.DIR, mode)
    else:
        assert "\n" in text or not re.fullmatch(r"(0o|0)?[0-7]{1,4}", text)


def test_the_drift_the_generated_corpus_found_stays_fixed() -> None:
    """conform.py compared enum and const values only as strings, so the schema's symlink
    rule (`if: not: {properties: {remove: {const: true}}}`) made it give up on every
    symlink with a remove key: correct, but every such variant paid for jsonschema."""
    for remove in (True, False):
        data = {"symlinks": [{"path": "/bin/sh", "target": "busybox", "remove": remove}]}
        assert conforms(SCHEMA, data) and JSONSCHEMA.is_valid(data)
    removal = {"symlinks": [{"path": "/bin/sh", "remove": True}]}
    assert conforms(SCHEMA, removal) and JSONSCHEMA.is_valid(removal)
    for wrong in ({"path": "/bin/sh", "remove": False}, {"path": "/bin/sh", "remove": 1}):
        assert not conforms(SCHEMA, {"symlinks": [wrong]})
        assert not JSONSCHEMA.is_valid({"symlinks": [wrong]})
