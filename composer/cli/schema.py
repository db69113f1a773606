"""Print the recipe JSON Schema (for editors: yaml-language-server, VS Code, ...).

With --markdown, print the recipe reference generated from it (docs/recipes.md); with
--generate, the schema as the models make it now (scripts/generate-schema writes it into
schemas/recipe.schema.json, the file shipped and used).
"""

from __future__ import annotations

import argparse
import json

from composer.cli.ui import UI
from composer.recipe.docs import markdown
from composer.recipe.schema import generate, recipe_schema


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true",
                        help="print the recipe reference (docs/recipes.md) instead")
    parser.add_argument("--generate", action="store_true",
                        help="print the schema generated from the recipe models "
                             "(composer/recipe/model.py) instead of the shipped one")


def run(args: argparse.Namespace, ui: UI) -> int:
    if args.markdown:
        ui.out.write(markdown(recipe_schema()))
    elif args.generate:
        ui.result(json.dumps(generate(), indent=2))
    else:
        ui.result(json.dumps(recipe_schema(), indent=2))
    return 0
