"""Jinja2 templates and `{{ var }}` strings, rendered in Jinja's sandbox (composer/render/jinja.py).

Every render is Jinja's (imported by the first render: a recipe without templates or
expressions does not need it). A template file rendered before with the same text, included
files and variables is taken from the render cache (composer/cache/render.py), which
checks that whatever the render read is still the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from composer.errors import InputError
from composer.inputfile import UnreadableFile, read_regular_file


def render_file(path: Path, variables: Mapping[str, object], name: str | None = None,
                included: list[Path] | None = None) -> str:
    from composer.render import jinja  # Jinja2, imported by the renders that need it
    from composer.render.sandbox import MAX_RESULT

    try:
        text = read_regular_file(path, MAX_RESULT).decode("utf-8")
    except UnreadableFile as error:
        raise InputError(f"template {path} {error.message}") from None
    except UnicodeDecodeError:
        raise InputError(f"template {path} is not UTF-8 text") from None
    name = name or str(path)
    search = [path.parent]
    from composer.cache.render import RenderCache

    cache = RenderCache.open()
    key = None if cache is None else cache.key(name, text, search, variables)
    if cache is None or key is None:
        return jinja.render_text(text, variables, name, search, included)
    hit = cache.get(key, MAX_RESULT)
    if hit is not None:
        if included is not None:
            included += hit[1]
        return hit[0]
    probes: list[jinja.Probe] = []
    read: list[Path] = []
    rendered = jinja.render_text(text, variables, name, search, read, probes)
    if included is not None:
        included += read
    cache.put(key, rendered, probes)
    return rendered


def has_expression(text: str) -> bool:
    return "{{" in text or "{%" in text


def expand(text: str, variables: Mapping[str, object], name: str) -> str:
    """Expand `{{ var }}` in a recipe string; strings without expressions are kept as is."""
    if not has_expression(text):
        return text
    from composer.render import jinja

    return jinja.render_text(text, variables, name)
