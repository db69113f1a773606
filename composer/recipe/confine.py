"""Confined recipes: what a recipe may read from the build host.

A recipe is data someone else may have written: `source: ../../../../etc/passwd` or
`source: /home/me/.ssh/id_ed25519` would put a host file into the image. So every host
file a recipe names (`source:` of files and templates, `extends:`, `--vars` files, and
the host paths in the variables `https_ca` and `signing_keys`) must lie, after every
symbolic link is followed, inside one of:
- the recipe's own tree: the directory of the recipe file that names it (in an
  `extends` chain, each recipe's own file; a `--vars` file is the top recipe's). A recipe
  in the `recipes/` directory of composer's own tree (the installed package's data, or a
  checkout: `pyproject.toml` and `composer/` beside `recipes/`) has that tree as its
  own: the stock recipes reach their boot scripts there;
- a stock recipe, for `extends:` (what `extends: pxelinux` names);
- the sysroot, unless it is `/` (the host itself is no sysroot to confine to);
- a directory allowed on the command line, `--allow-path DIR` (repeatable).
`{% include %}` is confined by the template loader to the template's own directory
(composer/templating.py), links included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from composer.recipe.stock import data_dir

HINT = "allow a directory with --allow-path DIR"


@cache
def _stock_root() -> Path | None:
    recipes = data_dir("recipes")
    return recipes.resolve().parent if recipes is not None else None


def _is_composer_tree(directory: Path) -> bool:
    return directory == _stock_root() or (
        (directory / "pyproject.toml").is_file() and (directory / "composer").is_dir()
        and (directory / "recipes").is_dir())


def recipe_tree(recipe: Path) -> Path:
    """The directory tree a recipe file may read from (without --allow-path)."""
    folder = recipe.resolve().parent
    if folder.name == "recipes" and _is_composer_tree(folder.parent):
        return folder.parent
    return folder


def is_stock_recipe(path: Path) -> bool:
    recipes = data_dir("recipes")
    return recipes is not None and path.resolve().parent == recipes.resolve()


@dataclass(frozen=True)
class Confinement:
    """The directories every recipe may read besides its own tree."""

    allowed: tuple[Path, ...] = field(default=())

    @classmethod
    def of(cls, allow: tuple[Path, ...] | list[Path] = (), sysroot: Path | None = None
           ) -> Confinement:
        roots = [Path(p).resolve() for p in allow]
        if sysroot is not None and Path(sysroot).resolve() != Path("/"):
            roots.append(Path(sysroot).resolve())
        return cls(tuple(roots))

    def refusal(self, path: Path, tree: Path) -> str | None:
        """Why PATH may not be read by a recipe whose tree is TREE, as a phrase that
        follows the path as written (None: it may be read)."""
        real = path.resolve()
        for root in (tree, *self.allowed):
            if real.is_relative_to(root):
                return None
        plain = Path(os.path.normpath(path.absolute()))
        how = (f"is a link to {real}," if plain != real
               else "is" if str(path) == str(real) else f"is {real},")
        return f"{how} outside the recipe's directory {tree}: refused"

def variable_place(origin: str, top: Path) -> tuple[Path, Path]:
    """Where a host path held by a variable is read from: (the directory a relative path
    starts in, the tree it must stay in). ORIGIN is where the value was set (the
    loader's origins): `--set` (relative to the working directory), `variables file F`
    (to F's directory), or a recipe's FILE:LINE:COL (to FILE's directory, and FILE's tree);
    TOP is the recipe named on the command line, whose tree the first two stay in."""
    if origin == "--set":
        return Path.cwd(), recipe_tree(top)
    if origin.startswith("variables file "):
        return Path(origin.removeprefix("variables file ")).resolve().parent, recipe_tree(top)
    parts = origin.rsplit(":", 2)
    file = Path(parts[0] if len(parts) == 3 and parts[1].isdigit() else origin or top)
    return file.resolve().parent, recipe_tree(file)
