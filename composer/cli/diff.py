"""Compare two boot images or initramfs archives (or one of each).

Either side may be a recipe (a .yaml file): it is built first, into a temporary
directory, against --sysroot, so `compose diff recipes/pxelinux.yaml /srv/tftp/pxelinux.0`
says what a rebuild would change on the boot server.

Entries are compared as the kernel would unpack them: added, removed, and changed
(type, mode, owner, size and SHA-256 of the content, symlink target, device numbers);
then the boot header (kernel version, command line, its maximum) when both are s390
boot images, and the compression of the segments.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from composer.build.pipeline import BuildRequest, build
from composer.cli.inspect import add_limit_arguments, limits_from
from composer.cli.options import (
    add_json_option,
    add_sysroot_option,
    add_variable_options,
    confinement_from,
    overrides_from,
)
from composer.cli.ui import UI
from composer.read.diff import diff_files, diff_json, diff_lines
from composer.recipe import load_recipe
from composer.report.sbomdiff import diff_sboms, is_sbom, sbom_diff_json, sbom_diff_lines

EPILOG = """\
--json prints one object whose shape is documented in docs/inspect-json.md.
Exit status, like diff(1): 0 no differences, 1 differences, 2 a file is not readable.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=Path, metavar="A", help="boot image, initramfs or recipe")
    parser.add_argument("b", type=Path, metavar="B", help="boot image, initramfs or recipe")
    add_json_option(parser, "the differences (docs/inspect-json.md)")
    parser.add_argument("--mtime", action="store_true",
                        help="also compare modification times")
    parser.add_argument("--sbom", action="store_true",
                        help="A and B are SPDX SBOMs (compose --sbom): compare their Debian "
                             "packages, versions and licenses (detected without this flag too)")
    add_limit_arguments(parser)
    recipe = parser.add_argument_group("when a side is a recipe")
    add_sysroot_option(recipe)
    add_variable_options(recipe)


def _is_recipe(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml")


def _built(path: Path, args: argparse.Namespace, workdir: Path) -> Path:
    """The image (or, without a kernel, the initramfs) the recipe builds today."""
    loaded = load_recipe(path, overrides=overrides_from(args), vars_files=args.vars_files,
                         confinement=confinement_from(args, args.sysroot))
    has_kernel = loaded.recipe.kernel.image is not None
    target = workdir / f"{path.stem}.{'img' if has_kernel else 'initramfs'}"
    request = BuildRequest(recipe=path, sysroot=args.sysroot,
                           image=target if has_kernel else None,
                           initramfs=None if has_kernel else target,
                           overrides=overrides_from(args), vars_files=tuple(args.vars_files),
                           allow_paths=tuple(args.allow_paths), netboot_limit="ignore")
    build(request)
    return target


def run(args: argparse.Namespace, ui: UI) -> int:
    if args.sbom or (is_sbom(args.a) and is_sbom(args.b)):
        changes = diff_sboms(args.a, args.b)
        if args.json:
            ui.json(sbom_diff_json(args.a, args.b, changes))
        else:
            for line in sbom_diff_lines(args.a, args.b, changes):
                ui.result(line)
        return 1 if changes else 0
    with tempfile.TemporaryDirectory(prefix="compose-diff-") as workdir:
        a = _built(args.a, args, Path(workdir)) if _is_recipe(args.a) else args.a
        b = _built(args.b, args, Path(workdir)) if _is_recipe(args.b) else args.b
        result = diff_files(a, b, limits=limits_from(args), with_mtime=args.mtime)
    if args.json:
        ui.json(diff_json(result))
    else:
        for line in diff_lines(result):
            ui.result(line)
    return 0 if result.equal else 1
