"""Check recipes without building: YAML, schema, extends, variables and templates.

Reports every problem with file:line:column and the key path. Exit 0 when all recipes
are valid, 2 when any is not.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.cli.ui import UI
from composer.errors import ComposerError, RecipeError
from composer.plan import build_context, simple_entries
from composer.recipe import load_recipe, parse_assignment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipes", nargs="+", type=Path, metavar="RECIPE")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="NAME=VALUE", help="override a recipe variable")
    parser.add_argument("--vars", dest="vars_files", action="append", default=[], type=Path,
                        metavar="FILE", help="YAML file of variable overrides")


def run(args: argparse.Namespace, ui: UI) -> int:
    overrides = tuple(parse_assignment(t) for t in args.overrides)
    worst = 0
    for path in args.recipes:
        try:
            loaded = load_recipe(path, overrides=overrides, vars_files=args.vars_files)
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
