"""How a variant recipe combines with the recipes it extends.

The rules (also in the README):
- mappings (variables, kernel, output, compression) merge key by key, later wins;
- entry lists merge by identity, later replaces earlier in place, new ones append:
  files, directories, symlinks, devices and templates by destination `path` (across
  all five lists, so a variant can turn a file into a template), binaries by `name`,
  modules by `name` (`-` and `_` alike, as kmod has it) or `pattern`; paths are
  compared as the image sees them
  (`/etc//motd` and `/etc/motd/` are `/etc/motd`);
- an entry with `remove: true` deletes the earlier entry of the same identity;
- within one file nothing is replaced: two entries for one destination must agree
  (the manifest refuses them if their content differs);
- scalars and anything else: later wins.
"""

from __future__ import annotations

from typing import Any, Final

from composer.recipe.model import ENTRY_LISTS

# Lists whose entries share one identity space (a destination path): a variant's entry
# replaces an earlier one of the same path in any of them.
SHARED = {key for key, kind in ENTRY_LISTS.items() if kind.identity_key == "path"}


def identity(list_key: str, item: Any) -> str:
    """What an item of `list_key` is, for replacing and removing (its model says)."""
    kind = ENTRY_LISTS[list_key]
    return kind.identity(kind.spelt_out(item))


def _removes(item: Any) -> bool:
    return isinstance(item, dict) and bool(item.get("remove"))


_GONE: Final = object()  # a slot whose entry a later one replaced or removed


Identified = list[tuple[str, Any]]  # (identity, entry)


def _merge_list(base: Identified, layer: Identified) -> list[Any]:
    """Later layers replace earlier entries; within one layer nothing is replaced.

    Two entries for one destination in the same file are both kept, so that the
    manifest accepts them if they agree and reports them if they don't, instead of
    the second one silently winning. Linear in entries: each identity's places in
    the result are indexed, and replaced or removed entries leave a gap that is
    dropped at the end.
    """
    slots: list[Any] = [item for _, item in base]
    places: dict[str, list[int]] = {}
    for i, (ident, _) in enumerate(base):
        places.setdefault(ident, []).append(i)
    claimed: set[str] = set()  # identities this layer has already placed
    for ident, item in layer:
        if _removes(item):
            for i in places.pop(ident, []):
                slots[i] = _GONE
            claimed.discard(ident)
            continue
        earlier = places.get(ident)
        if earlier and ident not in claimed:
            # the first earlier entry is replaced in place, any others go
            first, *others = earlier
            slots[first] = item
            for i in others:
                slots[i] = _GONE
            places[ident] = [first]
        else:
            places.setdefault(ident, []).append(len(slots))
            slots.append(item)
        claimed.add(ident)
    return [item for item in slots if item is not _GONE]


def merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """The recipe data of `layer` applied on top of `base` (neither is modified)."""
    out = dict(base)
    lists = tuple(ENTRY_LISTS)
    ids = {key: [identity(key, item) for item in layer.get(key, [])] for key in lists}
    base_ids = {key: [identity(key, item) for item in out.get(key, [])] for key in lists}
    for key in SHARED:
        # A destination the layer claims in another list leaves this one.
        elsewhere = set().union(*(ids[other] for other in SHARED if other != key))
        if elsewhere and out.get(key):
            kept = [(i, item) for i, item in zip(base_ids[key], out[key], strict=True)
                    if i not in elsewhere]
            base_ids[key] = [i for i, _ in kept]
            out[key] = [item for _, item in kept]
    for key, value in layer.items():
        if key == "extends":
            continue
        if key in lists:
            out[key] = _merge_list(list(zip(base_ids[key], out.get(key, []), strict=True)),
                                   list(zip(ids[key], value, strict=True)))
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
