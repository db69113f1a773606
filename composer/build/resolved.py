"""The resolved recipe: every string of a recipe expanded once, by one variable map.

A loaded recipe still holds what its author wrote: `{{ var }}` in paths, names, content,
targets and the command line, a kernel pattern, perhaps a release. `resolve_recipe`
decides all of it, once and in one place, into a frozen `ResolvedRecipe`:

- the kernel (--kernel, or the recipe's pattern in the sysroot), its release (the
  recipe's `kernel.release`, else the kernel's own, else the sysroot's only module
  release when modules are asked for) and the image's architecture (the recipe's
  `arch`, else s390x when there is an s390 kernel; else the binaries will say);
- the modules asked for, selected in that release (their load order is a template fact);
- the one variable map: the recipe's variables plus the facts the build found out under
  `composer` (`composer.release`, `composer.arch`, `composer.modules`,
  `composer.kexec_file`), the map every string, template and the trust files are read
  with;
- every entry list with its strings expanded and checked: image paths normalised,
  names split into words, sources as checked host paths, the command line as text.

The planners (composer/build/planners.py) turn the lists into entries; nothing after
this module expands a recipe string or decides the kernel, release or architecture.
The strings that decide the facts (kernel.image, kernel.release, module names and
patterns) are expanded with the recipe's variables alone: the facts come from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from composer.cpio import PATH_MAX
from composer.errors import InputError, ResolveError, at_entry, located
from composer.image.kernel import Kernel, kernel_at, kernel_in
from composer.inputfile import UnreadableFile, check_regular
from composer.manifest import Kind, image_path
from composer.recipe import model
from composer.render.templates import expand
from composer.resolve.modtree import only_release
from composer.resolve.sysroot import Sysroot

if TYPE_CHECKING:
    from composer.recipe import LoadedRecipe
    from composer.resolve.modules import ModuleSelection

DEVICE_KINDS = {"char": Kind.CHAR, "block": Kind.BLOCK, "fifo": Kind.FIFO}


@dataclass(frozen=True)
class Owned:
    """What every owned entry has: an image path and its header fields."""

    path: str
    mode: int | None  # None: the kind's default
    uid: int
    gid: int
    at: str  # where the recipe says it (FILE:LINE:COL), for messages and origins


@dataclass(frozen=True)
class Node(Owned):
    """A directory or a device node (char, block, fifo)."""

    kind: Kind
    major: int = 0
    minor: int = 0


@dataclass(frozen=True)
class File(Owned):
    """A file with its content given inline (expanded) or by a checked host file."""

    source: Path | None
    content: str | None


@dataclass(frozen=True)
class Template(Owned):
    """A template file to render with the variable map (by the templates planner)."""

    source: Path  # checked: a readable regular file


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str  # expanded, and between 1 byte and PATH_MAX long
    at: str


@dataclass(frozen=True)
class Binary:
    """One `binaries:` entry: the program names its name expands to, and where they go."""

    written: str  # the name as the recipe wrote it, for messages
    names: tuple[str, ...]
    dest: str | None
    applets: tuple[str, ...] | Literal["all"] | None
    at: str


@dataclass(frozen=True)
class Module:
    """One `modules:` entry: the names its name expands to, or its pattern."""

    written: str  # the name or pattern as the recipe wrote it, for messages
    names: tuple[str, ...]
    pattern: str | None
    at: str


@dataclass(frozen=True)
class ResolvedRecipe:
    """A recipe with everything decided that a build needs before it plans entries."""

    loaded: LoadedRecipe  # files, origins, confinement, the merge's log: for inputs, checks
    sysroot: Path | None  # None: no sysroot (compose render, validate without one)
    variables: Mapping[str, object]  # the one map: the recipe's variables and `composer`
    kernel: Kernel | None
    release: str | None  # the kernel's `uname -r`: the modules' and the codec's
    arch: str | None  # declared by the recipe or by its s390 kernel; None: the binaries'
    selection: ModuleSelection | None  # the modules selected in `release`
    cmdline: str | None  # expanded and stripped; None: no line given, or no kernel
    cmdline_at: str  # where the line came from: a recipe location or "--cmdline"
    directories: tuple[Node, ...]
    files: tuple[File, ...]
    symlinks: tuple[Symlink, ...]
    devices: tuple[Node, ...]
    templates: tuple[Template, ...]
    binaries: tuple[Binary, ...]
    modules: tuple[Module, ...]

    @property
    def name(self) -> str:
        return self.loaded.recipe.name


def resolve_recipe(loaded: LoadedRecipe, *, sysroot: Path | None,
                   kernel_override: Path | None = None,
                   cmdline_override: str | None = None) -> ResolvedRecipe:
    """The recipe resolved against SYSROOT (None: only what needs none: no kernel, no
    module selection); the overrides are --kernel and --cmdline."""
    recipe = loaded.recipe
    variables: dict[str, object] = dict(recipe.variables)  # `composer` joins it below
    kernel = None
    if sysroot is not None:
        with at_entry("" if kernel_override else loaded.origins.get("kernel.image", ""),
                      "kernel.image"):
            kernel = find_kernel(recipe.kernel, sysroot, kernel_override, variables)
    modules = tuple(_module(m, variables) for m in recipe.modules)
    release = decide_release(recipe.kernel, kernel, sysroot, modules, variables)
    selection = select_modules(modules, sysroot, release) \
        if sysroot is not None and _asks_for_modules(modules) else None
    arch = recipe.arch or ("s390x" if kernel is not None else None)
    variables["composer"] = {  # the facts, for every string and template expanded below
        "release": release or "", "arch": arch or "",
        "modules": selection.load_order() if selection else [],
        "kexec_file": kexec_file_fact(sysroot, release)
        if kernel is not None and sysroot is not None else ""}
    raw_cmdline = cmdline_override if cmdline_override is not None else recipe.kernel.cmdline
    cmdline_at = "--cmdline" if cmdline_override is not None \
        else loaded.origins.get("kernel.cmdline", "")
    return ResolvedRecipe(
        loaded=loaded, sysroot=sysroot, variables=MappingProxyType(variables), kernel=kernel,
        release=release, arch=arch, selection=selection,
        directories=tuple(_node(d, Kind.DIR, variables) for d in recipe.directories),
        files=tuple(_file(f, variables) for f in recipe.files),
        symlinks=tuple(_symlink(s, variables) for s in recipe.symlinks),
        devices=tuple(_node(d, DEVICE_KINDS[d.type], variables) for d in recipe.devices),
        templates=tuple(_template(t, variables) for t in recipe.templates),
        binaries=tuple(_binary(b, variables) for b in recipe.binaries),
        modules=modules,
        cmdline=_cmdline(raw_cmdline, cmdline_at, variables) if kernel is not None else None,
        cmdline_at=cmdline_at,
    )


def find_kernel(spec: model.Kernel, sysroot: Path, override: Path | None,
                variables: Mapping[str, object]) -> Kernel | None:
    """The kernel from --kernel (a host path) or the recipe's image (in the sysroot)."""
    if override is not None:
        return kernel_at(override)
    if spec.image:
        return kernel_in(sysroot, expand(spec.image, variables, "kernel.image"))
    return None


