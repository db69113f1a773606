"""The build, stage by stage: recipe -> plan -> archive -> image.

Each stage is a function of the previous stage's value; this module only strings them
together, times them, and owns the outputs (written atomically, never half-done).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from composer.archive import InitramfsStats, write_initramfs
from composer.archive.codec import Compression
from composer.build.check import NO_CHECK_WARNING, check_build
from composer.build.plan import NetbootLimit, Plan, plan
from composer.errors import BuildError, InputError
from composer.image.layout import Layout, layout_named
from composer.image.s390 import NETBOOT_LIMIT, open_kernel, patch_image, write_kernel
from composer.image.tree import ArchiveCopy, InsTree, write_ins_tree
from composer.kernelcopy import copy_range
from composer.output import AtomicOutput, describe_os_error
from composer.recipe import LoadedRecipe, load_recipe
from composer.recipe.confine import Confinement

StageTimer = Callable[[str], AbstractContextManager[object]]


@dataclass(frozen=True)
class BuildRequest:
    """What to build: a recipe, where its inputs come from, and the command line's overrides."""

    recipe: Path
    sysroot: Path = Path("/")
    image: Path | None = None
    initramfs: Path | None = None
    kernel: Path | None = None
    overrides: tuple[tuple[str, str], ...] = ()
    vars_files: tuple[Path, ...] = ()
    allow_paths: tuple[Path, ...] = ()  # --allow-path: host directories the recipe may read
    netboot_limit: NetbootLimit | None = None  # overrides the recipe's output.netboot_limit
    cmdline: str | None = None  # overrides the recipe's kernel.cmdline
    check: bool = True  # the self-check (composer.build.check); False: --no-check
    layout: str | None = None  # overrides the recipe's output.layout
    ins: Path | None = None  # overrides the recipe's output.ins
    sbom: Path | None = None  # also write the SBOM here
    sbom_format: str = "spdx"  # spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.5 JSON)


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote, for the report and for --json."""

    recipe: str
    image: Path | None
    initramfs: Path | None
    kernel_version: str | None
    release: str | None
    arch: str | None
    entries: int
    initramfs_size: int
    image_size: int | None
    compression: Compression
    warnings: tuple[str, ...] = ()
    layout: str = "s390-tools"
    ins: Path | None = None


@dataclass(frozen=True)
class Written:
    """What the write stages measured."""

    entries: int
    initramfs_size: int  # alone, or as appended to the kernel
    image_size: int | None
    archive: ArchiveCopy | None = None  # the initramfs as written, for the .INS tree


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH, the reproducible-builds convention; 0 when unset."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise InputError(
            f"SOURCE_DATE_EPOCH={raw!r} is not an integer number of seconds") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise InputError(f"SOURCE_DATE_EPOCH={value} does not fit the cpio header (32 bits)")
    return value


def _outputs(request: BuildRequest, loaded: LoadedRecipe) -> tuple[Path | None, Path | None]:
    out = loaded.recipe.output
    image = request.image or (Path(out.image) if out.image else None)
    initramfs = request.initramfs or (Path(out.initramfs) if out.initramfs else None)
    if image is None and initramfs is None and _ins_dir(request, loaded) is None:
        image = Path(f"{loaded.recipe.name}.img")
    return image, initramfs


def _ins_dir(request: BuildRequest, loaded: LoadedRecipe) -> Path | None:
    out = loaded.recipe.output
    return request.ins or (Path(out.ins) if out.ins else None)


def _layout(request: BuildRequest, loaded: LoadedRecipe) -> Layout:
    return layout_named(request.layout or loaded.recipe.output.layout)


def check_outputs(the_plan: Plan, image: Path | None, initramfs: Path | None,
                  recipe: Path) -> None:
    """Outputs the plan cannot fill, or whose writing would destroy one of its inputs."""
    if image is not None and the_plan.kernel is None:
        raise InputError(f"{recipe}:1:1: kernel: the recipe names no kernel, so no boot "
                         "image can be made",
                         hint="set kernel.image, pass --kernel PATH, or write only the "
                              "initramfs with --initramfs PATH")
    _check_not_inputs((image, initramfs), the_plan.inputs)


def _check_not_inputs(outputs: Sequence[Path | None], inputs: Iterable[Path]) -> None:
    """An output that is also an input would be destroyed by the build that reads it.

    Files are compared by identity (device, inode), which also catches hard links; an
    output that doesn't exist yet can't be an input (they all exist), which spares an
    all-modules build thousands of stat calls.
    """
    named = [o.resolve() for o in outputs if o is not None]
    if len(set(named)) < len(named):
        raise InputError(f"the image and the initramfs would both be written to {named[0]}",
                         hint="give --initramfs a path of its own")
    existing: dict[tuple[int, int], Path] = {}
    for output in outputs:
        if output is not None and (st := _stat(output)) is not None:
            existing[(st.st_dev, st.st_ino)] = output
    if not existing:
        return
    for source in inputs:
        st = _stat(source)
        output = existing.get((st.st_dev, st.st_ino)) if st is not None else None
        if output is not None:
            raise InputError(f"output {output} is also an input of this build; "
                             "writing it would destroy what is being read",
                             hint="choose another output path with -o")


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _write_initramfs(the_plan: Plan, out: BinaryIO) -> InitramfsStats:
    return write_initramfs(the_plan.entries, the_plan.compression, out,
                           epoch=the_plan.epoch,
                           precompressed_segment=the_plan.precompressed_segment)


def _copy_into(out: BinaryIO, source: BinaryIO) -> None:
    """Append all of `source` (an output still being written) to `out`, in the kernel
    when it can (copy_file_range), by reads and writes when the two are on different
    filesystems."""
    total = os.fstat(source.fileno()).st_size
    done = 0
    while done < total:
        n = copy_range(source.fileno(), out.fileno(), total - done, done)
        if not n:
            break
        done += n
    while done < total:
        chunk = os.pread(source.fileno(), min(1 << 20, total - done), done)
        if not chunk:
            break
        out.write(chunk)
        done += len(chunk)


@contextmanager
def _scratch() -> Iterator[BinaryIO]:
    """An unnamed temporary file for an initramfs that only the .INS tree keeps."""
    import tempfile

    with tempfile.TemporaryFile(buffering=0) as f:
        yield f


@contextmanager
def _writing(path: Path) -> Iterator[BinaryIO]:
    with AtomicOutput(path) as out:
        try:
            yield out
        except OSError as error:
            raise describe_os_error(error, path) from None


def build(request: BuildRequest, stage: StageTimer | None = None) -> BuildResult:
    """load -> plan -> check the outputs -> write them; nothing is decided while writing."""
    timed: StageTimer = stage or (lambda name: nullcontext())
    with timed("recipe"):
        loaded = load_recipe(request.recipe, overrides=request.overrides,
                             vars_files=request.vars_files,
                             confinement=Confinement.of(request.allow_paths, request.sysroot))
    with timed("plan"):
        the_plan = _plan(request, loaded)
    image, initramfs = _outputs(request, loaded)
    layout = _layout(request, loaded)
    ins = _ins_dir(request, loaded)
    tree = InsTree(ins, the_plan.name, layout) if ins is not None else None
    check_outputs(the_plan, image, initramfs, request.recipe)
    if request.check:
        with timed("check"):
            check_build(the_plan.entries, effective_cmdline(the_plan), loaded.replaced,
                        loaded.data, str(request.recipe),
                        boot_image=image is not None or tree is not None)
    if tree is not None:
        check_outputs(the_plan, tree.any_file(), None, request.recipe)
        _check_not_inputs(tree.paths(), the_plan.inputs)
    with ExitStack() as outputs:  # every output is committed only if all of them are whole
        written = _write(the_plan, outputs, image, initramfs, timed, layout)
        if tree is not None:
            write_ins_tree(tree, the_plan.kernel, the_plan.cmdline, the_plan.release, outputs,
                           written.archive)
        warnings = netboot_warnings(written.image_size, the_plan.netboot_limit)
        if request.sbom is not None:
            warnings += _write_sbom(request, the_plan, outputs,
                                    with_kernel=image is not None or tree is not None)
    kernel = the_plan.kernel
    return BuildResult(
        recipe=the_plan.name,
        image=image,
        initramfs=initramfs,
        kernel_version=kernel.header.kernel_version if kernel is not None else None,
        release=the_plan.release,
        arch=the_plan.arch,
        entries=written.entries,
        initramfs_size=written.initramfs_size,
        image_size=written.image_size,
        compression=the_plan.compression,
        warnings=(*the_plan.warnings, *warnings,
                  *(() if request.check else (NO_CHECK_WARNING,))),
        layout=layout.name,
        ins=ins,
    )


def effective_cmdline(the_plan: Plan) -> bytes | None:
    """The command line the kernel will boot with: the plan's, else its built-in one."""
    if the_plan.cmdline is not None or the_plan.kernel is None:
        return the_plan.cmdline
    return the_plan.kernel.header.cmdline.encode(errors="surrogateescape")


