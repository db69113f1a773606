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

from composer.cpio import PATH_MAX, path_parts
from composer.cpio import Kind as Kind  # re-exported: the manifest speaks in kinds
from composer.errors import InputError, located
from composer.pathwalk import Held, walk

DEFAULT_MODES: dict[Kind, int] = {
    Kind.FILE: 0o644,
    Kind.DIR: 0o755,
    Kind.SYMLINK: 0o777,
    Kind.CHAR: 0o600,
    Kind.BLOCK: 0o600,
    Kind.FIFO: 0o644,
    Kind.SOCKET: 0o755,  # read from archives, never written (_problem refuses it)
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
    parts = path_parts(path)
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


# What each kind of entry holds besides path, mode and owner; anything else is refused,
# so an entry that exists is one the archive can hold and the kernel can unpack.
CONTENT_KINDS = frozenset({Kind.FILE})  # exactly one of source or data
DEVICE_KINDS = frozenset({Kind.CHAR, Kind.BLOCK})  # major and minor
MAX_ID = 0xFFFFFFFF  # uid and gid are 8 hex digits in a newc header
MAX_MODE = 0o7777  # permission bits; the kind supplies the file-type bits
# The kernel's dev_t splits 12 bits of major from 20 of minor (include/linux/kdev_t.h,
# MINORBITS); larger numbers would name another device once unpacked.
MAX_MAJOR = (1 << 12) - 1
MAX_MINOR = (1 << 20) - 1


@dataclass(frozen=True, slots=True)
class Entry:
    """One archive member, valid by construction for its kind.

    A file has exactly one of `source` (streamed at archive time) or `data` (held
    inline); a symlink has a `target`; a char or block device has `major` and `minor`;
    a directory or FIFO has none of these. Anything else raises InputError naming the
    entry and where it came from (`origin`), so a bad entry never reaches the writer.
    """

    path: str
    kind: Kind
    mode: int = -1  # -1: the kind's default (DEFAULT_MODES)
    uid: int = 0
    gid: int = 0
    mtime: int | None = None
    source: Path | None = None
    data: bytes | None = None
    target: str | None = None
    major: int = 0
    minor: int = 0
    origin: str = ""
    # Why a resolver put it here, outermost first: ("/sbin/kexec", "libz.so.1") for a
    # library, ("virtio_net", "net_failover", "failover") for a module, ("/bin/busybox",
    # "applet sh") for an applet link; () for what the recipe names itself.
    why: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        kind = self.kind
        if type(kind) is not Kind:
            kind = _kind(kind, self.path, self.origin)
            object.__setattr__(self, "kind", kind)
        mode = self.mode
        if mode < 0:
            object.__setattr__(self, "mode", DEFAULT_MODES[kind])
        # The writer's hot path builds thousands of files: their test comes first, in one
        # expression; every other case (and every error) is sorted out by _problem.
        if (kind is Kind.FILE and (self.source is None) is not (self.data is None)
                and self.target is None and not (self.major or self.minor)
                and mode <= MAX_MODE and self.path[:1] == "/"
                and 0 <= self.uid <= MAX_ID and 0 <= self.gid <= MAX_ID
                and (self.mtime is None or self.mtime >= 0)):
            return
        problem = _problem(self)
        if problem:
            raise located(InputError(f"{kind} entry {self.path}: {problem}"), self.origin,
                          "path")

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


def _kind(kind: object, path: str, origin: str) -> Kind:
    try:
        return Kind(str(kind))
    except ValueError:
        where = f" ({origin})" if origin else ""
        raise InputError(f"entry {path}: {kind!r} is not a kind of entry; kinds: "
                         f"{', '.join(Kind)}{where}") from None


def _problem(entry: Entry) -> str:
    """What makes `entry` impossible to archive, or "" (the common case, checked first)."""
    kind = entry.kind
    if kind is Kind.SOCKET:
        return "a socket is read from archives, never written"
    has_source, has_data = entry.source is not None, entry.data is not None
    if kind in CONTENT_KINDS:
        if has_source == has_data:
            return "needs exactly one of a source file or inline data"
    elif has_source or has_data:
        return "only a file has a source file or inline data"
    if kind is Kind.SYMLINK:
        if not entry.target:
            return "needs a target"
    elif entry.target is not None:
        return "only a symlink has a target"
    if kind in DEVICE_KINDS:
        if not 0 <= entry.major <= MAX_MAJOR:
            return f"major {entry.major} is out of range (0..{MAX_MAJOR})"
        if not 0 <= entry.minor <= MAX_MINOR:
            return f"minor {entry.minor} is out of range (0..{MAX_MINOR})"
    elif entry.major or entry.minor:
        return (f"only a char or block device has device numbers (major {entry.major}, "
                f"minor {entry.minor})")
    if not entry.path.startswith("/"):
        return "the path is not absolute inside the image"
    if entry.mode > MAX_MODE:
        return f"mode {entry.mode:o} is not a permission mode (0..{MAX_MODE:o} octal)"
    if not (0 <= entry.uid <= MAX_ID and 0 <= entry.gid <= MAX_ID):
        return f"owner {entry.uid}:{entry.gid} is out of range (0..{MAX_ID})"
    if entry.mtime is not None and entry.mtime < 0:  # later ones are clamped to the epoch
        return f"mtime {entry.mtime} is before 1970"
    return ""


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
        raise located(InputError(
            f"two entries want {entry.path} with different content: "
            f"{existing.describe()} and {entry.describe()}",
            hint="remove one of them or give them different destinations",
        ), entry.origin, "path")

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


def _follow_parents(path: str, links: dict[str, str]) -> str:
    """`path` with every directory symlink among its parents followed, inside the image
    (a parent that is no link counts as a directory: implied ones are not added yet)."""
    parent, _, name = path.rpartition("/")
    walked = walk(parent or "/", lambda here: Held(None, links.get(here), True))
    if walked.stop == "loop":
        raise InputError(f"{path}: too many levels of symbolic links in the image "
                         f"at {walked.at}")
    return f"{walked.path.rstrip('/')}/{name}"


def _check_parents(entries: dict[str, Entry]) -> None:
    for path, entry in entries.items():
        parent = posixpath.dirname(path)
        if parent == "/":
            continue
        holder = entries[parent]
        if holder.kind is not Kind.DIR:
            raise located(InputError(
                f"{entry.describe()} lies under {parent}, which is a {holder.kind}, "
                "not a directory",
                hint=f"put it under the directory {parent} points to"
                if holder.kind is Kind.SYMLINK
                else "",
            ), entry.origin, "path")
