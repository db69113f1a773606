"""Recipe data jsonschema found valid, remembered between builds, under
~/.cache/composer/verdict.

Importing jsonschema and building its validator is a good part of a small build's
start-up, for a verdict that is the same as last time unless the data, the schema or
jsonschema changed. So data that validated without a problem is remembered under a
BLAKE2b of the data (the `repr` of the parsed document: plain data, so its repr says
every value and its type, `True` apart from `1`), the schema's text, the code
that validates (composer/recipe/schema.py and this file), Python's version and
jsonschema's identity. Only "valid" is stored: data with problems is validated every
time, so its messages are always jsonschema's, worded as ever.
"""

from __future__ import annotations

from typing import Any

from composer.cache.store import LibraryCache

VALID = b"valid"


class VerdictCache(LibraryCache):
    kind = "verdict"
    budget = 1 << 20
    add_limit = 64 << 10
    entry_format = 1
    code = ("recipe/schema.py", "cache/verdict.py")
    libraries = ("jsonschema",)

    def key(self, schema: bytes, data: Any) -> bytes:
        """The key of `data` under `schema`. (Not marshal's bytes: they depend on how
        often each object is referenced, which validating changes.)"""
        h = self.store.hasher(self.salt)
        h.update(len(schema).to_bytes(8, "little") + schema)
        h.update(repr(data).encode("utf-8", "surrogatepass"))
        return h.digest()

    def is_valid(self, key: bytes) -> bool:
        return self.store.get(key) == VALID

    def remember_valid(self, key: bytes) -> None:
        self.store.put(key, VALID)
        self.store.tidy()
