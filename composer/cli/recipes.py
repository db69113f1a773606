"""List the stock recipes: the ones composer ships, buildable by name.

  compose recipes                      # NAME  DESCRIPTION
  compose pxelinux --sysroot DIR       # build one by name
  compose show pxelinux-debug          # what a variant changes, merged

A variant of your own extends one by name in two lines:

  extends: pxelinux
  variables: {interface: eth1}
"""

from __future__ import annotations

import argparse

from composer.cli.options import add_json_option
from composer.cli.ui import UI
from composer.errors import RecipeError
from composer.recipe.stock import stock_recipes
from composer.recipe.yamldoc import load_document


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser, "name, description and path of each")


def _description(data: object) -> str:
    value = data.get("description", "") if isinstance(data, dict) else ""
    return value if isinstance(value, str) else ""


def run(args: argparse.Namespace, ui: UI) -> int:
    listing = []
    for name, path in stock_recipes().items():
        try:
            description = _description(load_document(path).data)
        except RecipeError as error:  # a broken package: say so, keep listing the others
            ui.warn(f"stock recipe {name}: {'; '.join(error.lines())}")
            description = ""
        listing.append({"name": name, "description": description, "path": str(path)})
    if args.json:
        ui.json(listing)
        return 0
    if not listing:
        ui.say("no stock recipes: this composer was installed without its package data")
        return 1
    width = max(len(item["name"]) for item in listing)
    for item in listing:
        ui.result(f"{item['name']:<{width}}  {item['description']}".rstrip())
    ui.info(f"(from {stock_recipes()[listing[0]['name']].parent})")
    return 0
