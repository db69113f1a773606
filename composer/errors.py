"""One exception family for everything a user can act on.

The CLI is the only place that turns these into a message and an exit code; code
elsewhere raises them and never prints. Exit codes follow the interface promised to
users: 2 for bad input (recipe, arguments, kernel), 1 for anything else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in an input file a problem sits (1-based line and column)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One finding about an input; a recipe error carries every one found."""

    message: str
    location: Location | None = None
    key_path: str = ""
    hint: str = ""

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(f"{self.location}:")
        if self.key_path:
            parts.append(f"{self.key_path}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.hint:
            text += f" ({self.hint})"
        return text


class ComposerError(Exception):
    """A failure with a message a user can act on."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class InputError(ComposerError):
    """The user's input is wrong: recipe, arguments, kernel, sysroot contents."""

    exit_code = 2


class RecipeError(InputError):
    """A recipe has one or more problems; all of them are reported at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        body = "; ".join(str(p) for p in problems)
        super().__init__(f"recipe has {head}: {body}" if count > 1 else body)

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class KernelError(InputError):
    """The kernel image is not something the s390 boot image stage can use."""


class ResolveError(InputError):
    """Something the recipe asks for (binary, library, module, file) cannot be found."""


class BuildError(ComposerError):
    """The build failed for a reason outside the recipe (I/O, disk full, tools)."""


_LOCATED = re.compile(r"^\S+:\d+:\d+: ")
_AT = re.compile(r"^\S+:\d+:\d+$")


def located(error: ComposerError, at: str, key: str) -> ComposerError:
    """`error` led by the recipe location and key it is about: `FILE:LINE:COL: key:
    message`, the one form of every error that points into a recipe. An error already
    led by a location keeps it; a template's own "template KEY:LINE:" prefix (a recipe
    string rendered under the key's name) gives way to the entry's location."""
    if not at or _LOCATED.match(error.message) or isinstance(error, RecipeError):
        return error
    kind = type(error) if type(error).__init__ is ComposerError.__init__ else InputError
    if not _AT.match(at):  # an origin that is no location ("binaries: busybox")
        return kind(f"{error.message} ({at})", hint=error.hint)
    message = re.sub(rf"^template {re.escape(key)}(?::(\d+))?: ",
                     lambda m: f"line {m[1]}: " if m[1] not in (None, "1") else "",
                     error.message)
    return kind(f"{at}: {key}: {message}", hint=error.hint)


def is_located(message: str) -> bool:
    """Whether a message already leads with FILE:LINE:COL."""
    return bool(_LOCATED.match(message))


@contextmanager
def at_entry(at: str, key: str) -> Iterator[None]:
    """Errors raised inside are `located` at the recipe entry `at`, under `key`."""
    try:
        yield
    except ComposerError as error:
        new = located(error, at, key)
        if new is error:
            raise
        raise new from None
