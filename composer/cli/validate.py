"""Check recipes without building: YAML, schema, extends, variables (and their declared
rules) and templates; with --sysroot, also what a build would resolve there: the kernel,
binaries, applets and modules, by the build's own plan stage, and the image's self-check
(init, interpreters, libraries, module dependencies), without writing anything.

Reports every problem with file:line:column and the key path. Exit 0 when all recipes
are valid, 2 when any is not.

examples:
  compose validate recipes/*.yaml
  compose validate site.yaml --sysroot "$(compose sysroot)" --set on_failure=retry
"""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.build.check import check_build
from composer.build.pipeline import effective_cmdline
from composer.build.plan import plan
from composer.build.planners import recipe_entries
from composer.build.resolved import resolve_recipe
from composer.cli.options import add_variable_options, confinement_from, overrides_from
from composer.cli.ui import UI
from composer.errors import ComposerError, RecipeError, is_located
from composer.recipe import LoadedRecipe, load_recipe
from composer.recipe.stock import recipe_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipes", nargs="+", type=recipe_argument, metavar="RECIPE")
    add_variable_options(parser)
    parser.add_argument("--sysroot", type=Path, metavar="DIR",
                        help="also resolve the kernel, binaries, applets and modules in DIR "
                             "and check the image the build would make")
    parser.add_argument("--kernel", type=Path, metavar="PATH",
                        help="with --sysroot: the kernel image on the host, as for a build")


def run(args: argparse.Namespace, ui: UI) -> int:
    overrides = overrides_from(args)
    worst = 0
    for path in args.recipes:
        try:
            loaded = load_recipe(path, overrides=overrides, vars_files=args.vars_files,
                                 confinement=confinement_from(args))
            if args.sysroot is None:
                recipe_entries(resolve_recipe(loaded, sysroot=None))
            else:
                resolve(loaded, args.sysroot, args.kernel)
        except RecipeError as error:
            ui.error_lines(error.lines())
            worst = max(worst, error.exit_code)
            continue
        except ComposerError as error:
            ui.error(str(error) if is_located(error.message) else f"{path}: {error}")
            worst = max(worst, error.exit_code)
            continue
        ui.result(f"{path}: ok")
    return worst


def resolve(loaded: LoadedRecipe, sysroot: Path, kernel: Path | None) -> None:
    """What a build does before it writes: the plan, then the image's self-check."""
    the_plan = plan(loaded, sysroot=sysroot, kernel_override=kernel)
    check_build(the_plan.entries, effective_cmdline(the_plan), loaded.replaced, loaded.data,
                str(loaded.path), boot_image=the_plan.kernel is not None)
