"""The manifest: what goes into the image, entry by entry.

Every stage before the archive produces entries; the archive stage only reads them.
An entry names its content (a host file to stream, or bytes) instead of holding a
copy, so a build never stages files on disk and never needs root: ownership and
device nodes exist only as numbers that end up in the archive headers.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from composer.cpio import PATH_MAX
from composer.cpio import Kind as Kind  # re-exported: the manifest speaks in kinds
from composer.errors import InputError

DEFAULT_MODES: dict[Kind, int] = {
    Kind.FILE: 0o644,
    Kind.DIR: 0o755,
    Kind.SYMLINK: 0o777,
    Kind.CHAR: 0o600,
    Kind.BLOCK: 0o600,
    Kind.FIFO: 0o644,
}

def mode_or_default(kind: Kind, mode: int | None) -> int:
    """The mode a recipe gave, or the kind's default (the one table above)."""
    return DEFAULT_MODES[kind] if mode is None else mode


IMPLIED = "implied parent directory"


def _name_bytes(path: str) -> bytes:
    """A path as the bytes the archive holds: names read from a sysroot that are not
    UTF-8 keep their bytes (os.listdir decodes them with surrogateescape)."""
    return path.encode(errors="surrogateescape")




def image_path(path: str, *, what: str = "destination") -> str:
    """Normalise an absolute path inside the image, refusing anything that could escape it.

    `..` is refused rather than resolved: in a recipe it is almost always a mistake, and
    in an archive it is how extraction attacks start.
    """
    if not isinstance(path, str) or not path:
        raise InputError(f"{what} is empty")
    if "\0" in path:
        raise InputError(f"{what} {path!r} contains a NUL byte")
    if not path.startswith("/"):
        raise InputError(
            f"{what} {path!r} is not an absolute path inside the image",
            hint=f"write it as '/{path.lstrip('./')}'",
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"{what} {path!r} contains '..'; image paths must not climb out")
    if not parts:
        raise InputError(f"{what} {path!r} names the image root itself")
    normal = "/" + "/".join(parts)
    if len(normal.encode(errors="surrogateescape")) > PATH_MAX:  # the archive name + NUL
        raise InputError(f"{what} {normal[:40]}... is {len(normal.encode(errors='replace')):,} "
                         f"bytes long; the kernel skips archive names over PATH_MAX "
                         f"({PATH_MAX} bytes)")
    return normal


@dataclass(frozen=True, slots=True)
class Entry:
    """One archive member. `source` is streamed at archive time; `data` is held inline."""

    path: str
    kind: Kind
    mode: int = -1
    uid: int = 0
    gid: int = 0
    mtime: int | None = None
    source: Path | None = None
    data: bytes | None = None
    target: str | None = None
    major: int = 0
    minor: int = 0
    origin: str = ""

    def __post_init__(self) -> None:
        if self.mode < 0:
            object.__setattr__(self, "mode", DEFAULT_MODES[self.kind])
        if self.kind is Kind.FILE and (self.source is None) == (self.data is None):
            raise ValueError(f"file entry {self.path} needs exactly one of source or data")
        if self.kind is Kind.SYMLINK and not self.target:
            raise ValueError(f"symlink entry {self.path} needs a target")

    @property
    def implied(self) -> bool:
        return self.origin == IMPLIED

    def size(self) -> int:
        """Bytes of content the archive will hold for this entry."""
        if self.kind is Kind.FILE:
            if self.data is not None:
                return len(self.data)
            assert self.source is not None
            return os.stat(self.source).st_size
        if self.kind is Kind.SYMLINK:
            assert self.target is not None
            return len(self.target.encode(errors="surrogateescape"))
        return 0

    def same_content(self, other: Entry) -> bool:
        """Two requests for one path agree if they would produce the same archive member."""
        if (self.kind, self.mode, self.uid, self.gid, self.target, self.major, self.minor) != (
            other.kind, other.mode, other.uid, other.gid, other.target, other.major, other.minor
        ):
            return False
        if self.kind is not Kind.FILE:
            return True
        if (self.source is not None and other.source is not None
                and os.path.realpath(self.source) == os.path.realpath(other.source)):
            return True
        return read_content(self) == read_content(other)

    def describe(self) -> str:
        return f"{self.path} ({self.kind}{', from ' + self.origin if self.origin else ''})"


