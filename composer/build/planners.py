"""The planners: one per list kind of a resolved recipe, each turning its list into entries.

Their input is composer/build/resolved.py's, every string already expanded and every
source checked, so a planner only builds entries: it applies the kind's default mode,
renders a template file, or resolves programs and modules in the sysroot. The plan
(composer/build/plan.py) concatenates what they give.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from composer.build.resolved import Binary, File, Node, ResolvedRecipe, Symlink, Template
from composer.build.trust import trust_entries
from composer.errors import at_entry
from composer.manifest import Entry, Kind, mode_or_default
from composer.render.templates import render_file
from composer.resolve.binaries import BinaryRequest, resolve_binaries
from composer.resolve.elf import Arch
from composer.resolve.sysroot import Sysroot

if TYPE_CHECKING:
    from composer.resolve.modules import ModuleSelection


def directory_entries(directories: Iterable[Node]) -> list[Entry]:
    return _node_entries(directories)


def device_entries(devices: Iterable[Node]) -> list[Entry]:
    """Device nodes: char and block with their numbers, fifos."""
    return _node_entries(devices)


def _node_entries(nodes: Iterable[Node]) -> list[Entry]:
    return [Entry(n.path, n.kind, mode_or_default(n.kind, n.mode), n.uid, n.gid,
                  major=n.major, minor=n.minor, origin=n.at) for n in nodes]


def file_entries(files: Iterable[File]) -> list[Entry]:
    """Files: a checked host source, or the expanded content."""
    return [Entry(f.path, Kind.FILE, mode_or_default(Kind.FILE, f.mode), f.uid, f.gid,
                  source=f.source, data=None if f.content is None else f.content.encode(),
                  origin=f.at)
            for f in files]


def symlink_entries(symlinks: Iterable[Symlink]) -> list[Entry]:
    return [Entry(s.path, Kind.SYMLINK, target=s.target, origin=s.at) for s in symlinks]


def template_entries(templates: Iterable[Template], variables: dict[str, object],
                     included: list[Path] | None = None) -> list[Entry]:
    """Template files rendered with the variable map; the files they read through
    `{% include %}` are added to `included`."""
    out = []
    for t in templates:
        with at_entry(t.at, "source"):
            text = render_file(t.source, variables, included=included)
        out.append(Entry(t.path, Kind.FILE, mode_or_default(Kind.FILE, t.mode), t.uid, t.gid,
                         data=text.encode(), origin=t.at or str(t.source)))
    return out


def recipe_entries(resolved: ResolvedRecipe, included: list[Path] | None = None
                   ) -> list[Entry]:
    """The entries that need no sysroot, in the recipe's order of lists: directories,
    files, symlinks, devices, templates, then the trust files (composer/build/trust.py;
    without a sysroot the CA bundle is the recipe's https_ca, if it names one)."""
    loaded = resolved.loaded
    return [*directory_entries(resolved.directories), *file_entries(resolved.files),
            *symlink_entries(resolved.symlinks), *device_entries(resolved.devices),
            *template_entries(resolved.templates, dict(resolved.variables), included),
            *trust_entries(resolved.variables, sysroot=resolved.sysroot, top=loaded.path,
                           origins=loaded.origins, confinement=loaded.confinement)]


def binary_entries(binaries: Iterable[Binary], sysroot: Path, arch: str | None
                   ) -> list[Entry]:
    """The recipe's programs and their libraries, for `arch` when it is known."""
    requests = [BinaryRequest(name, dest=b.dest, applets=b.applets, at=b.at)
                for b in binaries for name in b.names]
    if not requests:
        return []
    target = Arch.from_name(arch) if arch else None
    return resolve_binaries(Sysroot(sysroot), requests, target=target)


def module_entries(selection: ModuleSelection | None, firmware: bool) -> list[Entry]:
    """The selected modules, their dependencies, depmod's files and (with `firmware`)
    the firmware they ask for."""
    return selection.entries(with_firmware=firmware) if selection is not None else []
