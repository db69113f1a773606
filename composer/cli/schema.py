"""Print the recipe JSON Schema (for editors: yaml-language-server, VS Code, ...)."""

from __future__ import annotations

import argparse
import json

from composer.cli.ui import UI
from composer.recipe.schema import recipe_schema


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace, ui: UI) -> int:
    ui.result(json.dumps(recipe_schema(), indent=2))
    return 0
