"""The plan stage: a recipe becomes everything the build will write, decided up front.

The recipe resolved once (composer/build/resolved.py: strings expanded, kernel, release
and architecture decided), its lists turned into entries by one planner per kind
(composer/build/planners.py), conflicts caught, the command line encoded for the kernel,
the codec checked against the kernel's config: all of it here, once, into a frozen `Plan`.
The write stages only stream bytes, so the same plan always gives the same image, and a
refusal never leaves a half-written output behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from composer.archive.codec import Compression, kernel_supports
from composer.build.planners import binary_entries, module_entries, recipe_entries
from composer.build.resolved import ResolvedRecipe, resolve_recipe
from composer.errors import InputError, KernelError, ResolveError, located
from composer.image.kernel import Kernel
from composer.image.s390 import encode_cmdline
from composer.manifest import Entry, Kind, Manifest
from composer.resolve.elf import Arch, identify
from composer.resolve.ldcache import PATH as LD_SO_CACHE
from composer.resolve.modules import ModuleSelection

if TYPE_CHECKING:
    from composer.recipe import LoadedRecipe

DEV_CONSOLE = Entry("/dev/console", Kind.CHAR, major=5, minor=1,
                    origin="default (the first process needs a console)")

# What an image over the firmware's network-boot limit does: known now, measured later.
NetbootLimit = Literal["error", "warn", "ignore"]


@dataclass(frozen=True)
class Plan:
    """Everything decided before any byte is written; the write stages only carry it out."""

    name: str  # the recipe's
    entries: tuple[Entry, ...]  # in archive order, every parent directory implied
    kernel: Kernel | None
    cmdline: bytes | None  # encoded for the kernel's area; None keeps its built-in line
    release: str | None  # the kernel's `uname -r`: modules and the codec check use it
    arch: str | None
    compression: Compression  # checked, and known to be unpackable by the kernel
    precompressed_segment: bool
    netboot_limit: NetbootLimit
    epoch: int  # every entry's mtime (SOURCE_DATE_EPOCH)
    inputs: tuple[Path, ...]  # every file the build reads, so no output can be one of them
    warnings: tuple[str, ...] = ()


def plan(loaded: LoadedRecipe, *, sysroot: Path, kernel_override: Path | None = None,
         cmdline_override: str | None = None, netboot_limit: NetbootLimit | None = None,
         epoch: int = 0) -> Plan:
    """The plan of a loaded recipe; the overrides are the command line's (--kernel,
    --cmdline, --netboot-limit), None where the recipe decides."""
    resolved = resolve_recipe(loaded, sysroot=sysroot, kernel_override=kernel_override,
                              cmdline_override=cmdline_override)
    return plan_resolved(resolved, netboot_limit=netboot_limit, epoch=epoch)


def plan_resolved(resolved: ResolvedRecipe, *, netboot_limit: NetbootLimit | None = None,
                  epoch: int = 0) -> Plan:
    """The plan of a resolved recipe: its planners' entries concatenated and checked."""
    sysroot = resolved.sysroot
    assert sysroot is not None, "a plan resolves binaries and modules in a sysroot"
    recipe = resolved.loaded.recipe
    included: list[Path] = []
    entries = recipe_entries(resolved, included)
    binaries = binary_entries(resolved.binaries, sysroot, resolved.arch)
    arch = resolved.arch or arch_of(binaries)  # a recipe for whatever its binaries are
    modules = module_entries(resolved.selection, recipe.kernel.firmware)
    manifest = assemble(modules, entries, binaries)
    check_architecture(manifest.declared(), arch)
    compression = recipe.compression.compression()
    check_codec(compression, resolved.release, sysroot)
    archived = tuple(manifest.entries())
    return Plan(
        name=recipe.name,
        entries=archived,
        kernel=resolved.kernel,
        cmdline=command_line(resolved),
        release=resolved.release,
        arch=arch,
        compression=compression,
        precompressed_segment=recipe.compression.precompressed_segment,
        netboot_limit=netboot_limit or recipe.output.netboot_limit,
        epoch=epoch,
        inputs=build_inputs(resolved, included, archived),
        warnings=_warnings(resolved.kernel, resolved.selection, recipe.kernel.firmware),
    )