def read_content(entry: Entry) -> bytes:
    """The whole content of a small entry (templates, scripts); the archive streams instead."""
    if entry.data is not None:
        return entry.data
    if entry.source is not None:
        return entry.source.read_bytes()
    if entry.target is not None:
        return entry.target.encode(errors="surrogateescape")
    return b""


class Manifest:
    """The set of entries, keyed by image path, with conflicts caught as they are added."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self.add(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def get(self, path: str) -> Entry | None:
        return self._entries.get(path)

    def add(self, entry: Entry) -> None:
        """Add an entry; the same content twice is fine, different content is an error."""
        existing = self._entries.get(entry.path)
        if existing is None or existing.implied:
            self._entries[entry.path] = entry
            return
        if entry.implied and existing.kind is Kind.DIR:
            return
        if existing.same_content(entry):
            return
        raise InputError(
            f"two entries want {entry.path} with different content: "
            f"{existing.describe()} and {entry.describe()}",
            hint="remove one of them or give them different destinations",
        )

    def replace(self, entry: Entry) -> None:
        """Overwrite an entry on purpose (a later recipe layer wins)."""
        self._entries[entry.path] = entry

    def declared(self) -> list[Entry]:
        """The entries as added: no implied parents, no sorting (for checks over them)."""
        return list(self._entries.values())

    def entries(self) -> list[Entry]:
        """All entries sorted by path, with every missing parent directory implied.

        Sorting byte-wise puts a parent before its children, which is what the kernel's
        unpacker needs, and makes the archive independent of the order of the recipe.
        """
        complete = self._through_links()
        for path in list(complete):
            parent = posixpath.dirname(path)
            while parent != "/" and parent not in complete:
                complete[parent] = Entry(parent, Kind.DIR, origin=IMPLIED)
                parent = posixpath.dirname(parent)
        _check_parents(complete)
        return [complete[p] for p in sorted(complete, key=_name_bytes)]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    def _through_links(self) -> dict[str, Entry]:
        """Entries placed where the kernel's unpacker would put them.

        An entry under a directory symlink of the image (/lib -> usr/lib in a merged-/usr
        tree, say /lib/modules/...) lands where the link leads when the kernel unpacks
        it; placing it there in the archive too gives the same tree without a member
        whose parent is a symlink, and catches two entries that meet there.
        """
        links = {p: e.target for p, e in self._entries.items()
                 if e.kind is Kind.SYMLINK and e.target}
        if not links:
            return dict(self._entries)
        placed = Manifest()
        for entry in self._entries.values():
            path = _follow_parents(entry.path, links)
            placed.add(entry if path == entry.path else replace(entry, path=path))
        return placed._entries


MAX_LINK_HOPS = 40  # as the kernel's path walk (MAXSYMLINKS)


def _follow_parents(path: str, links: dict[str, str]) -> str:
    """`path` with every directory symlink among its parents followed, inside the image."""
    parts = path.strip("/").split("/")
    here = ""
    for part in parts[:-1]:
        here = f"{here}/{part}"
        hops = 0
        while here in links:
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise InputError(f"{path}: too many levels of symbolic links in the image "
                                 f"at {here}")
            target = links[here]
            base = "/" if target.startswith("/") else posixpath.dirname(here)
            # normpath of an absolute path keeps '..' at the root, like a chroot
            here = posixpath.normpath(posixpath.join(base, target)).rstrip("/")
    return f"{here}/{parts[-1]}"


def _check_parents(entries: dict[str, Entry]) -> None:
    for path, entry in entries.items():
        parent = posixpath.dirname(path)
        if parent == "/":
            continue
        holder = entries[parent]
        if holder.kind is not Kind.DIR:
            raise InputError(
                f"{entry.describe()} lies under {parent}, which is a {holder.kind}, "
                "not a directory",
                hint=f"put it under the directory {parent} points to"
                if holder.kind is Kind.SYMLINK
                else "",
            )