def decide_release(spec: model.Kernel, kernel: Kernel | None, sysroot: Path | None,
                   modules: Sequence[Module], variables: Mapping[str, object]) -> str | None:
    """The kernel's `uname -r`, decided once: the recipe's kernel.release, else the
    kernel's own (from its header), else, when modules are asked for, the one release
    the sysroot has modules for."""
    release = (expand(spec.release, variables, "kernel.release") if spec.release
               else kernel.release if kernel is not None else None)
    if release is None and sysroot is not None and _asks_for_modules(modules):
        return only_release(Sysroot(sysroot))
    return release


def _asks_for_modules(modules: Sequence[Module]) -> bool:
    return any(m.names or m.pattern is not None for m in modules)


def kexec_file_fact(sysroot: Path, release: str | None) -> str:
    """"yes" or "no": whether the image's kernel has kexec_file_load (CONFIG_KEXEC_FILE in
    the sysroot's /boot/config-RELEASE), "" when that file is not there. The boot script
    then skips a `kexec -s` that cannot work (an exec of kexec per boot, ~0.2 s under
    TCG) instead of trying it first at every boot."""
    if not release:
        return ""
    try:
        text = (sysroot / "boot" / f"config-{release}").read_text(errors="replace")
    except OSError:
        return ""
    return "yes" if "\nCONFIG_KEXEC_FILE=y\n" in f"\n{text}" else "no"


def select_modules(modules: Sequence[Module], sysroot: Path,
                   release: str | None) -> ModuleSelection:
    from composer.resolve.modules import ModuleIndex

    index = ModuleIndex.load(sysroot, release)
    try:
        return index.select(names=[n for m in modules for n in m.names],
                            patterns=[m.pattern for m in modules if m.pattern is not None])
    except ResolveError as error:  # led by the entry that asked for what is missing
        raise located(error, *_module_entry(modules, error.message)) from None


