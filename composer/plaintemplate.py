"""Templates that only substitute variables, rendered without importing Jinja.

Importing Jinja2 and its sandbox and compiling a template cost a cold build of the
pxelinux image about a fifth of its time, for a settings file whose every line is
`NAME={{ name | default(1) | shquote }}`. So a template made only of text, comments and
`{{ name }}` expressions with the `default` and `shquote` filters (literal arguments:
a string without escapes, a decimal integer, `[]`) is rendered here, with Jinja's
rules as configured in composer/templating.py: comments vanish and `-` in `{#- -#}`
strips the whitespace beside them, the trailing newline is kept, a printed value is
`str()` of it, `default` replaces an undefined name only. Anything else: a block, an
expression beyond that, whitespace control on `{{`, a name Jinja would read as a
constant, keyword or global, an undefined name left without default, a value that is
not plain data or not UTF-8 text: `render` returns None and Jinja decides, errors
included. tests/unit/test_plaintemplate.py checks the two agree on generated templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_RESULT = 16 << 20  # composer.sandbox.MAX_RESULT, without importing Jinja for it

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_LITERAL = r"'[^'\\{}]*'|\"[^\"\\{}]*\"|0|[1-9][0-9]*|\[\s*\]"
_FILTER = re.compile(rf"\|\s*({_NAME})\s*(?:\(\s*({_LITERAL})?\s*\))?\s*")
_EXPRESSION = re.compile(rf"\{{\{{(?![-+])\s*({_NAME})\s*((?:\|\s*{_NAME}\s*"
                         rf"(?:\(\s*(?:{_LITERAL})?\s*\))?\s*)*)(?<![-+])\}}\}}")
_TAG = re.compile(r"\{[{%#]")
# What Jinja reads as something other than a variable of the render: constants,
# operators, the names of its context, and its globals.
_NOT_VARIABLES = frozenset({
    "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is",
    "if", "else", "self", "loop", "caller", "varargs", "kwargs", "super",
    "range", "dict", "lipsum", "cycler", "joiner", "namespace"})
_UNDEFINED = object()
MAX_PRINTS = 20_000  # pieces: each print costs the sandbox a few of its 400,000 steps
_PLAIN = (str, int, float, bool, type(None))


def shquote(value: object) -> str:
    """VALUE as one single-quoted POSIX shell word (`{{ var | shquote }}`): whatever a
    recipe variable holds, the rendered script treats it as data. A list becomes its
    items joined by single spaces, the form a shell loop over words reads."""
    if isinstance(value, list | tuple):
        value = " ".join(str(item) for item in value)
    return "'" + str(value).replace("'", "'\\''") + "'"


class _NotPlain(Exception):
    """The template or a value is outside what this module renders: ask Jinja."""


def render(text: str, variables: Mapping[str, object]) -> str | None:
    """The text Jinja would render, or None when Jinja must do it."""
    if "\r" in text or "{%" in text:  # Jinja normalises newlines; blocks are Jinja's
        return None
    try:
        out = "".join(_pieces(text, variables))
    except _NotPlain:
        return None
    if len(out) > MAX_RESULT:
        return None
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:  # Jinja's sandbox says which value that was
        return None
    return out


def _pieces(text: str, variables: Mapping[str, object]) -> list[str]:
    pieces: list[str] = []
    pos = 0
    strip_next = False
    while (tag := _TAG.search(text, pos)) is not None:
        data = text[pos:tag.start()]
        if strip_next:
            data = data.lstrip()
        if text.startswith("{#", tag.start()):
            end = text.find("#}", tag.start() + 2)  # a comment ends at the first #}
            body = text[tag.start() + 2:end]
            if end < 0 or "+" in (body[:1], body[-1:]) or body in ("", "-"):
                raise _NotPlain  # unended, lstrip_blocks' "+", or "{#-#}"'s ambiguity
            pieces.append(data.rstrip() if body[0] == "-" else data)
            strip_next = body[-1] == "-"
            pos = end + 2
            continue
        expression = _EXPRESSION.match(text, tag.start())
        if expression is None:
            raise _NotPlain
        pieces += (data, _printed(expression.group(1), expression.group(2), variables))
        if len(pieces) > MAX_PRINTS:  # the sandbox's step budget would run out first
            raise _NotPlain
        strip_next = False
        pos = expression.end()
    rest = text[pos:]
    pieces.append(rest.lstrip() if strip_next else rest)
    return pieces


def _printed(name: str, filters: str, variables: Mapping[str, object]) -> str:
    if name in _NOT_VARIABLES:
        raise _NotPlain
    value = variables.get(name, _UNDEFINED)
    for filter_name, argument in _FILTER.findall(filters):
        value = _filtered(filter_name, argument, value)
    if value is _UNDEFINED or not isinstance(value, _PLAIN):
        raise _NotPlain
    return str(value)


def _filtered(name: str, argument: str, value: object) -> object:
    if _too_big(value):
        raise _NotPlain
    if name in ("default", "d"):
        fallback = _literal(argument) if argument else ""
        if _too_big(fallback):
            raise _NotPlain
        return fallback if value is _UNDEFINED else value
    if name == "shquote" and not argument and value is not _UNDEFINED:
        if isinstance(value, list | tuple):
            if not all(isinstance(item, _PLAIN) for item in value):
                raise _NotPlain
        elif not isinstance(value, _PLAIN):
            raise _NotPlain
        return shquote(value)
    raise _NotPlain


def _too_big(value: object) -> bool:
    """The sandbox refuses a filter an integer argument over MAX_RESULT (composer/
    sandbox.py, check_numbers): the value filtered is one of them."""
    return type(value) is int and abs(value) > MAX_RESULT


def _literal(source: str) -> object:
    if source[0] in "'\"":
        return source[1:-1]
    if source[0] == "[":
        return []
    return int(source)
