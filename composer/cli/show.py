"""Print the effective recipe: extends merged, --vars and --set applied.

A packager sees what the merge did; with --origins every line says which file and line
(or which --set) it came from. The output is a valid recipe.
"""

from __future__ import annotations

import argparse
import json

from composer.cli.options import (
    add_json_option,
    add_variable_options,
    confinement_from,
    overrides_from,
)
from composer.cli.ui import UI
from composer.recipe import load_recipe
from composer.recipe.show import recipe_data, show
from composer.recipe.stock import recipe_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", type=recipe_argument, metavar="RECIPE")
    parser.add_argument("--origins", action="store_true",
                        help="annotate each line with where it came from")
    add_json_option(parser, "the recipe, instead of YAML,")
    add_variable_options(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    overrides = overrides_from(args)
    loaded = load_recipe(args.recipe, overrides=overrides, vars_files=args.vars_files,
                         confinement=confinement_from(args))
    if args.json:
        data = recipe_data(loaded.data)
        if args.origins:
            data["x-origins"] = loaded.origins
        ui.result(json.dumps(data, indent=2))
    else:
        ui.out.write(show(loaded.data, loaded.origins if args.origins else None))
    return 0
