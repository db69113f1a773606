"""Jinja2 templates and `{{ var }}` strings, rendered in a sandbox.

Recipes come from many hands; a template must not reach Python internals
(`''.__class__.__mro__`) or burn memory (`'x' * 10**10`), and a misspelt variable must
be an error naming the template, line and variable, never an empty string in /init.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from composer.errors import InputError

MAX_RESULT = 16 << 20  # bytes a single operation in a template may produce


class _Sandbox(SandboxedEnvironment):
    """The stock sandbox plus bounds on the operators that can multiply memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise jinja2.exceptions.SecurityError("exponent too large for a template")
        if operator == "*" and isinstance(left, int | float) and isinstance(right, str | list):
            left, right = right, left
        if (operator == "*" and isinstance(left, str | list) and isinstance(right, int)
                and len(left) * right > MAX_RESULT):
            raise jinja2.exceptions.SecurityError("result of '*' too large for a template")
        return super().call_binop(context, operator, left, right)


def _environment(search: list[Path]) -> _Sandbox:
    return _Sandbox(
        loader=jinja2.FileSystemLoader([str(p) for p in search]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _line_of(error: Exception, name: str) -> int | None:
    lineno = getattr(error, "lineno", None)
    if lineno:
        return int(lineno)
    tb = error.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (name, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _explain(error: Exception, name: str) -> InputError:
    line = _line_of(error, name)
    where = f"{name}:{line}" if line else name
    if isinstance(error, jinja2.exceptions.UndefinedError):
        match = re.search(r"'([^']+)' is undefined", str(error))
        what = f"undefined variable '{match.group(1)}'" if match else str(error)
        return InputError(f"template {where}: {what}",
                          hint="define it under 'variables:' or pass --set NAME=VALUE")
    if isinstance(error, jinja2.exceptions.SecurityError):
        return InputError(f"template {where}: blocked by the sandbox: {error}")
    if isinstance(error, jinja2.exceptions.TemplateSyntaxError):
        return InputError(f"template {where}: syntax error: {error.message}")
    if isinstance(error, jinja2.exceptions.TemplateNotFound):
        return InputError(f"template {where}: included template {error.name!r} not found")
    return InputError(f"template {where}: {type(error).__name__}: {error}")


def render_text(text: str, variables: Mapping[str, object], name: str,
                search: list[Path] | None = None) -> str:
    """Render template text; `name` is what errors call it (a path, or a recipe key)."""
    env = _environment(search or [])
    try:
        template = env.from_string(text)
        template.filename = name
        return template.render(dict(variables))
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, OverflowError,
            MemoryError, RecursionError) as error:
        raise _explain(error, name) from None


def render_file(path: Path, variables: Mapping[str, object], name: str | None = None) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"template {path} not found") from None
    except UnicodeDecodeError:
        raise InputError(f"template {path} is not UTF-8 text") from None
    except OSError as error:
        raise InputError(f"cannot read template {path}: {error.strerror}") from None
    return render_text(text, variables, name or str(path), [path.parent])


def has_expression(text: str) -> bool:
    return "{{" in text or "{%" in text


def expand(text: str, variables: Mapping[str, object], name: str) -> str:
    """Expand `{{ var }}` in a recipe string; strings without expressions are kept as is."""
    return render_text(text, variables, name) if has_expression(text) else text
