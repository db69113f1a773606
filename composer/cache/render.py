"""Rendered templates remembered between builds, under ~/.cache/composer/render.

Importing Jinja2 with the sandbox and compiling a template is a fifth of a small
image's build, for a text that is the same as last time unless the template, a file it
includes or a variable changed. So a render is stored under a BLAKE2b of all it was
computed from: the template's name and text, the variables (their types too: 1, True
and "1" are different keys), the source of the code that renders (composer/render/jinja.py,
composer/render/sandbox.py), Python's version and the installed Jinja2 and MarkupSafe (each
known by its file's identity, without importing it). What a template reads at render
time (`{% include %}`, `{% import %}`, `{% extends %}`) is not known before rendering:
each stored render lists every file it looked for with a hash of its bytes, or that it
was absent, and is used only while every one of them is still so.

Only renders that succeed are stored; a template with an error is rendered by Jinja every
time, so its message is the same as without the cache. `COMPOSER_CACHE=off` turns it off.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from composer.cache.store import LibraryCache, digest
from composer.inputfile import UnreadableFile, read_regular_file

FORMAT = 1
BUDGET = 4 << 20  # bytes of stored renders before the oldest go
ADD_LIMIT = 4 << 20
RENDERING_CODE = ("render/jinja.py", "render/sandbox.py", "cache/render.py")  # under composer/
LIBRARIES = ("jinja2", "markupsafe")
PLAIN = (str, int, float, bool, type(None))

Probe = tuple[str, bytes | None]  # as composer/render/jinja.py records them


def _plain(value: object, depth: int = 0) -> bool:
    """Whether `repr(value)` says everything a template can see of it."""
    if type(value) in PLAIN:
        return True
    if depth > 16:
        return False
    if type(value) in (list, tuple):
        assert isinstance(value, list | tuple)
        return all(_plain(item, depth + 1) for item in value)
    if type(value) is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    return False


class RenderCache(LibraryCache):
    kind = "render"
    budget = BUDGET
    add_limit = ADD_LIMIT
    entry_format = FORMAT
    code = RENDERING_CODE
    libraries = LIBRARIES

    def key(self, name: str, text: str, search: Sequence[Path],
            variables: Mapping[str, object]) -> bytes | None:
        """The key of this render; None when a variable is not plain data, whose text
        would not tell everything about it."""
        values = sorted(variables.items())
        if not _plain(values):
            return None
        h = self.store.hasher(self.salt)
        h.update(repr((name, [str(p) for p in search], values)).encode(
            "utf-8", "surrogatepass"))
        h.update(b"\0")
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()

    def get(self, key: bytes, limit: int) -> tuple[str, list[Path]] | None:
        """The stored text and the files it included, if every file it looked for is
        still as it was (an included file over `limit` bytes is not as it was: the
        render would have refused it)."""
        blob = self.store.get(key)
        if blob is None:
            return None
        try:
            stored = marshal.loads(blob)
        except (EOFError, ValueError, TypeError):
            return None
        if not (isinstance(stored, tuple) and len(stored) == 2 and isinstance(stored[0], str)
                and isinstance(stored[1], tuple)):
            return None
        text, probes = stored
        included: list[Path] = []
        for probe in probes:
            if not (isinstance(probe, tuple) and len(probe) == 2 and isinstance(probe[0], str)
                    and (probe[1] is None or isinstance(probe[1], bytes))):
                return None
            path, held = probe
            if held is None:
                if os.path.isfile(path):
                    return None
                continue
            try:
                raw = read_regular_file(Path(path), limit)
            except UnreadableFile:
                return None
            if digest(raw) != held:
                return None
            included.append(Path(path))
        return text, included

    def put(self, key: bytes, text: str, probes: Sequence[Probe]) -> None:
        stored = (text, tuple((path, None if raw is None else digest(raw))
                              for path, raw in probes))
        self.store.put(key, marshal.dumps(stored))
        self.store.tidy()
