"""Check recipes without building: YAML, schema, extends, variables and templates.

Reports every problem with file:line:column and the key path. Exit 0 when all recipes
are valid, 2 when any is not.
"""

from __future__ import annotations

import argparse

from composer.build.plan import build_context, simple_entries
from composer.cli.options import add_variable_options, confinement_from, overrides_from
from composer.cli.ui import UI
from composer.errors import ComposerError, RecipeError
from composer.recipe import load_recipe
from composer.recipe.stock import recipe_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipes", nargs="+", type=recipe_argument, metavar="RECIPE")
    add_variable_options(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    overrides = overrides_from(args)
    worst = 0
    for path in args.recipes:
        try:
            loaded = load_recipe(path, overrides=overrides, vars_files=args.vars_files,
                         confinement=confinement_from(args))
            simple_entries(loaded.recipe, build_context(loaded.recipe.variables))
        except RecipeError as error:
            ui.error_lines(error.lines())
            worst = max(worst, error.exit_code)
            continue
        except ComposerError as error:
            ui.error(f"{path}: {error}")
            worst = max(worst, error.exit_code)
            continue
        ui.result(f"{path}: ok")
    return worst
