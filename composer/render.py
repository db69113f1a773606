"""Jinja2 templates and `{{ var }}` strings, rendered in a sandbox.

Recipes come from many hands; a template must not reach Python internals
(`''.__class__.__mro__`) or burn memory (`'x' * 10**10`), and a misspelt variable must
be an error naming the template, line and variable, never an empty string in /init.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from composer.errors import InputError

MAX_RESULT = 16 << 20  # bytes a single operation in a template may produce


# A field width or precision this long in a format string pads to megabytes at once.
_WIDE_FORMAT = re.compile(r"%[-+ #0]*(\d*\.)?\d{8,}|\{[^{}]*:[^{}]*\d{8,}[^{}]*\}")


def _check_arguments(what: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call whose numbers could build a huge string in one step
    ('x'.center(10**9), 'x'|indent(10**9)): the output bound would come too late."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_RESULT:
            raise jinja2.exceptions.SecurityError(f"number {value} too large for {what}")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise jinja2.exceptions.SecurityError("format width too large for a template")


def _check_join(args: tuple[Any, ...]) -> None:
    """`range(99999)|join(big)` repeats the separator once per item."""
    items = next((a for a in args if isinstance(a, list | tuple | range)), None)
    separator = next((a for a in reversed(args) if isinstance(a, str)), "")
    if items is not None and len(items) * len(separator) > MAX_RESULT:
        raise jinja2.exceptions.SecurityError("result of 'join' too large for a template")


def _bounded_filter(name: str, function: Any) -> Any:
    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(f"the filter '{name}'", args, kwargs)
        if name == "format":
            _check_format(next((a for a in args if isinstance(a, str)), None))
        if name == "join":
            _check_join(args)
        return function(*args, **kwargs)
    return checked


def shquote(value: object) -> str:
    """VALUE as one single-quoted POSIX shell word (`{{ var | shquote }}`): whatever a
    recipe variable holds, the rendered script treats it as data. A list becomes its
    items joined by single spaces, the form a shell loop over words reads."""
    if isinstance(value, list | tuple):
        value = " ".join(str(item) for item in value)
    return "'" + str(value).replace("'", "'\\''") + "'"


class _Sandbox(SandboxedEnvironment):
    """The stock sandbox plus bounds on the operations that can multiply memory,
    and the filters the image's scripts need (`shquote`)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters["shquote"] = shquote
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise jinja2.exceptions.SecurityError("exponent too large for a template")
        if operator == "*" and isinstance(left, int | float) and isinstance(right, str | list):
            left, right = right, left
        if (operator == "*" and isinstance(left, str | list) and isinstance(right, int)
                and len(left) * right > MAX_RESULT):
            raise jinja2.exceptions.SecurityError("result of '*' too large for a template")
        if operator == "%":
            _check_format(left)
        if (operator == "+" and isinstance(left, str | list) and isinstance(right, str | list)
                and len(left) + len(right) > MAX_RESULT):
            raise jinja2.exceptions.SecurityError("result of '+' too large for a template")
        return super().call_binop(context, operator, left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "a function")
        _check_arguments(f"'{name}'", args, kwargs)
        if name in ("format", "format_map"):  # the sandbox wraps str.format
            _check_format(getattr(inspect.unwrap(__obj), "__self__", None))
        return super().call(__context, __obj, *args, **kwargs)


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


def _bounded(chunks: Iterator[str]) -> str:
    """Join a template's output, stopping at MAX_RESULT: loops can multiply text as
    surely as '*' can (`{% for i in range(99999) %}{{ big }}{% endfor %}`)."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RESULT:
            raise jinja2.exceptions.SecurityError(
                f"output longer than {MAX_RESULT:,} characters")
        parts.append(chunk)
    return "".join(parts)


def render_text(text: str, variables: Mapping[str, object], name: str,
                search: list[Path] | None = None) -> str:
    """Render template text; `name` is what errors call it (a path, or a recipe key)."""
    env = _environment(search or [])
    try:
        template = env.from_string(text)
        template.filename = name
        return _bounded(template.generate(dict(variables)))
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
