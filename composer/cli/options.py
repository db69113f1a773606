"""Options several commands share, declared once so they read and behave the same."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from composer.errors import InputError
from composer.recipe import parse_assignment
from composer.recipe.confine import Confinement


def add_variable_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="NAME=VALUE", help="override a recipe variable (repeatable)")
    parser.add_argument("--vars", dest="vars_files", action="append", default=[], type=Path,
                        metavar="FILE", help="YAML file of variable overrides (repeatable)")
    parser.add_argument("--allow-path", dest="allow_paths", action="append", default=[],
                        type=Path, metavar="DIR",
                        help="let the recipe read host files under DIR (repeatable); "
                             "otherwise it reads only its own directory tree and the "
                             "sysroot (README, Confined recipes)")


def add_json_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                    what: str) -> None:
    """--json: every command that a script reads says which object it prints."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def add_sysroot_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--sysroot", type=Path, default=Path(os.environ.get(
        "COMPOSER_SYSROOT", "/")), metavar="DIR",
        help="where the kernel, binaries and modules come from (default: / or "
             "$COMPOSER_SYSROOT; `compose sysroot` fetches one); on / itself the running "
             "kernel (uname -r) is taken when kernel.image matches several")


def utf8_argument(option: str, text: str) -> str:
    """An argument as text, refused if it held bytes that are not UTF-8 (Python keeps
    them as lone surrogates, which would fail later and far from the option)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        shown = text.encode("utf-8", errors="surrogateescape").decode(
            "utf-8", errors="backslashreplace")
        byte = ord(text[error.start]) & 0xFF  # surrogateescape keeps byte b as U+DC00+b
        raise InputError(f"{option} {shown}: byte {byte:#04x} is not UTF-8 text",
                         hint="recipes, variables and command lines are UTF-8") from None
    return text


def overrides_from(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    return tuple(parse_assignment(utf8_argument("--set", text)) for text in args.overrides)


def confinement_from(args: argparse.Namespace, sysroot: Path | None = None) -> Confinement:
    """What the recipe may read besides its own tree: --allow-path, and the sysroot."""
    return Confinement.of(args.allow_paths, sysroot)
