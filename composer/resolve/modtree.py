"""The files of `/lib/modules/<release>`: which module files there are, and which
one stands for each module name.

A tree is listed without following symlinked directories (`build`, `source` lead out of
it); a symlinked module file (RHEL's weak-updates) is resolved inside the sysroot, never
on the host. Patterns select modules by their path under `kernel/` (see `glob_regex`).
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from composer.cache import index
from composer.errors import ResolveError
from composer.resolve.modfile import split_module_name
from composer.resolve.sysroot import Sysroot

MODULES_DIR = "/lib/modules"


@dataclass(frozen=True, slots=True)
class Module:
    """A kernel module file of the sysroot's tree."""

    name: str  # canonical: underscores
    relpath: str  # under /lib/modules/<release>, as modules.dep writes it
    host: str  # host path of the file (a str: thousands are listed, few are used)
    compression: str  # "", "xz", "zst" or "gz"

    @property
    def source(self) -> Path:
        return Path(self.host)

    @property
    def tree_path(self) -> str:
        """The path patterns match: under `kernel/`, without a compression suffix."""
        path = self.relpath.removeprefix("kernel/")
        return path[: path.rindex(".ko") + 3]


ScanRow = tuple[str, str, str, str, bool]  # relpath, host path, name, compression, link
DirIdentity = tuple[str, int, int, int, int]  # relpath, st_dev, st_ino, mtime_ns, ctime_ns


def scan_cached(directory: Path) -> list[ScanRow]:
    """`scan`, from the index cache while no directory of the tree has changed.

    A file added, removed or renamed changes its directory's mtime and ctime, so the
    listing is valid while every directory's identity is what it was: a stat of each
    (a few hundred) instead of reading them all. Only a tree whose directories had all
    settled (ctime over SETTLED seconds old) is stored, as for every answer of the cache.
    """
    listing = index.FileCache("tree", str(directory), index.code_version(__file__))
    stored = listing.get(TREE_KEY, TREE_IDENTITY)
    if (type(stored) is tuple and len(stored) == 2 and type(stored[1]) is list
            and _still(directory, stored[0])):
        rows: list[ScanRow] = stored[1]
        return rows
    rows, dirs = scan(directory)
    now = time.time()
    if all(now - d[4] / 1e9 > index.SETTLED for d in dirs):
        listing.put(TREE_KEY, TREE_IDENTITY, (tuple(dirs), rows))
        listing.save()
    return rows


# The listing is one answer about the whole tree, valid while `_still` finds every
# directory's identity unchanged: the entry's own key and identity are fixed.
TREE_KEY = "."
TREE_IDENTITY = (0, 0, 0, 0, 0)


def _still(directory: Path, dirs: object) -> bool:
    """Whether every directory of a stored listing is unchanged (and well-formed)."""
    if type(dirs) is not tuple or not dirs:
        return False
    base = str(directory)
    try:
        for identity in dirs:
            rel = identity[0]
            st = os.stat(f"{base}/{rel}" if rel else base, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode) or _identity(rel, st) != identity:
                return False
    except (OSError, TypeError, ValueError, IndexError, KeyError):
        return False
    return True


def _identity(rel: str, st: os.stat_result) -> DirIdentity:
    return (rel, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def scan(directory: Path) -> tuple[list[ScanRow], list[DirIdentity]]:
    """(relpath, host path, name, compression, is a symlink) of every module file below
    `directory`, and the identity of every directory listed. Symlinked directories
    (`build`, `source`) are not followed; a symlinked module file (RHEL's weak-updates)
    is listed with its own path, for the caller to resolve inside the sysroot, since
    the host would follow an absolute link out of it."""
    found = []
    stack = [""]
    base = str(directory)
    dirs = [_identity("", os.stat(base, follow_symlinks=False))]
    while stack:
        rel = stack.pop()
        with os.scandir(f"{base}/{rel}" if rel else base) as entries:
            for entry in entries:
                relpath = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(relpath)
                    dirs.append(_identity(relpath, entry.stat(follow_symlinks=False)))
                    continue
                if ".ko" not in entry.name:
                    continue  # most names in a tree: the suffix check is the slow part
                split = split_module_name(entry.name)
                if split is None:
                    continue
                link = entry.is_symlink()
                if link or entry.is_file():
                    found.append((relpath, entry.path, split[0], split[1], link))
    return sorted(found), dirs


def choose(
    files: list[tuple[str, str, str, str]], listed: Mapping[str, object] | None
) -> dict[str, Module]:
    """One file per module name: the one modules.dep lists, else one under `updates/`
    (depmod's default search order puts it first), else the first by path."""

    def rank(item: tuple[str, str, str, str]) -> tuple[int, int, str]:
        relpath = item[0]
        return (0 if listed is not None and relpath in listed else 1,
                0 if relpath.startswith("updates/") else 1, relpath)

    modules: dict[str, Module] = {}
    for relpath, source, name, compression in sorted(files, key=rank):
        modules.setdefault(name, Module(name, relpath, source, compression))
    return modules


def names_of(listed: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]] | None:
    """modules.dep's paths turned into module names."""
    if listed is None:
        return None

    def name(path: str) -> str | None:
        found = split_module_name(path.rsplit("/", 1)[-1])
        return found[0] if found else None

    return {
        module: tuple(n for dep in deps if (n := name(dep)))
        for path, deps in listed.items() if (module := name(path))
    }


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Shell-like globbing over a module's path under `kernel/`: `*` and `?` stay within
    one directory, `**` crosses directories (`drivers/net/**` is everything below
    drivers/net, `**/virtio*` any virtio module), `[...]` is a character class.
    A pattern naming a directory alone selects nothing: write `dir/**`. The `.ko`
    extension may be left out (`fs/*` and `fs/*.ko` agree)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def releases(sysroot: Sysroot) -> list[str]:
    base = MODULES_DIR
    return [n for n in sysroot.listdir(base) if sysroot.is_dir(f"{base}/{n}")]


def only_release(sysroot: Sysroot) -> str:
    found = releases(sysroot)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ResolveError(
            f"the sysroot {sysroot.root} has no kernel modules: {MODULES_DIR} "
            + ("has no release directory" if sysroot.is_dir(MODULES_DIR) else "does not exist"),
            hint="install the kernel's modules into the sysroot, or list no modules",
        )
    raise ResolveError(
        f"the sysroot {sysroot.root} has modules for {len(found)} kernel releases "
        f"({', '.join(found)}) and nothing says which one to use",
        hint="name the release in the recipe (kernel release) or use the matching kernel image",
    )


def in_sysroot(sysroot: Sysroot, image: str) -> str | None:
    """The host file a symlinked module leads to inside the sysroot; None for a dangling
    link, which depmod would skip as well."""
    found = sysroot.lookup(image, strict=False)
    return str(sysroot.host(found.canonical)) if found.is_file else None
