"""docs/recipes.md, generated from the schema so the two cannot drift apart.

`compose schema --markdown > docs/recipes.md` regenerates it; a test fails when the
committed file differs from what the schema says.
"""

from __future__ import annotations

from typing import Any

HEADER = """\
# Recipe reference

Generated from `schemas/recipe.schema.json` by `compose schema --markdown`; do not edit
by hand. Unknown keys are errors; keys starting with `x-` are free for your own notes.
How variant recipes merge (`extends`) is described in the README.
"""


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = defs[name]
        if "properties" in target:
            return f"[{name}](#{name.lower()})"
        if any("properties" in b for b in target.get("anyOf", [])):
            return f"string or [{name}](#{name.lower()}) mapping"
        return _type(target, defs)
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_type(s, defs) for s in schema[key])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), defs)}"
    if kind == "object" and "properties" in schema:
        return "mapping (below)"
    if not schema:
        return "any"
    if kind == "object":
        return "mapping"
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind)


def _description(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    text: str = schema.get("description", "")
    if not text and "$ref" in schema:
        text = defs[schema["$ref"].rsplit("/", 1)[-1]].get("description", "")
    if not text and schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        text = defs[schema["items"]["$ref"].rsplit("/", 1)[-1]].get("description", "")
    return text.replace("|", "\\|")


def _table(props: dict[str, Any], required: list[str], defs: dict[str, Any]) -> list[str]:
    rows = ["| key | type | required | meaning |", "|---|---|---|---|"]
    for name, schema in props.items():
        need = "yes" if name in required else ""
        rows.append(f"| `{name}` | {_type(schema, defs)} | {need} | "
                    f"{_description(schema, defs)} |")
    return rows


def _object_sections(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "object" and "properties" in prop:
            out += ["", f"## {name}", "", _description(prop, defs), ""]
            out += _table(prop["properties"], prop.get("required", []), defs)
        for branch in prop.get("anyOf", []):
            if branch.get("type") == "object" and "properties" in branch:
                out += ["", f"## {name} (mapping form)", "", ""]
                out += _table(branch["properties"], branch.get("required", []), defs)
    return out


def markdown(schema: dict[str, Any]) -> str:
    defs = schema.get("$defs", {})
    lines = [HEADER, "## Top level", "", schema.get("description", ""), ""]
    lines += _table(schema["properties"], schema.get("required", []), defs)
    lines += _object_sections(schema, defs)
    for name, definition in defs.items():
        branches = [definition, *definition.get("anyOf", [])]
        for branch in branches:
            if "properties" in branch:
                lines += ["", f"## {name}", "", _description(definition, defs), ""]
                lines += _table(branch["properties"], branch.get("required", []), defs)
                break
    return "\n".join(lines).rstrip() + "\n"
