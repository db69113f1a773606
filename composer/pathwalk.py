"""The kernel's path walk, over any tree that can say what one path holds.

A sysroot on disk (`resolve/sysroot.py`) and an image's entries (`read/imagecheck.py`)
are walked the same way: one component at a time, an absolute symlink target starts
again at the root, `..` at the root stays there, and more than 40 links in one walk is
a loop (Linux's MAXSYMLINKS). Only what a tree holds at a path differs, so that is
the one thing a caller gives (`look`); what to make of a missing component (an error,
or the rest of the path kept as written) stays with the caller too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

MAX_SYMLINKS = 40

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Held(Generic[T]):
    """What a tree holds at one path: the caller's own item, with a symlink's stored
    target (None for anything else) and whether a walk may go on through it."""

    item: T
    target: str | None = None
    is_dir: bool = False


@dataclass(frozen=True, slots=True)
class Walk(Generic[T]):
    """Where a walk ended. `stop` is "" when every component was found, else
    "missing", "not a directory" or "loop", with `at` the path it stopped at and
    `rest` the components not walked yet (in order)."""

    parts: tuple[str, ...]
    links: tuple[tuple[str, str], ...]  # (link's path, its target as stored)
    last: T | None  # the item the walk ended on; None where it ended at a `..` or root
    stop: str = ""
    at: str = ""
    rest: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return "/" + "/".join(self.parts)


def components(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def walk(path: str, look: Callable[[str], Held[T] | None]) -> Walk[T]:
    """Follow `path` through the tree `look` describes (None: nothing there)."""
    pending = components(path)[::-1]
    parts: list[str] = []
    links: list[tuple[str, str]] = []
    last: T | None = None
    while pending:
        name = pending.pop()
        if name == ".":
            continue
        if name == "..":
            if parts:
                parts.pop()
            last = None
            continue
        here = "/" + "/".join([*parts, name])
        held = look(here)
        if held is None or (pending and held.target is None and not held.is_dir):
            stop = "missing" if held is None else "not a directory"
            return Walk(tuple(parts), tuple(links), last, stop, here, (name, *pending[::-1]))
        if held.target is not None:
            if len(links) >= MAX_SYMLINKS:
                return Walk(tuple(parts), tuple(links), last, "loop", here)
            links.append((here, held.target))
            if held.target.startswith("/"):
                parts = []
            pending.extend(components(held.target)[::-1])
            continue
        parts.append(name)
        last = held.item
    return Walk(tuple(parts), tuple(links), last)


def kept_as_written(parts: tuple[str, ...], rest: tuple[str, ...]) -> str:
    """The path a walk would have reached had every remaining component been a plain
    directory: `..` and `.` applied, links not followed (there is nothing to follow)."""
    kept = list(parts)
    for name in rest:
        if name == "..":
            if kept:
                kept.pop()
        elif name != ".":
            kept.append(name)
    return "/" + "/".join(kept)
