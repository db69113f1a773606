"""The plan stage: a recipe becomes a manifest of entries and a chosen kernel.

Everything the image will hold is decided here — templates rendered, `{{ var }}`
strings expanded, binaries and modules resolved from the sysroot — so that the archive
stage only streams bytes and the same plan always gives the same archive.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from composer.cpio import PATH_MAX
from composer.errors import InputError, KernelError, ResolveError
from composer.image.s390 import BootHeader, read_kernel, release_of
from composer.manifest import Entry, Kind, Manifest, image_path, mode_or_default
from composer.recipe.model import Recipe
from composer.render import expand, render_file
from composer.resolve.binaries import BinaryRequest, resolve_binaries
from composer.resolve.elf import Arch, identify
from composer.resolve.modules import ModuleIndex, ModuleSelection
from composer.resolve.sysroot import Sysroot

DEV_CONSOLE = Entry("/dev/console", Kind.CHAR, major=5, minor=1,
                    origin="default (the first process needs a console)")


@dataclass(frozen=True)
class Kernel:
    path: Path
    header: BootHeader
    note: str = ""  # how it was chosen, when that was not obvious from the recipe

    @property
    def release(self) -> str | None:
        return release_of(self.header.kernel_version)


@dataclass
class Plan:
    manifest: Manifest
    kernel: Kernel | None
    release: str | None
    arch: str | None
    variables: dict[str, object]
    warnings: list[str] = field(default_factory=list)
    included: list[Path] = field(default_factory=list)  # templates read by {% include %}


def _where(at: str) -> str:
    return f" ({at})" if at else ""


def _path(raw: str, variables: Mapping[str, object], at: str) -> str:
    text = expand(raw, variables, f"{at or 'recipe'} path")
    try:
        return image_path(text)
    except InputError as error:
        raise InputError(f"{error.message}{_where(at)}", hint=error.hint) from None


_LONE_VARIABLE = re.compile(r"^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")


def _words(raw: str, variables: Mapping[str, object], at: str) -> list[str]:
    """A list item may expand to several names: `{{ extra_modules }}` -> "a b c".

    A list variable on its own contributes its items, so `modules: ["{{ modules }}"]`
    works whether the variable is a list or a space- or comma-separated string.
    """
    lone = _LONE_VARIABLE.match(raw)
    if lone and isinstance(variables.get(lone.group(1)), list):
        value = variables[lone.group(1)]
        assert isinstance(value, list)
        return [str(item) for item in value]
    return expand(raw, variables, at or "recipe").replace(",", " ").split()


def _source(raw: str, at: str) -> Path:
    """A file source, checked now by opening it: a file the user may not read fails
    here with its location, not halfway through the archive."""
    source = Path(raw)
    if not source.is_file():
        state = "is not a regular file" if source.exists() else "not found"
        raise InputError(f"source file {source} {state}{_where(at)}")
    try:
        os.close(os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
    except OSError as error:
        raise InputError(f"source file {source} cannot be read: {error.strerror}"
                         f"{_where(at)}") from None
    return source


def simple_entries(recipe: Recipe, variables: Mapping[str, object],
                   included: list[Path] | None = None) -> list[Entry]:
    """Entries that need no sysroot: directories, files, symlinks, devices, templates.
    Files read through `{% include %}` are added to `included`."""
    out: list[Entry] = []
    for d in recipe.directories:
        out.append(Entry(_path(d.path, variables, d.at), Kind.DIR,
                         mode_or_default(Kind.DIR, d.mode), d.uid, d.gid, origin=d.at))
    for f in recipe.files:
        path = _path(f.path, variables, f.at)
        mode = mode_or_default(Kind.FILE, f.mode)
        if (f.source is None) == (f.content is None):
            raise InputError(f"file {path} needs exactly one of 'source' or 'content'"
                             f"{_where(f.at)}")
        if f.source is not None:
            out.append(Entry(path, Kind.FILE, mode, f.uid, f.gid,
                             source=_source(f.source, f.at), origin=f.at))
        else:
            content = expand(f.content or "", variables, f"{f.at or path} content")
            out.append(Entry(path, Kind.FILE, mode, f.uid, f.gid, data=content.encode(),
                             origin=f.at))
    for s in recipe.symlinks:
        target = expand(s.target, variables, f"{s.at} target")
        size = len(target.encode(errors="surrogateescape"))
        if not 1 <= size <= PATH_MAX:  # the kernel skips a link whose target is longer
            state = "empty" if not size else f"{size:,} bytes, over PATH_MAX ({PATH_MAX})"
            raise InputError(f"symlink {s.path}: target is {state}{_where(s.at)}")
        out.append(Entry(_path(s.path, variables, s.at), Kind.SYMLINK,
                         target=target, origin=s.at))
    for dev in recipe.devices:
        kind = {"char": Kind.CHAR, "block": Kind.BLOCK, "fifo": Kind.FIFO}[dev.type]
        mode = mode_or_default(kind, dev.mode)
        out.append(Entry(_path(dev.path, variables, dev.at), kind, mode, dev.uid, dev.gid,
                         major=dev.major, minor=dev.minor, origin=dev.at))
    for t in recipe.templates:
        path = _path(t.path, variables, t.at)
        source = Path(t.source)
        if not source.is_file():
            raise InputError(f"template {source} not found{_where(t.at)}")
        text = render_file(source, variables, included=included)
        out.append(Entry(path, Kind.FILE, mode_or_default(Kind.FILE, t.mode), t.uid, t.gid,
                         data=text.encode(), origin=t.at or str(source)))
    return out


def find_kernel(recipe: Recipe, sysroot: Path, override: Path | None,
                variables: Mapping[str, object]) -> Kernel | None:
    """The kernel from --kernel (a host path) or the recipe's image (in the sysroot)."""
    note = ""
    if override is not None:
        host = override
    elif recipe.kernel.image:
        pattern = expand(recipe.kernel.image, variables, "kernel.image")
        host, note = _sysroot_match(sysroot, pattern)
    else:
        return None
    header = read_kernel(host)
    return Kernel(host, header, note)


