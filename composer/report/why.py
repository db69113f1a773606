"""Why a path is in the image a recipe builds: `compose why RECIPE PATH`.

The answer comes from the plan itself: each entry carries the recipe location or
resolver that chose it (`origin`) and the chain the resolver followed (`why`: the
DT_NEEDED chain of a library, the dependency chain of a module, the busybox applet of a
link), recorded as they resolved. Nothing is resolved a second time here; the recipe
entry of a binary or module is found by its name, and the package by the sysroot's dpkg
database. For an image without its recipe, composer/whyimage.py reads the same answers
off the image's own files.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.manifest import Entry, Kind
from composer.report.packages import PackageDatabase
from composer.resolve.modfile import canonical_name

if TYPE_CHECKING:
    from composer.build.resolved import Binary, Module, ResolvedRecipe


@dataclass
class Reason:
    """The answer for one path: what it is, who asked for it, through which chain."""

    path: str
    kind: str
    recipe_entry: str = ""  # FILE:LINE:COL (key: value), or how it got there otherwise
    chain_kind: str = ""  # "DT_NEEDED", "PT_INTERP", "module dependency", "applet", ""
    chain: list[str] = field(default_factory=list)
    package: dict[str, str] | None = None
    source: str = ""

    def json(self) -> dict[str, Any]:
        return {"path": self.path, "type": self.kind, "recipe_entry": self.recipe_entry,
                "chain_kind": self.chain_kind, "chain": self.chain, "package": self.package,
                "source": self.source}

    def lines(self) -> list[str]:
        out = [f"{self.path}: {self.kind}" + (f" from {self.source}" if self.source else "")]
        if self.recipe_entry:
            out.append(f"  {'recipe entry':<18} {self.recipe_entry}")
        if self.chain:
            out.append(f"  {self.chain_kind:<18} {' -> '.join(self.chain)}")
        if self.package:
            out.append(f"  {'package':<18} {self.package['name']} {self.package['version']}")
        return out


def find_entry(entries: Sequence[Entry], path: str) -> Entry | None:
    wanted = "/" + path.strip("/")
    return next((e for e in entries if e.path == wanted), None)


def nearest(entries: Sequence[Entry], path: str) -> list[str]:
    wanted = "/" + path.strip("/")
    return difflib.get_close_matches(wanted, [e.path for e in entries], n=3, cutoff=0.6)


def _binary_entry(binaries: Sequence[Binary], name: str) -> str:
    for binary in binaries:
        if any(n == name or n.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1]
               for n in binary.names):
            return f"{binary.at}: binaries: {binary.written}" if binary.at else \
                f"binaries: {binary.written}"
    return f"binaries: {name}"


def _module_entry(modules: Sequence[Module], root: str) -> str:
    for module in modules:
        if module.pattern is not None:
            continue
        names = list(module.names)
        if root in (canonical_name(n) for n in names):
            expanded = f" (= {' '.join(names)})" if names != [module.written] else ""
            return f"{module.at}: modules: {module.written}{expanded}" if module.at else \
                f"modules: {module.written}{expanded}"
    patterns = [m for m in modules if m.pattern is not None or m.written == "all"]
    if patterns:
        module = patterns[0]
        return f"{module.at}: modules: {module.written}" if module.at else \
            f"modules: {module.written}"
    return f"module {root}"


def recipe_entry(recipe: ResolvedRecipe, entry: Entry) -> str:
    """Where in the recipe ENTRY comes from, FILE:LINE:COL when the recipe says it."""
    origin = entry.origin
    if origin.startswith("binaries: "):
        name = origin.removeprefix("binaries: ").split(" (", 1)[0]
        return _binary_entry(recipe.binaries, name)
    if origin.startswith("module ") and entry.why:
        return _module_entry(recipe.modules, entry.why[0])
    return origin


def _chain_kind(entry: Entry) -> str:
    if not entry.why:
        return ""
    if entry.origin.startswith("module "):
        return "module dependency"
    if entry.why[-1].startswith("applet "):
        return "applet"
    if entry.why[-1].startswith("PT_INTERP "):
        return "PT_INTERP"
    return "DT_NEEDED"


def explain(recipe: ResolvedRecipe, entry: Entry, sysroot: Path,
            db: PackageDatabase | None) -> Reason:
    reason = Reason(entry.path, str(entry.kind), recipe_entry(recipe, entry),
                    _chain_kind(entry), list(entry.why))
    if entry.kind is Kind.SYMLINK:
        reason.kind = f"symlink -> {entry.target}"
    if entry.source is not None:
        reason.source = str(entry.source)
        try:
            inside = "/" + entry.source.absolute().relative_to(sysroot.absolute()).as_posix()
        except ValueError:
            inside = None
        owner = db.owner_of(inside) if db is not None and inside is not None else None
        if owner is not None:
            reason.package = {"name": owner.name, "version": owner.version}
    return reason
