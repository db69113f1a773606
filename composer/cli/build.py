"""Compose boot images from recipes.

Reads each RECIPE (YAML), takes the kernel, binaries and modules it names from the
sysroot, writes the initramfs and the s390 boot image. Outputs are written atomically:
a failed build never leaves a partial file or destroys the previous image.
Before anything is written the image checks itself: /init (or rdinit=) runnable, the
#! interpreter of every script, the ELF interpreter and DT_NEEDED libraries of every
program, each module's dependencies and the command links all in the image; a miss
is an error (exit 2) naming the path, who needs it and the recipe entry that removed it.

examples:
  compose pxelinux --sysroot "$(compose sysroot)" -o pxelinux.0   # a stock recipe
  compose recipes/pxelinux.yaml --sysroot ~/.cache/composer/sysroot-s390x -o pxelinux.0
  compose recipes/pxelinux.yaml --set interface=eth1 --set on_failure=poweroff
  compose recipes/*.yaml -O out/ -j 2          # several recipes, in parallel
  compose recipes/pxelinux.yaml --json | jq .image_size
"""

from __future__ import annotations

import argparse
import os
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Any

from composer.archive.codec import Codec, gzip_engine
from composer.build.pipeline import BuildRequest, BuildResult, build
from composer.cli import boot as boot_command
from composer.cli.boot import add_boot_options
from composer.cli.options import (
    add_json_option,
    add_sysroot_option,
    add_variable_options,
    overrides_from,
    utf8_argument,
)
from composer.cli.ui import UI
from composer.errors import ComposerError, InputError, RecipeError
from composer.output import make_output_dir, remove_empty_dirs
from composer.recipe.stock import recipe_argument

