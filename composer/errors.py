"""One exception family for everything a user can act on.

The CLI is the only place that turns these into a message and an exit code; code
elsewhere raises them and never prints. Exit codes follow the interface promised to
users: 2 for bad input (recipe, arguments, kernel), 1 for anything else.
"""

from __future__ import annotations

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
