"""The plan stage: a recipe becomes a manifest of entries and a chosen kernel.

Everything the image will hold is decided here — templates rendered, `{{ var }}`
strings expanded, binaries and modules resolved from the sysroot — so that the archive
stage only streams bytes and the same plan always gives the same archive.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from composer.errors import InputError, KernelError, ResolveError
from composer.image.s390 import BootHeader, parse_header, release_of
from composer.manifest import Entry, Kind, Manifest, image_path
from composer.recipe.model import Recipe
from composer.render import expand, render_file

DEV_CONSOLE = Entry("/dev/console", Kind.CHAR, 0o600, major=5, minor=1,
                    origin="default (the first process needs a console)")


@dataclass(frozen=True)
class Kernel:
    path: Path
    header: BootHeader

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


def _where(at: str) -> str:
    return f" ({at})" if at else ""


def _path(raw: str, variables: Mapping[str, object], at: str) -> str:
    text = expand(raw, variables, f"{at or 'recipe'} path")
    try:
        return image_path(text)
    except InputError as error:
        raise InputError(f"{error.message}{_where(at)}", hint=error.hint) from None


def _words(raw: str, variables: Mapping[str, object], at: str) -> list[str]:
    """A list item may expand to several names: `{{ extra_modules }}` -> "a b c"."""
    return expand(raw, variables, at or "recipe").replace(",", " ").split()


def _source(raw: str, at: str) -> Path:
    source = Path(raw)
    if not source.is_file():
        state = "is not a regular file" if source.exists() else "not found"
        raise InputError(f"source file {source} {state}{_where(at)}")
    return source


def simple_entries(recipe: Recipe, variables: Mapping[str, object]) -> list[Entry]:
    """Entries that need no sysroot: directories, files, symlinks, devices, templates."""
    out: list[Entry] = []
    for d in recipe.directories:
        out.append(Entry(_path(d.path, variables, d.at), Kind.DIR,
                         0o755 if d.mode is None else d.mode, d.uid, d.gid, origin=d.at))
    for f in recipe.files:
        path = _path(f.path, variables, f.at)
        mode = 0o644 if f.mode is None else f.mode
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
        out.append(Entry(_path(s.path, variables, s.at), Kind.SYMLINK, 0o777,
                         target=target, origin=s.at))
    for dev in recipe.devices:
        kind = {"char": Kind.CHAR, "block": Kind.BLOCK, "fifo": Kind.FIFO}[dev.type]
        mode = (0o644 if kind is Kind.FIFO else 0o600) if dev.mode is None else dev.mode
        out.append(Entry(_path(dev.path, variables, dev.at), kind, mode, dev.uid, dev.gid,
                         major=dev.major, minor=dev.minor, origin=dev.at))
    for t in recipe.templates:
        path = _path(t.path, variables, t.at)
        source = Path(t.source)
        if not source.is_file():
            raise InputError(f"template {source} not found{_where(t.at)}")
        text = render_file(source, variables)
        out.append(Entry(path, Kind.FILE, 0o644 if t.mode is None else t.mode, t.uid, t.gid,
                         data=text.encode(), origin=t.at or str(source)))
    return out


def find_kernel(recipe: Recipe, sysroot: Path, override: Path | None,
                variables: Mapping[str, object]) -> Kernel | None:
    """The kernel from --kernel (a host path) or the recipe's image (in the sysroot)."""
    if override is not None:
        host = override
    elif recipe.kernel.image:
        pattern = expand(recipe.kernel.image, variables, "kernel.image")
        host = _sysroot_match(sysroot, pattern)
    else:
        return None
    try:
        with open(host, "rb") as f:
            head = f.read(0x10480 + 0x10000)
    except FileNotFoundError:
        raise KernelError(f"kernel {host} not found") from None
    except IsADirectoryError:
        raise KernelError(f"kernel {host} is a directory") from None
    except OSError as error:
        raise KernelError(f"cannot read kernel {host}: {error.strerror}") from None
    header = parse_header(head, str(host))
    return Kernel(host, header)


def _sysroot_match(sysroot: Path, pattern: str) -> Path:
    if not pattern.startswith("/"):
        raise KernelError(f"kernel.image {pattern!r} must be an absolute path in the sysroot")
    matches = sorted(glob.glob(str(sysroot) + pattern))
    if not matches:
        raise KernelError(f"no kernel matches {pattern} in sysroot {sysroot}",
                          hint="check --sysroot, or pass --kernel PATH")
    if len(matches) > 1:
        names = ", ".join(os.path.relpath(m, sysroot) for m in matches)
        raise KernelError(f"kernel.image {pattern} matches {len(matches)} files in the "
                          f"sysroot ({names}); name one", hint="or pass --kernel PATH")
    real = Path(matches[0]).resolve()
    if not real.is_relative_to(sysroot.resolve()):
        raise KernelError(f"kernel {matches[0]} is a symlink that leads out of the sysroot")
    return real


def module_release(recipe: Recipe, kernel: Kernel | None, sysroot: Path,
                   variables: Mapping[str, object]) -> str | None:
    if recipe.kernel.release:
        return expand(recipe.kernel.release, variables, "kernel.release")
    if kernel is not None and kernel.release:
        return kernel.release
    base = sysroot / "lib/modules"
    found = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not recipe.modules:
        return None
    if not found:
        raise ResolveError(f"the recipe asks for modules, but {base} has no kernel releases")
    raise ResolveError(f"{base} has several releases ({', '.join(found)}); set kernel.release")


def plan(recipe: Recipe, *, sysroot: Path, kernel_override: Path | None = None) -> Plan:
    variables: dict[str, object] = dict(recipe.variables)
    kernel = find_kernel(recipe, sysroot, kernel_override, variables)
    release = module_release(recipe, kernel, sysroot, variables)
    arch = recipe.arch or ("s390x" if kernel is not None else None)
    manifest = Manifest()
    manifest.add(DEV_CONSOLE)
    for entry in simple_entries(recipe, variables):
        if entry.path == DEV_CONSOLE.path:
            manifest.replace(entry)
        else:
            manifest.add(entry)
    result = Plan(manifest, kernel, release, arch, variables)
    if recipe.binaries:
        from composer.plan_resolve import add_binaries

        add_binaries(result, recipe, sysroot)
    if recipe.modules:
        from composer.plan_resolve import add_modules

        add_modules(result, recipe, sysroot)
    return result
