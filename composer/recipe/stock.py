"""The stock recipes: the ones composer ships, found by name.

Installed, they are package data (`composer/recipes/`, `composer/bootscripts/` and
`composer/schemas/`, mapped from the checkout's top-level directories by pyproject.toml);
run from a checkout that was never installed, they are those top-level directories
themselves. Both layouts keep the boot scripts at `../bootscripts/` from the recipes, so the
recipes are the same files either way.

A recipe argument is a *name* when it has no `/` and no `.yaml`/`.yml` suffix
(`pxelinux`, `pxelinux-minimal`). An existing file of that name still wins, as a path
does for git or dracut: the stock recipe is only the fallback for what is not a file.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

SUFFIXES = (".yaml", ".yml")


@cache
def data_dir(name: str) -> Path | None:
    """The package data directory `composer.<name>` (recipes, bootscripts, schemas)."""
    try:
        spec = importlib.util.find_spec(f"composer.{name}")
    except ModuleNotFoundError:
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    return None


def is_name(text: str) -> bool:
    """`pxelinux` is a name; `./pxelinux`, `recipes/pxelinux` and `pxelinux.yaml` are paths."""
    return bool(text) and "/" not in text and not text.endswith(SUFFIXES)


def stock_recipes() -> dict[str, Path]:
    """Every stock recipe by name, sorted."""
    directory = data_dir("recipes")
    if directory is None:
        return {}
    found = {p.name.removesuffix(p.suffix): p for p in directory.iterdir()
             if p.suffix in SUFFIXES and p.is_file()}
    return dict(sorted(found.items()))


def stock_recipe(name: str) -> Path | None:
    return stock_recipes().get(name) if is_name(name) else None


def recipe_argument(text: str, base: Path | None = None) -> Path:
    """What a recipe argument names: the file `base/text` if it is one, else the stock
    recipe of that name, else the path as given (so that loading it says it is missing)."""
    path = Path(text) if base is None else base / text
    if is_name(text) and not path.is_file():
        stock = stock_recipe(text)
        if stock is not None:
            return stock
    return path
