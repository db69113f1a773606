"""The build's self-check: the image about to be written must be able to boot.

`composer.read.imagecheck` finds what is missing; this module says why, in the recipe's
terms. A path the boot needs is usually gone because a variant replaced or removed
the entry that provided it (the merge keeps a log of those), so the message leads with
that entry's location: `site.yaml:3:5: applets: applets of busybox replaced here;
/bin/sh is gone and /init (#!/bin/sh) needs it`. Otherwise it leads with the entry that
needs the path. Either way, one line per missing path, exit 2, nothing written.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from composer.errors import Location, Problem, RecipeError
from composer.manifest import Entry
from composer.read.imagecheck import COMMAND_DIRS, GONE, Finding, check_image
from composer.read.imagetree import tree_of_entries
from composer.recipe.merge import SHARED, Replacement
from composer.recipe.model import ENTRY_LISTS, image_identity

NO_CHECK_WARNING = ("the image was not checked (--no-check): nothing proves that its "
                    "/init, interpreters, libraries and modules are all there")


def check_build(entries: Iterable[Entry], cmdline: bytes | None,
                replaced: Iterable[Replacement], data: Mapping[str, Any],
                recipe: str, *, boot_image: bool = True) -> None:
    """Raise a RecipeError naming every missing path, or return quietly. `boot_image`:
    a kernel goes with the initramfs (else it may be a supplement without /init)."""
    text = cmdline.decode(errors="replace") if cmdline else None
    findings = check_image(tree_of_entries(entries, text, boot_image=boot_image))
    if findings:
        log = list(replaced)[::-1]  # the latest replacement is the one to blame
        lists = entry_lists(data)
        raise RecipeError([problem(f, log, lists, recipe) for f in findings])


def entry_lists(data: Mapping[str, Any]) -> dict[str, str]:
    """Each entry's location -> the list it is in, to name the key of a needer."""
    out: dict[str, str] = {}
    for key in ENTRY_LISTS:
        for item in data.get(key, []) or []:
            if isinstance(item, dict) and isinstance(item.get("at"), str):
                out[item["at"]] = key
    return out


def problem(finding: Finding, log: list[Replacement], lists: Mapping[str, str],
            recipe: str) -> Problem:
    blamed = blame(finding, log)
    if blamed is not None:
        at, key, what = blamed
        state = "is gone" if finding.state == GONE else finding.state
        return Problem(f"{what}; {finding.missing} {state} and {finding.need}",
                       location(at), key)
    origin = next((o for o in finding.needer_origins if _is_location(o)), "")
    if origin:
        return Problem(finding.message, location(origin), lists.get(origin, ""))
    return Problem(finding.message, Location(recipe, 1, 1), "files", _HINTS.get(finding.rule, ""))


_HINTS = {"init": "add an executable /init (files: or templates:), or set rdinit= or root= "
                  "on kernel.cmdline"}


def blame(finding: Finding, log: list[Replacement]) -> tuple[str, str, str] | None:
    """(location, key, what happened there) of the replacement that took the missing
    path away, or None when no variant did."""
    missing = finding.missing
    base = posixpath.basename(missing)
    module = missing.removeprefix("module ") if finding.rule == "module" else ""
    for change in log:
        at = _at(change.by)
        if not at:
            continue
        if change.list_key in SHARED:
            if change.identity == f"path:{image_identity(missing)}":
                verb = "removed" if change.removed else "replaced"
                return at, "remove" if change.removed else "path", f"{missing} {verb} here"
        elif change.list_key == "binaries":
            found = _binary_blame(change, missing, base, at)
            if found is not None:
                return found
        elif change.list_key == "modules" and change.removed and module:
            name = change.identity.removeprefix("name:")
            if name == module.replace("-", "_") or base.startswith(name):
                return at, "remove", f"module {name} removed here"
    return None


def _binary_blame(change: Replacement, missing: str, base: str, at: str
                  ) -> tuple[str, str, str] | None:
    name = change.identity.removeprefix("name:")
    old = _applets(change.old)
    provided_before = base == posixpath.basename(name) or (
        posixpath.dirname(missing) in COMMAND_DIRS and (old == "all" or base in old))
    if not provided_before:
        return None
    if change.removed:
        return at, "remove", f"{name} removed here"
    new = _applets(change.by)
    if new != "all" and base not in new and base != posixpath.basename(name):
        return at, "applets", f"applets of {name} replaced here"
    return None


def _applets(item: Any) -> str | list[str]:
    value = item.get("applets") if isinstance(item, dict) else None
    if value == "all":
        return "all"
    return [str(v) for v in value] if isinstance(value, list) else []


def _at(item: Any) -> str:
    return str(item.get("at", "")) if isinstance(item, dict) else ""


def _is_location(text: str) -> bool:
    parts = text.rsplit(":", 2)
    return len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit()


def location(at: str) -> Location:
    """A `file:line:col` string (as the loader writes an entry's `at`) as a Location."""
    if _is_location(at):
        file, line, column = at.rsplit(":", 2)
        return Location(file, int(line), int(column))
    return Location(at)