def _module_entry(modules: Sequence[Module], message: str) -> tuple[str, str]:
    """(location, key) of the module entry a selection error names."""
    for module in modules:
        if module.pattern is not None and f"'{module.pattern}'" in message:
            return module.at, "pattern"
        if any(f"'{name}'" in message for name in module.names):
            return module.at, "name"
    return "", ""


def _path(raw: str, variables: Mapping[str, object], at: str) -> str:
    with at_entry(at, "path"):
        return image_path(expand(raw, variables, "path"))


_LONE_VARIABLE = re.compile(r"^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")


def item_words(raw: str, variables: Mapping[str, object], at: str) -> list[str]:
    """A list item may expand to several names: `{{ extra_modules }}` -> "a b c".

    A list variable on its own contributes its items, so `modules: ["{{ modules }}"]`
    works whether the variable is a list or a space- or comma-separated string.
    """
    lone = _LONE_VARIABLE.match(raw)
    if lone and isinstance(variables.get(lone.group(1)), list):
        value = variables[lone.group(1)]
        assert isinstance(value, list)
        return [str(item) for item in value]
    with at_entry(at, "name"):
        return expand(raw, variables, "name").replace(",", " ").split()


def _source(raw: str, at: str) -> Path:
    """A file source, checked now by opening it: a file the user may not read fails
    here with its location, not halfway through the archive."""
    source = Path(raw)
    try:  # opened now, without waiting on a FIFO, to refuse anything but a regular file
        check_regular(source)
    except UnreadableFile as error:
        reason = "is not a regular file" if source.is_dir() else error.message
        raise located(InputError(f"source file {source} {reason}"), at, "source") from None
    return source


def _node(item: model.Directory | model.Device, kind: Kind,
          variables: Mapping[str, object]) -> Node:
    numbers = (item.major, item.minor) if isinstance(item, model.Device) else (0, 0)
    return Node(_path(item.path, variables, item.at), item.mode, item.uid, item.gid, item.at,
                kind, *numbers)


def _file(f: model.File, variables: Mapping[str, object]) -> File:
    path = _path(f.path, variables, f.at)
    if (f.source is None) == (f.content is None):
        raise located(InputError(f"file {path} needs exactly one of 'source' or "
                                 "'content'"), f.at, "content" if f.content else "source")
    if f.source is not None:
        return File(path, f.mode, f.uid, f.gid, f.at, _source(f.source, f.at), None)
    with at_entry(f.at, "content"):
        content = expand(f.content or "", variables, "content")
    return File(path, f.mode, f.uid, f.gid, f.at, None, content)


def _symlink(s: model.Symlink, variables: Mapping[str, object]) -> Symlink:
    with at_entry(s.at, "target"):
        target = expand(s.target, variables, "target")
    size = len(target.encode(errors="surrogateescape"))
    if not 1 <= size <= PATH_MAX:  # the kernel skips a link whose target is longer
        state = "empty" if not size else f"{size:,} bytes, over PATH_MAX ({PATH_MAX})"
        raise located(InputError(f"symlink {s.path}: target is {state}"), s.at, "target")
    return Symlink(_path(s.path, variables, s.at), target, s.at)


def _template(t: model.Template, variables: Mapping[str, object]) -> Template:
    path = _path(t.path, variables, t.at)
    source = Path(t.source)
    with at_entry(t.at, "source"):
        try:
            check_regular(source)
        except UnreadableFile as error:
            raise InputError(f"template {source} {error.message}") from None
    return Template(path, t.mode, t.uid, t.gid, t.at, source)


def _binary(b: model.Binary, variables: Mapping[str, object]) -> Binary:
    dest = _path(b.path, variables, b.at) if b.path else None
    applets = tuple(b.applets) if isinstance(b.applets, list) else b.applets
    return Binary(b.name, tuple(item_words(b.name, variables, b.at)), dest, applets, b.at)


def _module(m: model.Module, variables: Mapping[str, object]) -> Module:
    if m.pattern is not None:
        with at_entry(m.at, "pattern"):
            return Module(m.pattern, (), expand(m.pattern, variables, "pattern"), m.at)
    names = tuple(item_words(m.name, variables, m.at)) if m.name is not None else ()
    return Module(m.name or "", names, None, m.at)


def _cmdline(raw: str | None, at: str, variables: Mapping[str, object]) -> str | None:
    """The command line as text, expanded and stripped; None when the recipe and the
    command line give none."""
    if raw is None:
        return None
    with at_entry(at, "kernel.cmdline"):
        return expand(raw, variables, "kernel.cmdline").strip()
