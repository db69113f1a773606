"""The plan stage: a recipe becomes everything the build will write, decided up front.

Templates rendered, `{{ var }}` strings expanded, binaries and modules resolved from the
sysroot, the command line encoded for the kernel, the codec checked against the kernel's
config: all of it here, once, into a frozen `Plan`. The write stages only stream bytes,
so the same plan always gives the same image, and a refusal never leaves a half-written
output behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from composer.archive.codec import Compression, kernel_supports
from composer.build.trust import trust_entries
from composer.cpio import PATH_MAX
from composer.errors import InputError, KernelError, ResolveError, at_entry, located
from composer.image.kernel import Kernel, kernel_at, kernel_in
from composer.image.s390 import encode_cmdline
from composer.inputfile import UnreadableFile, check_regular
from composer.manifest import Entry, Kind, Manifest, image_path, mode_or_default
from composer.recipe.model import Recipe
from composer.render.templates import expand, render_file
from composer.resolve.binaries import BinaryRequest, resolve_binaries
from composer.resolve.elf import Arch, identify
from composer.resolve.modules import ModuleIndex, ModuleSelection
from composer.resolve.sysroot import Sysroot

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
            raise located(InputError(f"file {path} needs exactly one of 'source' or "
                                     "'content'"), f.at, "content" if f.content else "source")
        if f.source is not None:
            out.append(Entry(path, Kind.FILE, mode, f.uid, f.gid,
                             source=_source(f.source, f.at), origin=f.at))
        else:
            with at_entry(f.at, "content"):
                content = expand(f.content or "", variables, "content")
            out.append(Entry(path, Kind.FILE, mode, f.uid, f.gid, data=content.encode(),
                             origin=f.at))
    for s in recipe.symlinks:
        with at_entry(s.at, "target"):
            target = expand(s.target, variables, "target")
        size = len(target.encode(errors="surrogateescape"))
        if not 1 <= size <= PATH_MAX:  # the kernel skips a link whose target is longer
            state = "empty" if not size else f"{size:,} bytes, over PATH_MAX ({PATH_MAX})"
            raise located(InputError(f"symlink {s.path}: target is {state}"), s.at, "target")
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
        with at_entry(t.at, "source"):
            try:
                check_regular(source)
            except UnreadableFile as error:
                raise InputError(f"template {source} {error.message}") from None
            text = render_file(source, variables, included=included)
        out.append(Entry(path, Kind.FILE, mode_or_default(Kind.FILE, t.mode), t.uid, t.gid,
                         data=text.encode(), origin=t.at or str(source)))
    return out


def find_kernel(recipe: Recipe, sysroot: Path, override: Path | None,
                variables: Mapping[str, object]) -> Kernel | None:
    """The kernel from --kernel (a host path) or the recipe's image (in the sysroot)."""
    if override is not None:
        return kernel_at(override)
    if recipe.kernel.image:
        return kernel_in(sysroot, expand(recipe.kernel.image, variables, "kernel.image"))
    return None


def build_context(variables: Mapping[str, object], *, release: str | None = None,
                  arch: str | None = None, modules: list[str] | None = None,
                  kexec_file: str = "") -> dict[str, object]:
    """What templates see: the recipe's variables, plus facts the build found out."""
    facts = {"release": release or "", "arch": arch or "", "modules": modules or [],
             "kexec_file": kexec_file}
    return {**variables, "composer": facts}


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


def _module_names(recipe: Recipe, variables: Mapping[str, object]) -> tuple[list[str],
                                                                            list[str]]:
    names: list[str] = []
    patterns: list[str] = []
    for module in recipe.modules:
        if module.pattern is not None:
            with at_entry(module.at, "pattern"):
                patterns.append(expand(module.pattern, variables, "pattern"))
        elif module.name is not None:
            names += item_words(module.name, variables, module.at)
    return names, patterns


def select_modules(recipe: Recipe, sysroot: Path, release: str | None,
                   variables: Mapping[str, object]) -> ModuleSelection | None:
    names, patterns = _module_names(recipe, variables)
    if not names and not patterns:
        return None
    index = ModuleIndex.load(sysroot, release)
    try:
        return index.select(names=names, patterns=patterns)
    except ResolveError as error:  # led by the entry that asked for what is missing
        raise located(error, *_module_entry(recipe, variables, error.message)) from None


