"""A quick yes to "is this recipe valid?", so the common case needs no jsonschema.

jsonschema finds every problem and says where it is, which only matters when there
are problems; importing and building its validator costs more than the rest of
loading a recipe. `conforms` interprets the few JSON Schema (2020-12) keywords the
recipe schema uses, for valid data only: True means jsonschema would report nothing;
False means "ask jsonschema", which is also the answer to anything it is unsure of
(a keyword it doesn't know, a value of no JSON type, a float where an integer goes).
It never has to explain a failure, so it stops at the first one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

# Keywords that only annotate; everything else must be known below, or the answer is no.
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "$comment"})
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}
EXACT = (str, bool, type(None))  # enum and const values compared here; numbers are not


class _Unsure(Exception):
    pass


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def conforms(schema: Mapping[str, Any], instance: Any) -> bool:
    """Whether `instance` is valid under `schema` (whose $refs point into its $defs)."""
    try:
        return _valid(schema, instance, schema)
    except _Unsure:
        return False


def _valid(schema: Mapping[str, Any] | bool, value: Any, root: Mapping[str, Any]) -> bool:
    if isinstance(schema, bool):  # true accepts anything, false nothing
        return schema
    kind = type(value)
    if kind not in (dict, list, str, int, float, bool, type(None)):
        raise _Unsure  # a date or bytes from YAML: jsonschema has the words for it
    for key, expected in schema.items():
        if key in ANNOTATIONS:
            continue
        if key == "$ref":
            if not expected.startswith("#/$defs/"):
                raise _Unsure
            if not _valid(root["$defs"][expected.removeprefix("#/$defs/")], value, root):
                return False
        elif key == "type":
            names = [expected] if isinstance(expected, str) else expected
            if not any(kind in JSON_TYPES[name] for name in names):
                if kind is float and "integer" in names:
                    raise _Unsure  # 3.0 is an integer to JSON Schema
                return False
        elif key == "enum" or key == "const":
            choices = expected if key == "enum" else [expected]
            if not all(type(c) in EXACT for c in choices):
                raise _Unsure  # JSON equality of numbers (1 vs 1.0) is subtle
            # A string, true, false or null equals only itself (true is not 1).
            if not any(type(c) is kind and c == value for c in choices):
                return False
        elif key in ("minimum", "maximum", "minLength", "pattern"):
            if not _bound(key, expected, value):
                return False
        elif key in ("anyOf", "oneOf"):
            passed = sum(1 for branch in expected if _valid(branch, value, root))
            if passed == 0 or (key == "oneOf" and passed > 1):
                return False
        elif key in ("properties", "patternProperties", "additionalProperties",
                     "required", "propertyNames"):
            if kind is dict and not _object(key, expected, value, schema, root):
                return False
        elif key == "not":
            if _valid(expected, value, root):
                return False
        elif key == "if":  # then/else apply by the condition's answer
            branch = schema.get("then" if _valid(expected, value, root) else "else", True)
            if not _valid(branch, value, root):
                return False
        elif key in ("then", "else"):
            continue  # judged with their "if"
        elif key == "items":
            if kind is list and not all(_valid(expected, item, root) for item in value):
                return False
        else:
            raise _Unsure
    return True


def _bound(key: str, expected: Any, value: Any) -> bool:
    """The keywords that apply to one type of value and ignore all others."""
    if key in ("minimum", "maximum"):
        if type(value) not in (int, float):
            return True
        return bool(value >= expected if key == "minimum" else value <= expected)
    if type(value) is not str:
        return True
    if key == "minLength":
        return bool(len(value) >= expected)
    return _regex(expected).search(value) is not None


def _object(key: str, expected: Any, value: dict[Any, Any], schema: Mapping[str, Any],
            root: Mapping[str, Any]) -> bool:
    if key == "required":
        return all(name in value for name in expected)
    if key == "propertyNames":
        return all(_valid(expected, name, root) for name in value)
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    for name, item in value.items():
        if type(name) is not str:
            raise _Unsure
        if key == "properties":
            if name in properties and not _valid(properties[name], item, root):
                return False
        elif key == "patternProperties":
            for pattern, sub in patterns.items():
                if _regex(pattern).search(name) and not _valid(sub, item, root):
                    return False
        elif (name not in properties and not any(_regex(p).search(name) for p in patterns)
              and not _valid(expected, item, root)):
            return False
    return True