def assemble(modules: Iterable[Entry], recipe_entries: Iterable[Entry],
             binaries: Iterable[Entry]) -> Manifest:
    """The image's entries, conflicts caught: a recipe's own /dev/console replaces the
    default one, any other path wanted twice with different content is an error."""
    manifest = Manifest([DEV_CONSOLE, *modules])
    for entry in recipe_entries:
        if entry.path == DEV_CONSOLE.path:
            manifest.replace(entry)
        else:
            manifest.add(entry)
    for entry in binaries:
        # A recipe's own /etc/ld.so.cache wins over the one made for its binaries.
        if entry.path != LD_SO_CACHE or entry.path not in manifest:
            manifest.add(entry)
    return manifest


def command_line(resolved: ResolvedRecipe) -> bytes | None:
    """The command line as the kernel will read it, encoded once; None keeps the kernel's
    built-in one (no line, or one that expands to nothing, say an unset variable).
    Without a kernel there is no image to carry it."""
    kernel, text, at = resolved.kernel, resolved.cmdline, resolved.cmdline_at
    if not text or kernel is None:
        return None
    try:
        return encode_cmdline(text, kernel.header.max_cmdline)
    except KernelError as error:
        raise KernelError(f"{at}: kernel.cmdline: {error.message}" if at else error.message,
                          hint=error.hint) from None


def check_codec(compression: Compression, release: str | None, sysroot: Path) -> None:
    """The codec's own options, then whether the kernel can unpack it: its config in the
    sysroot (/boot/config-RELEASE), where there is one, must enable the decoder."""
    compression.check()
    if release is None:
        return
    config = sysroot / "boot" / f"config-{release}"
    if not config.is_file():
        return
    if kernel_supports(config.read_text(errors="replace"), compression.codec) is False:
        raise InputError(f"kernel {release} cannot unpack a {compression.codec} initramfs "
                         f"({config} does not enable it)", hint="pick another compression")


def build_inputs(resolved: ResolvedRecipe, included: Sequence[Path],
                 entries: Iterable[Entry]) -> tuple[Path, ...]:
    """Every file the build reads: the recipe and its layers and vars files, templates
    and what they include, each entry's source, the kernel."""
    kernel = resolved.kernel
    return (*resolved.loaded.files, *(t.source for t in resolved.templates), *included,
            *(e.source for e in entries if e.source is not None),
            *((kernel.path,) if kernel is not None else ()))


def _warnings(kernel: Kernel | None, selection: ModuleSelection | None,
              firmware: bool) -> tuple[str, ...]:
    """What the user should know about the choices made: how the kernel was picked, what
    the modules asked for and the sysroot lacks."""
    out = [kernel.note] if kernel is not None and kernel.note else []
    if selection is None:
        return tuple(out)
    if selection.softdeps_missing:
        names = ", ".join(sorted(u.name for u in selection.softdeps_missing))
        out.append(f"optional soft dependencies not found: {names}")
    if firmware and selection.firmware_missing:
        missing = selection.firmware_missing
        sample = ", ".join(u.name for u in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        out.append(f"{len(missing)} firmware file(s) that modules ask for are not in the "
                   f"sysroot ({sample}{more}); set kernel.firmware: false to stop looking")
    return tuple(out)


def arch_of(entries: Iterable[Entry]) -> str | None:
    """The architecture of the first ELF file among `entries`: a recipe with neither a
    kernel nor `arch` is for whatever its binaries were built for."""
    found = next((arch for e in entries if e.kind is Kind.FILE
                  and (arch := identify(_head(e))) is not None), None)
    return found.name if found else None


def check_architecture(entries: Iterable[Entry], arch: str | None) -> None:
    """Every ELF in the image must run on the target: a wrong busybox is a build error."""
    if arch is None:
        return
    target = Arch.from_name(arch)
    for entry in entries:
        if entry.kind is not Kind.FILE:
            continue
        found = identify(_head(entry))
        if found is not None and found != target:
            error = ResolveError(
                f"{entry.path} is an ELF file for {found.name}, but the image is for "
                f"{target.name}", hint="take it from a sysroot of the target architecture")
            raise located(error, entry.origin, "source")


def _head(entry: Entry) -> bytes:
    """The first bytes of a file entry: enough for its ELF identification."""
    if entry.data is not None:
        return entry.data[:20]
    if entry.source is None:
        return b""
    try:
        with open(entry.source, "rb") as f:
            return f.read(20)
    except OSError as error:
        raise InputError(f"cannot read {entry.source}: {error.strerror}") from None