def _module_entry(recipe: Recipe, variables: Mapping[str, object],
                  message: str) -> tuple[str, str]:
    """(location, key) of the module entry a selection error names."""
    for module in recipe.modules:
        if module.pattern is not None and f"'{module.pattern}'" in message:
            return module.at, "pattern"
        if module.name is not None and any(f"'{name}'" in message for name in
                                           item_words(module.name, variables, module.at)):
            return module.at, "name"
    return "", ""


def plan(loaded: LoadedRecipe, *, sysroot: Path, kernel_override: Path | None = None,
         cmdline_override: str | None = None, netboot_limit: NetbootLimit | None = None,
         epoch: int = 0) -> Plan:
    """The plan of a loaded recipe; the overrides are the command line's (--kernel,
    --cmdline, --netboot-limit), None where the recipe decides."""
    recipe = loaded.recipe
    variables: dict[str, object] = dict(recipe.variables)
    with at_entry("" if kernel_override else loaded.origins.get("kernel.image", ""),
                  "kernel.image"):
        kernel = find_kernel(recipe, sysroot, kernel_override, variables)
    wanted = (expand(recipe.kernel.release, variables, "kernel.release")
              if recipe.kernel.release else kernel.release if kernel else None)
    selection = select_modules(recipe, sysroot, wanted, variables)
    release = selection.index.release if selection is not None else wanted
    declared_arch = recipe.arch or ("s390x" if kernel is not None else None)
    context = build_context(variables, release=release, arch=declared_arch,
                            modules=selection.load_order() if selection else [],
                            kexec_file=kexec_file_fact(sysroot, release) if kernel else "")
    included: list[Path] = []
    recipe_entries = simple_entries(recipe, context, included)
    recipe_entries += trust_entries(variables, sysroot=sysroot, top=loaded.path,
                                    origins=loaded.origins, confinement=loaded.confinement)
    binaries = binary_entries(recipe, sysroot, context, declared_arch)
    arch = declared_arch or arch_of(binaries)
    modules = selection.entries(with_firmware=recipe.kernel.firmware) if selection else []
    manifest = assemble(modules, recipe_entries, binaries)
    check_architecture(manifest.declared(), arch)
    compression = recipe.compression.compression()
    check_codec(compression, release, sysroot)
    entries = tuple(manifest.entries())
    return Plan(
        name=recipe.name,
        entries=entries,
        kernel=kernel,
        cmdline=command_line(loaded, cmdline_override, kernel, context),
        release=release,
        arch=arch,
        compression=compression,
        precompressed_segment=recipe.compression.precompressed_segment,
        netboot_limit=netboot_limit or recipe.output.netboot_limit,
        epoch=epoch,
        inputs=build_inputs(loaded, included, entries, kernel),
        warnings=_warnings(kernel, selection, recipe.kernel.firmware),
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
        manifest.add(entry)
    return manifest


def command_line(loaded: LoadedRecipe, override: str | None, kernel: Kernel | None,
                 variables: Mapping[str, object]) -> bytes | None:
    """The command line as the kernel will read it, expanded and encoded once; None keeps
    the kernel's built-in one (no line, or one that expands to nothing, say an unset
    variable). Without a kernel there is no image to carry it."""
    raw = override if override is not None else loaded.recipe.kernel.cmdline
    at = "--cmdline" if override is not None else loaded.origins.get("kernel.cmdline", "")
    if raw is None or kernel is None:
        return None
    with at_entry(at, "kernel.cmdline"):
        text = expand(raw, variables, "kernel.cmdline").strip()
    if not text:
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


def build_inputs(loaded: LoadedRecipe, included: Sequence[Path], entries: Iterable[Entry],
                 kernel: Kernel | None) -> tuple[Path, ...]:
    """Every file the build reads: the recipe and its layers and vars files, templates
    and what they include, each entry's source, the kernel."""
    return (*loaded.files, *(Path(t.source) for t in loaded.recipe.templates), *included,
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


def binary_entries(recipe: Recipe, sysroot: Path, variables: Mapping[str, object],
                   arch: str | None) -> list[Entry]:
    """The recipe's binaries and their libraries, for `arch` when it is known."""
    if not recipe.binaries:
        return []
    requests = []
    for binary in recipe.binaries:
        dest = _path(binary.path, variables, binary.at) if binary.path else None
        for name in item_words(binary.name, variables, binary.at):
            requests.append(BinaryRequest(name, dest=dest, applets=binary.applets,
                                          at=binary.at))
    target = Arch.from_name(arch) if arch else None
    return resolve_binaries(Sysroot(sysroot), requests, target=target)


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