def _plan(request: BuildRequest, loaded: LoadedRecipe) -> Plan:
    try:
        return plan(loaded, sysroot=request.sysroot, kernel_override=request.kernel,
                    cmdline_override=request.cmdline, netboot_limit=request.netboot_limit,
                    epoch=source_date_epoch())
    except PermissionError as error:  # wherever the plan reads: sysroot, sources
        raise InputError(f"cannot read {error.filename}: {error.strerror}",
                         hint="compose needs read permission on every input, the "
                              "sysroot's binaries and modules included") from None


def _write(the_plan: Plan, outputs: ExitStack, image: Path | None, initramfs: Path | None,
           timed: StageTimer, layout: Layout) -> Written:
    """Write the initramfs, the image, or both (the image then copies the initramfs
    rather than archiving twice); each output joins `outputs`, to be committed with
    the others. Without either (an .INS tree alone), the initramfs goes to a scratch
    file that the tree copies."""
    archive: BinaryIO | None = None
    entries = 0
    if initramfs is not None or image is None:
        archive = outputs.enter_context(_writing(initramfs) if initramfs is not None
                                        else _scratch())
        with timed("archive"):
            stats = _write_initramfs(the_plan, archive)
        if image is None:
            return Written(entries=stats.entries, initramfs_size=stats.size, image_size=None,
                           archive=ArchiveCopy(archive, 0, stats.size))
        entries = stats.entries
    kernel = the_plan.kernel
    assert image is not None and kernel is not None, "check_outputs: an image has a kernel"
    out = outputs.enter_context(_writing(image))
    with timed("kernel"), open_kernel(kernel.path) as k:
        offset = write_kernel(out, k, layout)
    with timed("archive"):
        if archive is not None:
            _copy_into(out, archive)
        else:
            entries = _write_initramfs(the_plan, out).entries
    size = out.tell() - offset
    with timed("image"):
        patch_image(out, kernel.header, offset=offset, size=size, cmdline=the_plan.cmdline,
                    layout=layout)
    return Written(entries=entries, initramfs_size=size, image_size=out.tell(),
                   archive=ArchiveCopy(out, offset, size))


