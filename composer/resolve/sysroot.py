"""A host directory seen as the root of the target system, as after a chroot.

Paths are walked one component at a time, the way the kernel does it: an absolute
symlink target starts again at the sysroot's root, `..` at the root stays at the root,
and more than 40 links in one lookup is a loop (Linux's MAXSYMLINKS). The host path of
anything found therefore always lies inside the sysroot, whatever its links say: a
sysroot unpacked from packages cannot make the build read the host's own /lib.

Each lookup also records the links it followed, because the image must keep them: the
loader asks for /lib/ld64.so.1, not for the file that link happens to point to.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from composer.errors import InputError, ResolveError
from composer.inputfile import UnreadableFile, read_regular_file
from composer.pathwalk import MAX_SYMLINKS, Held, components, kept_as_written, walk

PATH_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin")
LD_SO_CONF = "/etc/ld.so.conf"
# What Debian's libc-bin puts in /etc/ld.so.conf; a sysroot unpacked without libc-bin
# (dpkg-deb -x of a few packages) still has the ld.so.conf.d files it refers to.
LD_SO_CONF_DEFAULT = "include /etc/ld.so.conf.d/*.conf"
MAX_LD_SO_CONFS = 1000  # files one ld.so.conf may pull in through includes
MAX_LD_SO_CONF_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Link:
    """A symlink met during a lookup: its own image path (under real directories only)
    and its target exactly as stored."""

    path: str
    target: str

    def __str__(self) -> str:
        return f"{self.path} -> {self.target}"


@dataclass(frozen=True, slots=True)
class Lookup:
    """Where an image path leads: the canonical path and the links on the way."""

    asked: str
    canonical: str
    links: tuple[Link, ...]
    found: bool
    mode: int = 0

    @property
    def is_file(self) -> bool:
        return self.found and stat.S_ISREG(self.mode)

    @property
    def is_dir(self) -> bool:
        return self.found and stat.S_ISDIR(self.mode)

    def chain(self) -> str:
        """The links followed, for messages: '/lib/ld64.so.1 -> s390x-linux-gnu/ld64.so.1'."""
        return ", ".join(str(link) for link in self.links)


class Sysroot:
    """Chroot-like, read-only view of a directory; every method takes image paths."""

    def __init__(self, root: Path | str) -> None:
        root = Path(root)
        if not root.is_dir():
            raise InputError(
                f"sysroot {root} is not a directory",
                hint="give --sysroot a directory holding the target's /bin, /lib, ...",
            )
        self.root = root.resolve()
        # Host paths are this prefix plus an image path: string joins, not Path objects,
        # since a lookup makes one per component and a plan makes thousands.
        self._prefix = "" if str(self.root) == "/" else str(self.root)

    def __repr__(self) -> str:
        return f"Sysroot({str(self.root)!r})"

    def lookup(self, path: str, *, strict: bool = True) -> Lookup:
        """Follow `path` through every symlink; with strict=False a missing component is
        reported in `found` instead of raised, and the rest of the path kept as written."""
        if not path.startswith("/"):
            raise InputError(f"{path!r} is not an absolute path inside the image")
        walked = walk(path, self._held)
        links = [Link(*link) for link in walked.links]
        if walked.stop == "loop":
            raise self._loop(path, links)
        if walked.stop and strict:
            if walked.stop == "missing":
                raise self._missing(path, walked.at, links)
            raise ResolveError(
                f"{path} does not exist in the sysroot {self.root}: "
                f"{walked.at} is a file, not a directory{_via(links)}"
            )
        if walked.stop:
            canonical = kept_as_written(walked.parts, walked.rest)
            return Lookup(path, canonical, tuple(links), False)
        mode = stat.S_IFDIR if walked.last is None else walked.last
        return Lookup(path, walked.path, tuple(links), True, mode)

    def _held(self, image: str) -> Held[int] | None:
        """What the sysroot holds at an image path, for the walk: its mode, and a
        symlink's target as stored."""
        try:
            info = os.lstat(self._prefix + image)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise ResolveError(
                f"cannot read {image} in the sysroot {self.root}: {error.strerror}"
            ) from None
        if stat.S_ISLNK(info.st_mode):
            return Held(info.st_mode, os.readlink(self._prefix + image))
        return Held(info.st_mode, None, stat.S_ISDIR(info.st_mode))

    def placement(self, path: str) -> Lookup:
        """Where a new file at `path` lands: its directory resolved (links recorded, a
        missing part kept as written), its own name left alone. Used for links the image
        adds itself, such as busybox applets, so that /bin/sh in a merged-/usr sysroot
        goes to /usr/bin/sh beside the /bin -> usr/bin link."""
        parent, _, name = path.rstrip("/").rpartition("/")
        if not name or name in (".", ".."):
            raise InputError(f"{path!r} does not name a file inside the image")
        where = self.lookup(parent or "/", strict=False)
        canonical = where.canonical.rstrip("/") + "/" + name
        return Lookup(path, canonical, where.links, where.found and where.is_dir)

    def resolve(self, path: str) -> str:
        """The canonical image path of what `path` finally names; it must exist."""
        return self.lookup(path).canonical

    def host(self, path: str) -> Path:
        """The host path of the file `path` names (resolved, so always inside the root)."""
        return self._host(self.lookup(path).canonical)

    def exists(self, path: str) -> bool:
        return self.lookup(path, strict=False).found

    def is_file(self, path: str) -> bool:
        return self.lookup(path, strict=False).is_file

    def is_dir(self, path: str) -> bool:
        return self.lookup(path, strict=False).is_dir

    def readlink_chain(self, path: str) -> list[tuple[str, str]]:
        """(link path, stored target) for every symlink the lookup of `path` follows."""
        return [(link.path, link.target) for link in self.lookup(path).links]

    def listdir(self, path: str) -> list[str]:
        """Names in a directory, sorted; empty if it is missing or not a directory."""
        found = self.lookup(path, strict=False)
        if not found.is_dir:
            return []
        return sorted(os.listdir(self._host(found.canonical)))

    def find_program(self, name: str, dirs: Iterable[str] = PATH_DIRS) -> str:
        """Search PATH like execvp: the first executable regular file called `name`.

        Returns the path in the PATH directory (not its link target), because that is
        the name the image should keep.
        """
        if not name or "/" in name:
            raise InputError(
                f"program name {name!r} must be a bare name or an absolute path",
                hint="write /usr/bin/NAME for a path, or just NAME to search PATH",
            )
        dirs = list(dirs)
        unusable = None
        for directory in dirs:
            candidate = f"{directory.rstrip('/')}/{name}"
            found = self.lookup(candidate, strict=False)
            if found.is_file and found.mode & 0o111:
                return candidate
            if found.is_file and unusable is None:
                unusable = (candidate, found.mode)
        if unusable is not None:  # "not found" would send the user looking elsewhere
            raise ResolveError(f"program {unusable[0]} in the sysroot {self.root} is not "
                               f"executable (mode {unusable[1] & 0o7777:04o})",
                               hint="fix its mode in the sysroot, or give its path")
        nearest = self.nearest(name, dirs)
        raise ResolveError(
            f"program {name!r} not found in the sysroot {self.root}; looked in "
            + ", ".join(dirs)
            + (f"; nearest names: {', '.join(nearest)}" if nearest else ""),
            hint="install the package that provides it into the sysroot, or give its path",
        )

    def nearest(self, name: str, dirs: Iterable[str]) -> list[str]:
        """Names in `dirs` that look like `name`, for 'did you mean' hints."""
        names = {entry for d in dirs for entry in self.listdir(d)}
        return difflib.get_close_matches(name, sorted(names), n=5, cutoff=0.6)

    def ld_so_conf_dirs(self) -> list[str]:
        """The library directories /etc/ld.so.conf names, includes expanded, in order.

        Walked with a stack of open files, not by recursion: files that include each
        other by glob nest as deep as there are files (up to MAX_LD_SO_CONFS), which
        Python's recursion limit would not survive."""
        dirs: list[str] = []
        walk = _ConfWalk()
        if self.exists(LD_SO_CONF):
            first = self._read_conf(LD_SO_CONF, walk)
            stack = [] if first is None else [first]
        else:
            stack = [self._conf_items(LD_SO_CONF_DEFAULT, "/etc", walk)]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif item[0] == "include":
                included = self._read_conf(item[1], walk)
                if included is not None:
                    stack.append(included)
            elif item[1] not in dirs:
                dirs.append(item[1])
        return dirs

    def glob(self, pattern: str) -> list[str]:
        """Image paths matching a shell pattern; wildcards do not match a leading dot."""
        matches = [""]
        for part in components(pattern):
            if not any(c in part for c in "*?["):
                matches = [f"{m}/{part}" for m in matches]
                continue
            matches = [
                f"{m}/{entry}"
                for m in matches
                for entry in self.listdir(m or "/")
                if fnmatch.fnmatchcase(entry, part)
                and (not entry.startswith(".") or part.startswith("."))
            ]
        return sorted(m for m in matches if m and self.exists(m))

    def _read_conf(self, path: str, walk: _ConfWalk) -> Iterator[tuple[str, str]] | None:
        """The items of one ld.so.conf file, or None for a file already read (or past
        the cap): `include /etc/*` may match ld.so.conf itself."""
        if path in walk.named or len(walk.read) >= MAX_LD_SO_CONFS:
            return None
        walk.named.add(path)
        found = self.lookup(path, strict=False)
        if not found.is_file or found.canonical in walk.read:
            return None
        walk.read.add(found.canonical)
        try:  # a regular file, capped: a glob can match a FIFO or a huge file
            raw = read_regular_file(self._host(found.canonical), MAX_LD_SO_CONF_BYTES)
        except UnreadableFile as error:
            raise ResolveError(f"{path} in the sysroot {self.root} (an ld.so.conf include) "
                               f"{error.message}") from None
        return self._conf_items(raw.decode(errors="replace"), path.rsplit("/", 1)[0] or "/",
                                walk)

    def _conf_items(self, text: str, here: str, walk: _ConfWalk) -> Iterator[tuple[str, str]]:
        """ldconfig's syntax, as ("dir", DIRECTORY) and ("include", FILE) items in order:
        one directory per line (or several, separated by blanks, commas or colons),
        `include PATTERN...` (relative to the including file), and `hwcap` lines, which
        name no directory. A pattern is expanded when its line is reached."""
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            if words[0] == "include":
                for pattern in words[1:]:
                    absolute = pattern if pattern.startswith("/") else f"{here}/{pattern}"
                    if absolute not in walk.globbed:
                        walk.globbed[absolute] = self.glob(absolute)
                    for conf in walk.globbed[absolute]:
                        yield "include", conf
            elif words[0] == "hwcap":
                continue
            else:
                for entry in line.replace(",", " ").replace(":", " ").split():
                    directory = entry.split("=", 1)[0].rstrip("/") or "/"
                    if directory.startswith("/"):
                        yield "dir", directory

    def _host(self, canonical: str) -> Path:
        return self.root.joinpath(*components(canonical))

    def _missing(self, path: str, image: str, links: list[Link]) -> ResolveError:
        parent = image.rsplit("/", 1)[0] or "/"
        name = image.rsplit("/", 1)[1]
        nearest = self.nearest(name, [parent]) if self.is_dir(parent) else []
        where = f"{path}" if image == path else f"{path} ({image} is missing)"
        return ResolveError(
            f"{where} does not exist in the sysroot {self.root}{_via(links)}"
            + (f"; nearest names in {parent}: {', '.join(nearest)}" if nearest else "")
        )

    def _loop(self, path: str, links: list[Link]) -> ResolveError:
        shown = ", ".join(str(link) for link in links[:6])
        return ResolveError(
            f"too many levels of symbolic links resolving {path} in the sysroot "
            f"{self.root} (more than {MAX_SYMLINKS}, a loop): {shown}, ...",
            hint="fix or remove the looping links in the sysroot",
        )


@dataclass
class _ConfWalk:
    """What one walk of ld.so.conf has met: the names included, the files read (by
    canonical path), and each pattern's matches (files including each other repeat them)."""

    named: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)
    globbed: dict[str, list[str]] = field(default_factory=dict)


def _via(links: list[Link]) -> str:
    if not links:
        return ""
    return " (via " + ", ".join(str(link) for link in links) + ")"
