"""The base of the pipeline's frozen dataclasses: equality, hash and repr, written once.

On Python 3.11 `@dataclass` writes each method it adds as source text and compiles it,
one `exec` per method per class, at import. A frozen dataclass gets six (`__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`); a build imports some
forty of them, and compiling those methods was a tenth of a build's start-up. The
three that read the fields the same way for every class live here instead, so a
value class is declared

    @dataclass(frozen=True, eq=False, repr=False)
    class Entry(Value): ...

and behaves as `@dataclass(frozen=True)` would: equal when of the same class with
equal fields, hashed from its fields, shown as `Entry(path='/init', ...)`. Classes
with a field left out of comparison or repr (`field(compare=False)`) keep dataclass's
own methods.
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Any

_KEYS: dict[type, Any] = {}
_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _key(cls: type) -> Any:
    """A function from a value to its fields as one tuple (attrgetter: no Python loop)."""
    key = _KEYS.get(cls)
    if key is None:
        names = _names(cls)
        if len(names) > 1:
            key = attrgetter(*names)
        elif names:  # attrgetter of one name gives the value, not a 1-tuple
            only = attrgetter(names[0])
            key = lambda value: (only(value),)  # noqa: E731
        else:
            key = lambda value: ()  # noqa: E731
        _KEYS[cls] = key
    return key


class Value:
    """Equality, hash and repr from the dataclass fields, as `@dataclass(frozen=True)`."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        key = _key(self.__class__)
        return bool(key(self) == key(other))

    def __hash__(self) -> int:
        return hash(_key(self.__class__)(self))

    def __repr__(self) -> str:
        cls = self.__class__
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _names(cls))
        return f"{cls.__qualname__}({shown})"