def _write_sbom(request: BuildRequest, the_plan: Plan, outputs: ExitStack, *,
                with_kernel: bool) -> tuple[str, ...]:
    from composer.report.bom import write_sbom  # hashing every file: only paid for with --sbom

    assert request.sbom is not None
    kernel = the_plan.kernel.path if with_kernel and the_plan.kernel is not None else None
    data, warning = write_sbom(str(request.sbom), the_plan.entries, kernel, request.sysroot,
                               the_plan.name, request.recipe.name, the_plan.epoch,
                               request.sbom_format)
    out = outputs.enter_context(_writing(request.sbom))
    try:
        out.write(data)
    except OSError as error:
        raise describe_os_error(error, request.sbom) from None
    return (warning,) if warning else ()


def netboot_warnings(image_size: int | None, limit: NetbootLimit) -> tuple[str, ...]:
    """The netboot-size policy, applied to the written image before it is committed."""
    size = image_size or 0
    if size <= NETBOOT_LIMIT or limit == "ignore":
        return ()
    message = (f"the image is {size:,} bytes, over the s390 firmware's network-boot limit of "
               f"{NETBOOT_LIMIT:,} bytes: a guest cannot load it by TFTP")
    if limit == "error":
        raise BuildError(message, hint="drop modules or use stronger compression")
    return (message,)
