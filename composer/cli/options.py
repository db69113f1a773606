"""Options several commands share, declared once so they read and behave the same."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from composer.recipe import parse_assignment


def add_variable_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="NAME=VALUE", help="override a recipe variable (repeatable)")
    parser.add_argument("--vars", dest="vars_files", action="append", default=[], type=Path,
                        metavar="FILE", help="YAML file of variable overrides (repeatable)")


def add_sysroot_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--sysroot", type=Path, default=Path(os.environ.get(
        "COMPOSER_SYSROOT", "/")), metavar="DIR",
        help="where the kernel, binaries and modules come from (default: / or "
             "$COMPOSER_SYSROOT; `compose sysroot` fetches one); on / itself the running "
             "kernel (uname -r) is taken when kernel.image matches several")


def overrides_from(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    return tuple(parse_assignment(text) for text in args.overrides)
