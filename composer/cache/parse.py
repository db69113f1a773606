"""Parsed recipe files remembered between builds, under ~/.cache/composer/parse.

Importing PyYAML and composing a recipe's node tree with marks is a tenth of a small
image's build, for plain data that is the same as last time unless the file's text
changed. So a parse is stored under a BLAKE2b of the file's name and text, the source
of the code that parses (composer/recipe/yamldoc.py and this file), Python's version
and the installed PyYAML (known by its file's identity, without importing it): the
data with the line and column of every key and value, exactly what the parse made.

Only parses that succeed are stored, and only data marshal can hold whole (a YAML
timestamp, say, is parsed every time); a file with a YAML error is parsed every time,
so its message is the same as without the cache. Everything read back is checked
(composer/cache/store.py checks the entry; its shape is checked here), and the schema
check and everything after it run on the stored parse as on a fresh one.
"""

from __future__ import annotations

import marshal
from typing import Any

from composer.cache.store import LibraryCache
from composer.errors import Location

FORMAT = 1
BUDGET = 8 << 20  # bytes of stored parses before the oldest go
ADD_LIMIT = 4 << 20
PARSING_CODE = ("recipe/yamldoc.py", "cache/parse.py")  # under composer/

KeyPath = tuple[str | int, ...]
Places = dict[KeyPath, Location]
Parsed = tuple[Any, Places, Places]  # data, where each value is, where each key is


class ParseCache(LibraryCache):
    kind = "parse"
    budget = BUDGET
    add_limit = ADD_LIMIT
    entry_format = FORMAT
    code = PARSING_CODE
    libraries = ("yaml",)

    def key(self, file: str, text: str) -> bytes:
        h = self.store.hasher(self.salt)
        h.update(file.encode("utf-8", "surrogatepass") + b"\0")
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()

    def get(self, key: bytes, file: str) -> Parsed | None:
        blob = self.store.get(key)
        if blob is None:
            return None
        try:
            stored = marshal.loads(blob)
            data, values, keys = stored
            return data, _places(values, file), _places(keys, file)
        except (EOFError, ValueError, TypeError):
            return None

    def put(self, key: bytes, file: str, data: Any, values: Places, keys: Places) -> None:
        if any(where.file != file for where in (*values.values(), *keys.values())):
            return  # every place is in the file itself; anything else is not stored
        try:
            blob = marshal.dumps((data, _flat(values), _flat(keys)))
        except ValueError:  # a value marshal can't hold whole (a date, say): not stored
            return
        self.store.put(key, blob)
        self.store.tidy()


def _flat(places: Places) -> tuple[tuple[KeyPath, int | None, int | None], ...]:
    return tuple((path, where.line, where.column) for path, where in places.items())


def _places(flat: object, file: str) -> Places:
    """Back from `_flat`; a TypeError for anything of another shape."""
    if not isinstance(flat, tuple):
        raise TypeError("not a tuple")
    out: Places = {}
    for item in flat:
        path, line, column = item
        if not (isinstance(path, tuple) and all(type(p) in (str, int) for p in path)
                and (line is None or type(line) is int)
                and (column is None or type(column) is int)):
            raise TypeError("not a place")
        out[path] = Location(file, line, column)
    return out