EPILOG = """\
Files and templates named in a recipe are relative to the recipe's directory; the
kernel, binaries and modules come from --sysroot. SOURCE_DATE_EPOCH sets the mtimes
(default 0), so the same inputs always give the same bytes.

An output that is a symlink is written through (its target is replaced, the link
stays); an output that is a device node, FIFO or socket is refused. -o with several
recipes, -o with -O, -O naming a file, two recipes with one name into one -O, and -j
above the number of recipes and of CPUs are usage errors (exit 2).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipes", nargs="+", metavar="RECIPE", type=recipe_argument,
                        help="recipe file(s), or stock recipe name(s) (`compose recipes`; an "
                             "existing file wins over a name)")
    parser.add_argument("-o", "--output", type=Path, metavar="IMAGE",
                        help="boot image to write (default: the recipe's output.image)")
    parser.add_argument("--initramfs", type=Path, metavar="PATH",
                        help="also write the initramfs alone to PATH")
    parser.add_argument("--ins", type=Path, metavar="DIR",
                        help="also write an .INS tree into DIR: RECIPE.kernel, RECIPE.initrd, "
                             "RECIPE.prm (the command line), the initrd's address and size, "
                             "and RECIPE.ins for the HMC or QEMU's firmware (boot it with "
                             "`compose boot DIR/RECIPE.ins`)")
    parser.add_argument("--layout", choices=("s390-tools", "fixed-16m", "fixed-32m"),
                        help="where the initrd goes: s390-tools (after the kernel, the "
                             "default), fixed-16m (Ubuntu, debian-cd, KIWI) or fixed-32m "
                             "(lorax); overrides the recipe's output.layout")
    parser.add_argument("--sbom", type=Path, metavar="FILE",
                        help="also write the image's SBOM as SPDX 2.3 JSON: every file, its "
                             "checksums, the Debian package it came from (the sysroot's dpkg "
                             "database), its version and license")
    parser.add_argument("--sbom-format", choices=("spdx", "cyclonedx"), default="spdx",
                        help="SPDX 2.3 JSON (default) or CycloneDX 1.5 JSON")
    parser.add_argument("-O", "--output-dir", type=Path, metavar="DIR",
                        help="with several recipes: write each as DIR/<recipe>.img")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="build N recipes at once, in separate processes")
    add_sysroot_option(parser)
    parser.add_argument("--kernel", type=Path, metavar="PATH",
                        help="kernel image on the host, instead of the recipe's kernel.image")
    parser.add_argument("--cmdline", metavar="TEXT",
                        help="command line to write into the image, instead of the recipe's "
                             "kernel.cmdline (too long for the kernel is an error)")
    add_variable_options(parser)
    parser.add_argument("--netboot-limit", choices=("error", "warn", "ignore"),
                        help="what an image over the firmware's 125,820,928-byte TFTP limit does")
    parser.add_argument("--no-check", dest="check", action="store_false",
                        help="skip the self-check of the image (its /init, #! and ELF "
                             "interpreters, libraries and module dependencies all present); "
                             "the build says so in a warning")
    add_json_option(parser, "the results")
    boot = parser.add_argument_group(
        "boot after building", "with --boot, the image is network-booted in qemu-system-s390x "
        "as `compose boot IMAGE` would (see `compose boot --help`)")
    boot.add_argument("--boot", action="store_true", help="boot the image once it is built")
    add_boot_options(boot)


MAX_JOBS = 256  # a process each: more is a typo, not a plan


def check_usage(args: argparse.Namespace) -> None:
    """Option combinations that cannot mean what was asked: usage errors, exit 2."""
    if args.cmdline is not None:
        utf8_argument("--cmdline", args.cmdline)
    count = len(args.recipes)
    if args.output is not None and args.output_dir is not None:
        raise InputError("-o IMAGE and -O DIR both say where the image goes; give one")
    if count > 1 and args.output is not None:
        raise InputError("-o names one image; with several recipes use -O DIR")
    if args.output_dir is not None and args.output_dir.exists() and \
            not args.output_dir.is_dir():
        raise InputError(f"-O {args.output_dir}: not a directory",
                         hint="-O names a directory for the images; -o names one image")
    most = min(MAX_JOBS, max(count, os.cpu_count() or 1))
    if not 1 <= args.jobs <= most:
        raise InputError(f"-j {args.jobs}: give 1 to {most} (at most one job per recipe, "
                         f"here {count}, or per CPU)")
    stems: dict[str, Path] = {}
    for recipe in args.recipes:
        stem = recipe.name.removesuffix(".yaml").removesuffix(".yml")
        if args.output_dir is not None and stem in stems:
            raise InputError(f"{stems[stem]} and {recipe} would both be written to "
                             f"{args.output_dir / (stem + '.img')}",
                             hint="rename one recipe or build them into separate -O directories")
        stems[stem] = recipe


def _requests(args: argparse.Namespace) -> list[BuildRequest]:
    overrides = overrides_from(args)
    requests = []
    for recipe in args.recipes:
        name = recipe.name.removesuffix(".yaml").removesuffix(".yml")
        image = args.output
        initramfs = args.initramfs
        if args.output_dir is not None:
            image = args.output_dir / f"{name}.img"
            initramfs = args.output_dir / f"{name}.initramfs" if args.initramfs else None
        requests.append(BuildRequest(
            recipe=recipe, sysroot=args.sysroot, image=image, initramfs=initramfs,
            kernel=args.kernel, overrides=overrides, vars_files=tuple(args.vars_files),
            allow_paths=tuple(args.allow_paths),
            netboot_limit=args.netboot_limit, cmdline=args.cmdline, layout=args.layout,
            ins=args.ins, sbom=args.sbom if args.output_dir is None or args.sbom is None
            else args.output_dir / f"{name}.spdx.json", sbom_format=args.sbom_format,
            check=args.check))
    return requests


def _as_json(result: BuildResult) -> dict[str, Any]:
    data = asdict(result)
    data["image"] = str(result.image) if result.image else None
    data["initramfs"] = str(result.initramfs) if result.initramfs else None
    data["ins"] = str(result.ins) if result.ins else None
    data["compression"] = {"codec": str(result.compression.codec),
                           "level": result.compression.effective_level,
                           "threads": result.compression.threads}
    if result.compression.codec is Codec.GZIP:
        data["compression"]["engine"] = gzip_engine()
    return data


def _end_with_parent() -> None:
    """In a worker: get SIGTERM when the parent process dies, even by SIGKILL
    (prctl PR_SET_PDEATHSIG), so no build outlives the command that started it."""
    import contextlib
    import ctypes  # only in workers

    # Not Linux: the parent's own SIGTERM handling still ends the workers.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _build_quietly(request: BuildRequest) -> tuple[BuildResult | None, str, int]:
    """Run one build in a worker process; errors come back as text and exit code."""
    try:
        return build(request), "", 0
    except RecipeError as error:
        return None, "; ".join(error.lines()), error.exit_code
    except ComposerError as error:
        return None, str(error), error.exit_code


def _report(ui: UI, result: BuildResult) -> None:
    for warning in result.warnings:
        ui.warn(warning)
    if result.image is not None:
        ui.info(f"{result.recipe}: {result.entries} entries, initramfs "
                f"{result.initramfs_size:,} bytes ({result.compression.codec}), image "
                f"{result.image_size:,} bytes, kernel {result.release or '?'}")
    for path in (result.image, result.initramfs):
        if path is not None:
            ui.result(str(path))
    if result.ins is not None:
        ui.result(str(result.ins / f"{result.recipe}.ins"))


def run(args: argparse.Namespace, ui: UI) -> int:
    check_usage(args)
    requests = _requests(args)
    if args.boot and len(requests) > 1:
        raise ComposerError("--boot boots one image; build one recipe at a time with it")
    created = make_output_dir(args.output_dir) if args.output_dir is not None else []
    try:
        code = _run(requests, args, ui)
    except BaseException:
        remove_empty_dirs(created)  # a failed build leaves no trace, -O's directory included
        raise
    if code != 0:
        remove_empty_dirs(created)
    return code


def _run(requests: list[BuildRequest], args: argparse.Namespace, ui: UI) -> int:
    if len(requests) == 1:
        ui.info(f"composing {requests[0].recipe}")
        result = build(requests[0], stage=ui.stage)
        if args.json:
            ui.json(_as_json(result))
        else:
            _report(ui, result)
        if args.boot:
            if result.image is None:
                raise ComposerError("--boot needs a boot image, but this build made none")
            args.image = result.image
            return boot_command.run(args, ui)
        return 0
    return _run_many(requests, args, ui)


def _run_many(requests: list[BuildRequest], args: argparse.Namespace, ui: UI) -> int:
    jobs = max(1, args.jobs)
    if jobs == 1:
        outcomes = [_build_quietly(r) for r in requests]
    else:
        from concurrent.futures import ProcessPoolExecutor  # only paid for with -j

        pool = ProcessPoolExecutor(max_workers=jobs, initializer=_end_with_parent)
        try:
            outcomes = list(pool.map(_build_quietly, requests))
        except BaseException:
            # SIGTERM or Ctrl-C: the workers' builds must not finish and replace outputs
            # after we are gone. Each worker drops its unfinished output on SIGTERM.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
    worst = 0
    summary = []
    for request, (result, error, code) in zip(requests, outcomes, strict=True):
        if result is None:
            ui.error(f"{request.recipe}: {error}")
            summary.append({"recipe": str(request.recipe), "ok": False, "error": error})
            worst = max(worst, code)
        else:
            summary.append({"recipe": str(request.recipe), "ok": True, **_as_json(result)})
            if not args.json:
                _report(ui, result)
    if args.json:
        ui.json(summary)
    failed = sum(1 for s in summary if not s["ok"])
    ui.say(f"{len(requests) - failed} built, {failed} failed")
    return worst
