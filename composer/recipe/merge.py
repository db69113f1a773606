"""How a variant recipe combines with the recipes it extends.

The rules (also in the README):
- mappings (variables, kernel, output, compression) merge key by key, later wins;
- entry lists merge by identity, later replaces earlier in place, new ones append:
  files, directories, symlinks, devices and templates by destination `path` (across
  all five lists, so a variant can turn a file into a template), binaries by `name`,
  modules by `name` or `pattern`;
- an entry with `remove: true` deletes the earlier entry of the same identity;
- within one file nothing is replaced: two entries for one destination must agree
  (the manifest refuses them if their content differs);
- scalars and anything else: later wins.
"""

from __future__ import annotations

from typing import Any

PATH_LISTS = ("directories", "files", "symlinks", "devices", "templates")
NAME_LISTS = ("binaries", "modules")


def identity(list_key: str, item: Any) -> str:
    if list_key in PATH_LISTS:
        return f"path:{item.get('path')}"
    if isinstance(item, str):
        return "pattern:**" if list_key == "modules" and item == "all" else f"name:{item}"
    if list_key == "modules" and "pattern" in item:
        return f"pattern:{item['pattern']}"
    return f"name:{item.get('name')}"


def _removes(item: Any) -> bool:
    return isinstance(item, dict) and bool(item.get("remove"))


def _merge_list(key: str, base: list[Any], layer: list[Any]) -> list[Any]:
    """Later layers replace earlier entries; within one layer nothing is replaced.

    Two entries for one destination in the same file are both kept, so that the
    manifest accepts them if they agree and reports them if they don't, instead of
    the second one silently winning.
    """
    result = list(base)
    claimed: set[str] = set()  # identities this layer has already placed
    for item in layer:
        ident = identity(key, item)
        if _removes(item):
            result = [old for old in result if identity(key, old) != ident]
            claimed.discard(ident)
            continue
        at = None if ident in claimed else next(
            (i for i, old in enumerate(result) if identity(key, old) == ident), None)
        if at is None:
            result.append(item)
        else:  # the first earlier entry is replaced in place, any others go
            result = [item if i == at else old for i, old in enumerate(result)
                      if i == at or identity(key, old) != ident]
        claimed.add(ident)
    return result


def merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """The recipe data of `layer` applied on top of `base` (neither is modified)."""
    out = dict(base)
    for key in PATH_LISTS:
        # A destination claimed by the layer in one list leaves every other list.
        claimed = {identity(key, item) for item in layer.get(key, [])}
        for other in PATH_LISTS:
            if other != key and other in out:
                out[other] = [i for i in out[other] if identity(other, i) not in claimed]
    for key, value in layer.items():
        if key == "extends":
            continue
        if key in PATH_LISTS or key in NAME_LISTS:
            out[key] = _merge_list(key, out.get(key, []), value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
