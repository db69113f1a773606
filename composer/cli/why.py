"""Say why a path is in an image: the recipe entry that asked for it (FILE:LINE:COL), the
chain a resolver followed to it (a library's DT_NEEDED chain from the program that needs
it, a module's dependency chain from the module asked for, the busybox applet of a
link), and the Debian package it came from.

  compose why pxelinux /lib/s390x-linux-gnu/libc.so.6 --sysroot "$(compose sysroot)"
  compose why pxelinux.0 /lib/modules/6.1.0-50-s390x/kernel/net/core/failover.ko

For a RECIPE the answers are the ones its build records as it resolves (and the
sysroot's dpkg database names the package); for an IMAGE they are read off the image's
own files (ELF DT_NEEDED and PT_INTERP, modules.dep, symlinks), with the package from
its SBOM when --sbom names it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from composer.cli.options import (
    add_json_option,
    add_sysroot_option,
    add_variable_options,
    overrides_from,
)
from composer.cli.ui import UI
from composer.errors import InputError
from composer.recipe.stock import is_name, stock_recipe

if TYPE_CHECKING:
    from composer.report.why import Reason

EPILOG = """\
Exit status: 0 with the answer, 1 when PATH is not in the image, 2 for bad input.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subject", metavar="RECIPE-or-IMAGE",
                        help="a recipe (file or stock name) or a boot image / initramfs")
    parser.add_argument("path", metavar="PATH", help="the path in the image")
    parser.add_argument("--sbom", type=Path, metavar="FILE",
                        help="with an IMAGE: its SBOM (compose --sbom), for the package")
    add_json_option(parser, "the answer")
    recipe = parser.add_argument_group("when the subject is a recipe")
    add_sysroot_option(recipe)
    add_variable_options(recipe)


def looks_like_recipe(text: str) -> Path | None:
    """A .yaml/.yml file, or a stock recipe's name that is no file here; else None."""
    path = Path(text)
    if path.suffix in (".yaml", ".yml"):
        return path
    if is_name(text) and not path.exists():
        return stock_recipe(text) or path
    return None


def run(args: argparse.Namespace, ui: UI) -> int:
    subject = looks_like_recipe(args.subject)
    if subject is not None:
        reason = _from_recipe(subject, args, ui)
        if reason is None:
            return 1
    else:
        from composer.report.whyimage import explain_image

        reason = explain_image(Path(args.subject), args.path, args.sbom)
    if args.json:
        ui.json(reason.json())
    else:
        for line in reason.lines():
            ui.result(line)
    return 0


def _from_recipe(recipe_path: Path, args: argparse.Namespace, ui: UI) -> Reason | None:
    from composer.build.pipeline import source_date_epoch
    from composer.build.plan import plan_resolved
    from composer.build.resolved import resolve_recipe
    from composer.recipe import load_recipe
    from composer.report.packages import PackageDatabase
    from composer.report.why import explain, find_entry, nearest

    loaded = load_recipe(recipe_path, overrides=overrides_from(args),
                         vars_files=args.vars_files)
    resolved = resolve_recipe(loaded, sysroot=args.sysroot)
    the_plan = plan_resolved(resolved, epoch=source_date_epoch())
    entry = find_entry(the_plan.entries, args.path)
    if entry is None:
        close = nearest(the_plan.entries, args.path)
        hint = f" (nearest: {', '.join(close)})" if close else ""
        ui.error(f"{args.path} is not in the image {recipe_path} builds{hint}")
        return None
    if args.sbom is not None:
        raise InputError("--sbom goes with an IMAGE; a recipe's packages come from the "
                         "sysroot's dpkg database")
    return explain(resolved, entry, args.sysroot, PackageDatabase.load(args.sysroot))
