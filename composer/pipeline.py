"""The build, stage by stage: recipe -> plan -> archive -> image.

Each stage is a function of the previous stage's value; this module only strings them
together, times them, and owns the outputs (written atomically, never half-done).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from composer.archive import InitramfsStats, write_initramfs
from composer.archive.codec import Compression, kernel_supports
from composer.errors import BuildError, InputError, KernelError
from composer.image.s390 import NETBOOT_LIMIT, encode_cmdline, patch_image, write_kernel
from composer.kernelcopy import copy_range
from composer.output import AtomicOutput, describe_os_error
from composer.plan import Plan, plan
from composer.recipe import LoadedRecipe, load_recipe
from composer.render import expand

StageTimer = Callable[[str], AbstractContextManager[object]]


@dataclass(frozen=True)
class BuildRequest:
    recipe: Path
    sysroot: Path = Path("/")
    image: Path | None = None
    initramfs: Path | None = None
    kernel: Path | None = None
    overrides: tuple[tuple[str, str], ...] = ()
    vars_files: tuple[Path, ...] = ()
    netboot_limit: str | None = None
    cmdline: str | None = None  # overrides the recipe's kernel.cmdline


@dataclass
class BuildResult:
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
    warnings: list[str] = field(default_factory=list)


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
    if image is None and initramfs is None:
        image = Path(f"{loaded.recipe.name}.img")
    return image, initramfs


def _check_not_inputs(outputs: Sequence[Path | None], the_plan: Plan,
                      loaded: LoadedRecipe) -> None:
    """An output that is also an input would be destroyed by the build that reads it.

    Files are compared by identity (device, inode), which also catches hard links; an
    output that doesn't exist yet can't be an input (they all exist), which spares an
    all-modules build thousands of path resolutions.
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
    inputs = [*loaded.files, *(Path(t.source) for t in loaded.recipe.templates),
              *the_plan.included,
              *(e.source for e in the_plan.manifest.declared() if e.source is not None)]
    if the_plan.kernel is not None:
        inputs.append(the_plan.kernel.path)
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


def _check_compression(the_plan: Plan, compression: Compression, sysroot: Path) -> None:
    compression.check()
    if the_plan.release is None:
        return
    config = sysroot / "boot" / f"config-{the_plan.release}"
    if config.is_file():
        supported = kernel_supports(config.read_text(errors="replace"), compression.codec)
        if supported is False:
            raise InputError(f"kernel {the_plan.release} cannot unpack a {compression.codec} "
                             f"initramfs ({config} does not enable it)",
                             hint="pick another compression")


def _write_initramfs(the_plan: Plan, loaded: LoadedRecipe, out: BinaryIO,
                     epoch: int) -> InitramfsStats:
    spec = loaded.recipe.compression
    return write_initramfs(the_plan.manifest.entries(), spec.compression(), out, epoch=epoch,
                           precompressed_segment=spec.precompressed_segment)


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
def _writing(path: Path) -> Iterator[BinaryIO]:
    with AtomicOutput(path) as out:
        try:
            yield out
        except OSError as error:
            raise describe_os_error(error, path) from None


def build(request: BuildRequest, stage: StageTimer | None = None) -> BuildResult:
    timed: StageTimer = stage or (lambda name: nullcontext())
    with timed("recipe"):
        loaded = load_recipe(request.recipe, overrides=request.overrides,
                             vars_files=request.vars_files)
    with timed("plan"):
        try:
            the_plan = plan(loaded.recipe, sysroot=request.sysroot,
                            kernel_override=request.kernel)
        except PermissionError as error:  # wherever the plan reads: sysroot, sources
            raise InputError(f"cannot read {error.filename}: {error.strerror}",
                             hint="compose needs read permission on every input, the "
                                  "sysroot's binaries and modules included") from None
    image, initramfs = _outputs(request, loaded)
    kernel = the_plan.kernel
    if image is not None and kernel is None:
        raise InputError(f"recipe {request.recipe} names no kernel, so no boot image can be "
                         "made", hint="set kernel.image, pass --kernel PATH, or write only "
                         "the initramfs with --initramfs PATH")
    cmdline = loaded.recipe.kernel.cmdline
    if request.cmdline is not None:
        cmdline, at = request.cmdline, "--cmdline"
    else:
        at = loaded.origins.get("kernel.cmdline", "")  # file:line:col, for messages
    if cmdline is not None and kernel is not None:
        # An empty line (say, an unset variable) keeps the kernel's built-in one.
        cmdline = expand(cmdline, the_plan.variables,
                         f"{at} kernel.cmdline".lstrip()).strip() or None
        if cmdline is not None:
            try:
                encode_cmdline(cmdline, kernel.header.max_cmdline)
            except KernelError as error:
                raise KernelError(f"{at}: kernel.cmdline: {error.message}" if at
                                  else error.message, hint=error.hint) from None
    compression = loaded.recipe.compression.compression()
    _check_compression(the_plan, compression, request.sysroot)
    _check_not_inputs((image, initramfs), the_plan, loaded)
    epoch = source_date_epoch()
    limit = request.netboot_limit or loaded.recipe.output.netboot_limit
    result = BuildResult(loaded.recipe.name, image, initramfs,
                         kernel.header.kernel_version if kernel else None, the_plan.release,
                         the_plan.arch, 0, 0, None, compression, list(the_plan.warnings))
    with ExitStack() as outputs:  # every output is committed only if all of them are whole
        written: BinaryIO | None = None
        if initramfs is not None:
            written = outputs.enter_context(_writing(initramfs))
            with timed("archive"):
                stats = _write_initramfs(the_plan, loaded, written, epoch)
            result.entries, result.initramfs_size = stats.entries, stats.size
        if image is None or kernel is None:
            return result
        out = outputs.enter_context(_writing(image))
        with timed("kernel"), open(kernel.path, "rb") as k:
            offset = write_kernel(out, k)
        with timed("archive"):
            if written is not None:
                _copy_into(out, written)
            else:
                stats = _write_initramfs(the_plan, loaded, out, epoch)
                result.entries = stats.entries
        size = out.tell() - offset
        with timed("image"):
            patch_image(out, kernel.header, offset=offset, size=size, cmdline=cmdline)
        result.initramfs_size, result.image_size = size, out.tell()
        _check_netboot(result, limit)
    return result


def _check_netboot(result: BuildResult, limit: str) -> None:
    size = result.image_size or 0
    if size <= NETBOOT_LIMIT or limit == "ignore":
        return
    message = (f"the image is {size:,} bytes, over the s390 firmware's network-boot limit of "
               f"{NETBOOT_LIMIT:,} bytes: a guest cannot load it by TFTP")
    if limit == "error":
        raise BuildError(message, hint="drop modules or use stronger compression")
    result.warnings.append(message)
