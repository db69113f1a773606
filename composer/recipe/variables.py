"""Variables declared with their rules, so that a bad value fails the build, not the boot.

A recipe's `variables:` entry is a plain value (`interface: auto`) or a declaration, a
mapping with `default` and the rules the value must follow:

    variables:
      on_failure: {default: shell, choices: [shell, retry, poweroff]}
      verbosity: {default: 1, type: integer, min: 0, max: 2}

`type` (string, integer, number, boolean, list) defaults to the type of `default`;
`choices` lists the allowed values (every item, for a list); `min` and `max` bound a
number. A variant or `--set`/`--vars` that gives a plain value sets the value and keeps
the rules; a variant's declaration merges with the base's key by key. Every value, the
default included, is checked once the layers and the overrides are applied; a value that
breaks a rule is an error at the declaration, naming the variable, the value, where it
came from and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from composer.errors import Location, Problem
from composer.recipe.model import VariableValue


def is_declaration(value: Any) -> bool:
    return isinstance(value, dict)


def merge_variables(base: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """A layer's variables over the base's: a plain value replaces a declaration's default
    (its rules stay); a declaration merges with the base's declaration key by key."""
    out = dict(base)
    for name, value in layer.items():
        if len(name) > 1 and name[-1] in "+-":  # modules+: [virtio_blk]
            name, how = name[:-1], name[-1]
            current = out.get(name)
            listed = current.get("default") if isinstance(current, dict) else current
            have = list(listed) if isinstance(listed, list) else []
            value = have + [v for v in value if v not in have] if how == "+" else \
                [v for v in have if v not in value]
        before = out.get(name)
        if isinstance(before, dict):
            out[name] = {**before, **value} if isinstance(value, dict) \
                else {**before, "default": value}
        else:
            out[name] = value
    return out


def split(variables: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(values, declarations): each declaration's default becomes the value."""
    values: dict[str, Any] = {}
    declared: dict[str, dict[str, Any]] = {}
    for name, value in variables.items():
        if is_declaration(value):
            declared[name] = value
            values[name] = value.get("default")
        else:
            values[name] = value
    return values, declared


def type_of(declaration: Mapping[str, Any]) -> str:
    if declaration.get("type"):
        return str(declaration["type"])
    default = declaration.get("default")
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    return "list" if isinstance(default, list) else "string"


def _of_type(kind: str, value: Any) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    wanted: dict[str, type | tuple[type, ...]] = {
        "boolean": bool, "integer": int, "number": (int, float), "list": list, "string": str}
    return isinstance(value, wanted[kind])


def violation(declaration: Mapping[str, Any], value: Any) -> str:
    """What is wrong with `value` under `declaration`, or ""."""
    kind = type_of(declaration)
    if not _of_type(kind, value):
        return f"is not of type {kind}"
    choices = declaration.get("choices")
    items = value if isinstance(value, list) else [value]
    if choices is not None and any(item not in choices for item in items):
        return "is not one of " + ", ".join(str(c) for c in choices)
    low, high = declaration.get("min"), declaration.get("max")
    if kind in ("integer", "number") and ((low is not None and value < low)
                                          or (high is not None and value > high)):
        bounds = f"{low if low is not None else '…'}..{high if high is not None else '…'}"
        return f"is out of range {bounds}"
    return ""


def check(values: Mapping[str, Any], declared: Mapping[str, Mapping[str, Any]],
          declared_at: Mapping[str, str], set_by: Mapping[str, str]) -> list[Problem]:
    """A problem for every value that breaks its declaration's rules."""
    problems = []
    for name, declaration in declared.items():
        wrong = violation(declaration, values.get(name)) if values.get(name) is not None \
            else "is no value: the declaration has no default"
        if not wrong:
            continue
        source = set_by.get(name, "")
        came = f" (from {source})" if source and source != declared_at.get(name) else ""
        problems.append(Problem(f"{values.get(name)!r}{came} {wrong}", location_of(
            declared_at.get(name, "")), f"variables.{name}"))
    return problems


def location_of(at: str) -> Location | None:
    parts = at.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return Location(parts[0], int(parts[1]), int(parts[2]))
    return Location(at) if at else None


def coerce_declared(text: str, declaration: Mapping[str, Any]) -> VariableValue:
    """A --set value read as the declared type (a wrong one is left to `check`)."""
    kind = type_of(declaration)
    try:
        if kind == "integer":
            return int(text, 0)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        lowered = text.lower()
        return True if lowered in ("1", "true", "yes", "on") else \
            False if lowered in ("0", "false", "no", "off") else text
    if kind == "list":
        return [part for part in text.replace(",", " ").split() if part]
    return text
