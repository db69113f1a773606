"""Adding to and taking from a list in a variant, without restating it: `K+` and `K-`.

One syntax for every list of a recipe: the key `K+` adds items to the base's list K
(the ones it lacks, at the end), `K-` removes them, plain `K` replaces the list. The
schema gets the two keys beside every list key (`add_list_edits`, called where the
models make their schema); the merge applies them (`patched`, for an entry's own lists;
the loader turns an entry list's `K+`/`K-` into entries, composer/recipe/loader.py).
"""

from __future__ import annotations

from typing import Any

from composer.errors import InputError, at_entry

ADD, REMOVE = "+", "-"


def edits(key: str) -> tuple[str, str] | None:
    """`applets+` -> ("applets", "+"): a key that adds to or removes from a list."""
    if len(key) > 1 and key[-1] in (ADD, REMOVE):
        return key[:-1], key[-1]
    return None


def edited(base: Any, key: str, items: Any, how: str) -> list[Any]:
    """The base's list with `items` added (missing ones, at the end) or removed."""
    if base == "all":
        raise InputError(f"the base's {key} is 'all', which has no items to "
                         f"{'add to' if how == ADD else 'take from'}",
                         hint=f"write the whole list as {key}: [...]")
    have = list(base) if isinstance(base, list) else []
    if how == ADD:
        return have + [i for i in items if i not in have]
    return [i for i in have if i not in items]


def patched(base: Any, item: Any) -> Any:
    """An entry with `K+`/`K-` keys is a patch of the base entry of its identity: its
    plain keys replace the base's, `K+` adds to the base's list K, `K-` removes from it.
    An entry without them replaces the base entry whole, as it always did."""
    if not isinstance(item, dict) or not any(edits(k) for k in item):
        return item
    out = dict(base) if isinstance(base, dict) else {}
    out.pop("remove", None)
    for key, value in item.items():
        if edits(key) is None:
            out[key] = value
    for key, value in item.items():
        found = edits(key)
        if found is not None:
            with at_entry(str(item.get("at", "")), key):
                out[found[0]] = edited(out.get(found[0]), found[0], value, found[1])
    return out


def add_list_edits(properties: dict[str, Any]) -> None:
    """Every list key K also has `K+` (add to the base's list) and `K-` (remove from it),
    derived here so that no list can lack them (composer/recipe/merge.py applies them).
    An entry list's `K-` names entries by identity (a path, or a name)."""
    for key, schema in list(properties.items()):
        if key == "extends":  # which files, not what they hold
            continue
        arrays = [s for s in [schema, *schema.get("anyOf", [])] if s.get("type") == "array"]
        if not arrays:
            continue
        items = arrays[0].get("items", {})
        entries = "$ref" in items
        properties[f"{key}+"] = {"type": "array", "items": items, "description": (
            f"In a variant: {'entries' if entries else 'items'} added to the base's {key} "
            f"(a {key}: list replaces it).")}
        properties[f"{key}-"] = {"type": "array", "items": (
            {"type": "string", "minLength": 1} if entries else items), "description": (
            f"In a variant: {'entries (by path, or name) ' if entries else 'items '}"
            f"removed from the base's {key}.")}
