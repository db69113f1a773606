"""The recipe's JSON Schema: generated from the models, and every error it finds as a Problem.

`generate()` makes the schema from `recipe/model.py` (pydantic's, tidied into a schema an
editor shows well); schemas/recipe.schema.json is that, checked in and shipped, and a
test fails when the two differ (`scripts/generate-schema` rewrites it and docs/recipes.md).
Recipes are validated against the shipped file by jsonschema, before any model is built.

osbuild's lesson: report every error at once with its key path. LinuxKit's: unknown
keys are errors. The messages are rewritten from jsonschema's wording into what a
person editing YAML needs: where, which key, and (for typos) the key they meant.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from typing import TYPE_CHECKING, Any

from composer.cache.verdict import VerdictCache
from composer.errors import Problem
from composer.recipe.model import Recipe
from composer.recipe.stock import data_dir
from composer.recipe.yamldoc import Document, KeyPath, format_key_path

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

HEADER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://composer.example.org/schemas/recipe.schema.json",
    "title": "composer recipe",
}


def generate() -> dict[str, Any]:
    """The recipe schema from the models, as schemas/recipe.schema.json holds it."""
    schema = _tidy(Recipe.model_json_schema())
    return {**HEADER, **{k: v for k, v in schema.items() if k != "title"}}


def _tidy(node: Any) -> Any:
    """pydantic's schema as an editor schema. Titles go (they repeat the key); `null`
    goes from every choice, with its default (and a mapping's default goes: its keys show
    theirs), since a recipe leaves a key out rather than
    writing it empty; a choice among bare types becomes one `type` list; descriptions
    (docstrings) become one line each."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and (value is None or isinstance(value, dict)):
            continue  # nothing, or a mapping whose own keys show their defaults
        if key == "description" and isinstance(value, str):
            out[key] = " ".join(value.split())
        elif key in ("properties", "$defs", "patternProperties"):
            out[key] = {name: _tidy(sub) for name, sub in value.items()}
        else:
            out[key] = _tidy(value)
    choices = out.get("anyOf")
    if choices is not None:
        choices = [c for c in choices if c != {"type": "null"}]
        if all(set(c) == {"type"} and isinstance(c["type"], str) for c in choices):
            out["type"] = [c["type"] for c in choices]
            del out["anyOf"]
        elif len(choices) == 1:
            del out["anyOf"]
            out = {**choices[0], **out}
        else:
            out["anyOf"] = choices
    if isinstance(out.get("type"), list) and len(out["type"]) == 1:
        out["type"] = out["type"][0]
    return out


@cache
def schema_text() -> bytes:
    """schemas/recipe.schema.json as shipped."""
    directory = data_dir("schemas")
    if directory is None:
        raise FileNotFoundError("composer.schemas: this composer was installed without its "
                                "schema (package data)")
    return (directory / "recipe.schema.json").read_bytes()


@cache
def recipe_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # not needed when the verdict is known

    return Draft202012Validator(recipe_schema())


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "empty"}.get(type(value),
                                                                          type(value).__name__)


# JSON Schema's type names in the words of someone editing YAML.
JSON_TYPES = {"array": "a list", "object": "a mapping", "string": "a string",
              "integer": "an integer", "number": "a number", "boolean": "true or false",
              "null": "nothing"}


def _mismatch(error: ValidationError, path: object) -> bool:
    """Whether a branch error says the value is of the wrong kind for that branch."""
    if error.absolute_path != path:
        return False
    if error.validator in ("type", "const"):
        return True
    # An enum of strings does not describe a mapping: {codec: gzip, level: 99} is wrong
    # about its level, not about being a mapping where a codec name could be.
    return error.validator == "enum" and not any(
        type(choice) is type(error.instance) for choice in error.validator_value)


def _branch_errors(error: ValidationError) -> list[ValidationError] | None:
    """For anyOf/oneOf, the errors of the branch whose type fits the value, if any.

    "is not valid under any of the given schemas" helps nobody; the branch that
    accepts this kind of value (a string, a mapping) knows what is wrong with it.
    """
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    for _, errors in sorted(branches.items()):
        mismatch = any(_mismatch(e, error.absolute_path) for e in errors)
        if not mismatch:
            return errors
    return None


def _problems(error: ValidationError, doc: Document) -> list[Problem]:
    path: KeyPath = tuple(error.absolute_path)
    key = format_key_path(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed and not k.startswith("x-")]
        return [
            Problem(f"unknown key '{name}'", doc.where((*path, name), key=True),
                    format_key_path((*path, name)),
                    _suggest(name, allowed) or f"known keys: {', '.join(allowed)}")
            for name in extra
        ]
    where = doc.where(path)
    value = error.instance
    if error.validator == "required":
        return [Problem(error.message.replace("is a required property", "is required"),
                        where, key)]
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) \
            else [error.validator_value]
        wanted = " or ".join(JSON_TYPES.get(str(k), str(k)) for k in kinds)
        return [Problem(f"expected {wanted}, got {type_name(value)} {value!r}"[:200],
                        where, key)]
    if error.validator == "enum":
        choices = [str(c) for c in error.validator_value]
        hint = _suggest(str(value), choices) if isinstance(value, str) else ""
        return [Problem(f"{value!r} is not one of {', '.join(choices)}", where, key, hint)]
    if error.validator == "pattern" and path and path[-1] == "mode":
        return [Problem(f"{value!r} is not an octal mode", where, key, "write it like 0755")]
    if error.validator == "pattern" and isinstance(value, str) and not value.startswith("/"):
        return [Problem(f"{value!r} is not an absolute path inside the image", where, key,
                        f"write '/{value.lstrip('./')}'")]
    if error.validator in ("anyOf", "oneOf"):
        if error.validator == "oneOf" and isinstance(value, dict) and not error.context:
            return [Problem("give exactly one of 'name' or 'pattern'", where, key)]
        branch = _branch_errors(error)
        if branch:
            out: list[Problem] = []
            for sub in branch:
                out += _problems(sub, doc)
            return out
        if error.validator == "oneOf" and isinstance(value, dict):
            return [Problem("give exactly one of 'name' or 'pattern'", where, key)]
        description = error.schema.get("description", "")
        return [Problem(f"{type_name(value)} {value!r} is not valid here"[:200], where, key,
                        description)]
    return [Problem(error.message[:300], where, key)]


def validate(doc: Document) -> list[Problem]:
    """Every schema problem in the document, in the order they appear in the file;
    jsonschema's verdict "valid" on the same data is remembered (composer/cache/verdict.py)."""
    verdicts = VerdictCache.open()
    if verdicts is None:
        return _problems_of(doc)
    key = verdicts.key(schema_text(), doc.data)
    if verdicts.is_valid(key):
        return []
    problems = _problems_of(doc)
    if not problems:
        verdicts.remember_valid(key)
    return problems


def _problems_of(doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in _validator().iter_errors(doc.data):
        for problem in _problems(error, doc):
            if str(problem) not in seen:
                seen.add(str(problem))
                problems.append(problem)

    def order(p: Problem) -> tuple[int, int]:
        loc = p.location
        return (loc.line or 0, loc.column or 0) if loc else (0, 0)

    return sorted(problems, key=order)
