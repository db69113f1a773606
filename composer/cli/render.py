"""Render a recipe's templates and files (inline or copied) into a directory on the host.

The scripts that run inside the image can then be read, diffed, or run on the build
host: `compose render recipes/pxelinux.yaml out/ && busybox sh out/sbin/pxeboot
--dry-run --tftp-root tftp/`. Each file lands at DEST/<its path in the image>.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from composer.build.planners import recipe_entries
from composer.build.resolved import resolve_recipe
from composer.cli.options import add_variable_options, confinement_from, overrides_from
from composer.cli.ui import UI
from composer.errors import BuildError
from composer.manifest import Kind, read_content
from composer.recipe import load_recipe
from composer.recipe.stock import recipe_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", type=recipe_argument, metavar="RECIPE")
    parser.add_argument("dest", type=Path, metavar="DEST", help="directory to write into")
    add_variable_options(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    overrides = overrides_from(args)
    loaded = load_recipe(args.recipe, overrides=overrides, vars_files=args.vars_files,
                         confinement=confinement_from(args))
    entries = recipe_entries(resolve_recipe(loaded, sysroot=None))
    # Copied files too: static scripts find their library and settings beside them.
    rendered = [e for e in entries if e.kind is Kind.FILE]
    for entry in rendered:
        target = args.dest / entry.path.lstrip("/")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read_content(entry))
            os.chmod(target, entry.mode & 0o7777)
        except OSError as error:
            raise BuildError(f"cannot write {target}: {error.strerror}") from None
        ui.result(str(target))
    return 0
