"""Print the recipe JSON Schema (for editors: yaml-language-server, VS Code, ...).

With --markdown, print the recipe reference generated from it (docs/recipes.md).
"""

from __future__ import annotations

import argparse
import json

from composer.cli.ui import UI
from composer.recipe.docs import markdown
from composer.recipe.schema import recipe_schema


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true",
                        help="print the recipe reference (docs/recipes.md) instead")


def run(args: argparse.Namespace, ui: UI) -> int:
    if args.markdown:
        ui.out.write(markdown(recipe_schema()))
    else:
        ui.result(json.dumps(recipe_schema(), indent=2))
    return 0