def _sysroot_match(sysroot: Path, pattern: str) -> tuple[Path, str]:
    """The one kernel `pattern` names, looked up chroot-like: an absolute symlink in the
    sysroot (/boot/vmlinuz -> /boot/vmlinuz-6.1.0) stays in the sysroot, a loop is an
    error, and the host's own /boot is never reached."""
    if not pattern.startswith("/"):
        raise KernelError(f"kernel.image {pattern!r} must be an absolute path in the sysroot")
    root = Sysroot(sysroot)
    matches = root.glob(pattern)
    if not matches:
        if not any(c in pattern for c in "*?["):
            root.lookup(pattern)  # raises, naming the missing part and the links followed
        raise KernelError(f"no kernel matches {pattern} in sysroot {sysroot}",
                          hint="check --sysroot, or pass --kernel PATH")
    if len(matches) == 1:
        return root.host(matches[0]), ""
    running = _running_kernel(sysroot, matches)
    if running is not None:
        return root.host(running), (
            f"kernel.image {pattern} matches {len(matches)} kernels; using the running one "
            f"(uname -r), {running}; pass --kernel PATH for another")
    host_note = (f"; the running kernel, vmlinuz-{os.uname().release}, is not one of them"
                 if _is_host_root(sysroot) else "")
    raise KernelError(f"kernel.image {pattern} matches {len(matches)} files in the "
                      f"sysroot ({', '.join(matches)}){host_note}; name one",
                      hint="or pass --kernel PATH")


def _running_kernel(sysroot: Path, matches: list[str]) -> str | None:
    """On the host itself (sysroot /), the kernel it runs, as the seed's Makefile takes
    `uname -r`: after an update /boot holds several, and the running one is the one whose
    modules are known to load. Debian and Fedora both name it vmlinuz-RELEASE."""
    if not _is_host_root(sysroot):
        return None
    release = os.uname().release
    running = [m for m in matches if m.rsplit("/", 1)[-1] == f"vmlinuz-{release}"]
    return running[0] if len(running) == 1 else None


def _is_host_root(sysroot: Path) -> bool:
    try:
        here, root = os.stat(sysroot), os.stat("/")
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (root.st_dev, root.st_ino)


def build_context(variables: Mapping[str, object], *, release: str | None = None,
                  arch: str | None = None, modules: list[str] | None = None
                  ) -> dict[str, object]:
    """What templates see: the recipe's variables, plus facts the build found out."""
    facts = {"release": release or "", "arch": arch or "", "modules": modules or []}
    return {**variables, "composer": facts}


