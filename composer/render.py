"""Jinja2 templates and `{{ var }}` strings, rendered in a sandbox (composer/templating.py).

Most renders of a build don't need Jinja itself, whose import with the sandbox and the
compiling of a template are a fifth of a small image's build: a recipe string that is
one `{{ name }}` of a plain variable is that variable's text, a template that only
substitutes variables is rendered by composer/plaintemplate.py, and a template
rendered before with the same text, included files and variables is in the render
cache (composer/rendercache.py). Everything else, and every error, goes through Jinja.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from composer import plaintemplate
from composer.errors import InputError
from composer.inputfile import UnreadableFile, read_regular_file

MAX_RESULT = plaintemplate.MAX_RESULT
# `{{ name }}` alone. Jinja reads true/false/none (any case) as constants, not names.
_LONE_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
_LONE_LIMIT = 1 << 20  # longer values go through the sandbox, which charges for them


def render_text(text: str, variables: Mapping[str, object], name: str,
                search: list[Path] | None = None, included: list[Path] | None = None) -> str:
    """Render template text; `name` is what errors call it (a path, or a recipe key);
    the files `{% include %}` read are added to `included`."""
    plain = plaintemplate.render(text, variables)
    if plain is not None:
        return plain
    from composer import templating  # Jinja2: only for renders that need it

    return templating.render_text(text, variables, name, search, included)


def render_file(path: Path, variables: Mapping[str, object], name: str | None = None,
                included: list[Path] | None = None) -> str:
    try:
        text = read_regular_file(path, MAX_RESULT).decode("utf-8")
    except UnreadableFile as error:
        raise InputError(f"template {path} {error.message}") from None
    except UnicodeDecodeError:
        raise InputError(f"template {path} is not UTF-8 text") from None
    name = name or str(path)
    plain = plaintemplate.render(text, variables)
    if plain is not None:  # no include, nothing to remember
        return plain
    search = [path.parent]
    from composer.rendercache import RenderCache

    cache = RenderCache.open()
    key = None if cache is None else cache.key(name, text, search, variables)
    if cache is None or key is None:
        from composer import templating  # plaintemplate declined it above: Jinja's

        return templating.render_text(text, variables, name, search, included)
    hit = cache.get(key, MAX_RESULT)
    if hit is not None:
        if included is not None:
            included += hit[1]
        return hit[0]
    from composer import templating

    probes: list[templating.Probe] = []
    read: list[Path] = []
    rendered = templating.render_text(text, variables, name, search, read, probes)
    if included is not None:
        included += read
    cache.put(key, rendered, probes)
    return rendered


def has_expression(text: str) -> bool:
    return "{{" in text or "{%" in text


def _lone_variable(text: str, variables: Mapping[str, object]) -> str | None:
    """The text Jinja would make of `{{ name }}` alone, for a plain scalar variable
    (str() of it, as Jinja prints); None when Jinja must decide (anything else, an
    undefined name, text that is not UTF-8 and so an error)."""
    match = _LONE_NAME.fullmatch(text)
    if match is None or match.group(1) in _CONSTANTS:
        return None
    value = variables.get(match.group(1))
    if type(value) not in (str, int, float, bool):
        return None
    out = str(value)
    if len(out) > _LONE_LIMIT:
        return None
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return out


def expand(text: str, variables: Mapping[str, object], name: str) -> str:
    """Expand `{{ var }}` in a recipe string; strings without expressions are kept as is."""
    if not has_expression(text):
        return text
    lone = _lone_variable(text, variables)
    return lone if lone is not None else render_text(text, variables, name)