def _module_names(recipe: Recipe, variables: Mapping[str, object]) -> tuple[list[str],
                                                                            list[str]]:
    names: list[str] = []
    patterns: list[str] = []
    for module in recipe.modules:
        if module.pattern is not None:
            patterns.append(expand(module.pattern, variables, f"{module.at} pattern"))
        elif module.name is not None:
            names += _words(module.name, variables, module.at)
    return names, patterns


def select_modules(recipe: Recipe, sysroot: Path, release: str | None,
                   variables: Mapping[str, object]) -> ModuleSelection | None:
    names, patterns = _module_names(recipe, variables)
    if not names and not patterns:
        return None
    index = ModuleIndex.load(sysroot, release)
    return index.select(names=names, patterns=patterns)


def plan(recipe: Recipe, *, sysroot: Path, kernel_override: Path | None = None) -> Plan:
    variables: dict[str, object] = dict(recipe.variables)
    kernel = find_kernel(recipe, sysroot, kernel_override, variables)
    release = (expand(recipe.kernel.release, variables, "kernel.release")
               if recipe.kernel.release else kernel.release if kernel else None)
    arch = recipe.arch or ("s390x" if kernel is not None else None)
    selection = select_modules(recipe, sysroot, release, variables)
    manifest = Manifest()
    manifest.add(DEV_CONSOLE)
    warnings: list[str] = [kernel.note] if kernel is not None and kernel.note else []
    if selection is not None:
        release = selection.index.release
        for entry in selection.entries(with_firmware=recipe.kernel.firmware):
            manifest.add(entry)
        warnings += _module_warnings(selection, recipe.kernel.firmware)
    context = build_context(variables, release=release, arch=arch,
                            modules=selection.load_order() if selection else [])
    included: list[Path] = []
    for entry in simple_entries(recipe, context, included):
        if entry.path == DEV_CONSOLE.path:
            manifest.replace(entry)
        else:
            manifest.add(entry)
    result = Plan(manifest, kernel, release, arch, context, warnings, included)
    if recipe.binaries:
        add_binaries(result, recipe, sysroot)
    check_architecture(manifest, result.arch)
    return result


def _module_warnings(selection: ModuleSelection, firmware: bool) -> list[str]:
    out = []
    if selection.softdeps_missing:
        names = ", ".join(sorted(u.name for u in selection.softdeps_missing))
        out.append(f"optional soft dependencies not found: {names}")
    if firmware and selection.firmware_missing:
        missing = selection.firmware_missing
        sample = ", ".join(u.name for u in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        out.append(f"{len(missing)} firmware file(s) that modules ask for are not in the "
                   f"sysroot ({sample}{more}); set kernel.firmware: false to stop looking")
    return out


def add_binaries(result: Plan, recipe: Recipe, sysroot: Path) -> None:
    requests = []
    for binary in recipe.binaries:
        applets = binary.applets
        dest = _path(binary.path, result.variables, binary.at) if binary.path else None
        for name in _words(binary.name, result.variables, binary.at):
            requests.append(BinaryRequest(name, dest=dest, applets=applets))
    target = Arch.from_name(result.arch) if result.arch else None
    entries = resolve_binaries(Sysroot(sysroot), requests, target=target)
    if result.arch is None:
        found = next((arch for e in entries if e.kind is Kind.FILE
                      and (arch := identify(_head(e.source))) is not None), None)
        result.arch = found.name if found else None
    for entry in entries:
        result.manifest.add(entry)


def check_architecture(manifest: Manifest, arch: str | None) -> None:
    """Every ELF in the image must run on the target: a wrong busybox is a build error."""
    if arch is None:
        return
    target = Arch.from_name(arch)
    for entry in manifest.declared():
        if entry.kind is not Kind.FILE:
            continue
        head = entry.data[:20] if entry.data is not None else _head(entry.source)
        found = identify(head)
        if found is not None and found != target:
            where = entry.origin or (str(entry.source) if entry.source else "")
            raise ResolveError(
                f"{entry.path} is an ELF file for {found.name}, but the image is for "
                f"{target.name}{_where(where)}",
                hint="take it from a sysroot of the target architecture")


def _head(source: Path | None) -> bytes:
    if source is None:
        return b""
    try:
        with open(source, "rb") as f:
            return f.read(20)
    except OSError as error:
        raise InputError(f"cannot read {source}: {error.strerror}") from None
