"""busybox applets: links to one binary, listed from the binary itself without running it.

`busybox --list` only runs on the target architecture, but the list is data inside the
binary. busybox's build (applets/applet_tables.c) generates, into .rodata:

- `applet_names`: every applet name, sorted by strcmp (the lookup is a binary search),
  each NUL-terminated, the whole string ending in one more NUL;
- `applet_install_loc` (when FEATURE_INSTALLER is on, as in Debian): one 4-bit install
  location per applet, two per byte, the even-numbered applet in the low nibble; the
  value indexes busybox's install_dir table: / /bin /sbin /usr/bin /usr/sbin.

Both are found by their shape: the names as the longest strictly sorted run of
NUL-separated printable words, the locations as the one window of ceil(N/2) bytes whose
nibbles are all 0..4 with the fewest 0s (the root: only linuxrc goes there), nearest
to the names. On
Debian 12's busybox-static for s390x this gives the same 269 `dir/name` lines that
`busybox --list-full` prints on amd64 for the same version. Without a location table
every applet goes to DEFAULT_DIR.
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from composer.cache.index import FileCache, code_version, identity, is_strings
from composer.errors import ResolveError
from composer.manifest import Entry, Kind
from composer.resolve.sysroot import Sysroot

INSTALL_DIRS = ("/", "/bin", "/sbin", "/usr/bin", "/usr/sbin")
DEFAULT_DIR = "/bin"
Applets = Sequence[str] | Literal["all"]

_NAME_RUN = re.compile(rb"(?:[\x21-\x7e]{1,64}\x00){2,}\x00")
# Real builds have dozens to hundreds of applets: look for 8 or more first (twice as
# fast on a 2 MB binary), and only then for the shortest possible table.
_LONG_NAME_RUN = re.compile(rb"[\x21-\x7e]{1,64}\x00(?:[\x21-\x7e]{1,64}\x00){7,}\x00")
# Bytes of two valid locations; 0x00 (two root applets side by side) cannot occur, and
# leaving it out skips the long zero runs of a binary at once.
_LOC_BYTES = bytes(high << 4 | low for high in range(5) for low in range(5) if high or low)
MAX_ROOT_APPLETS = 2
_LOC_MASK = bytes(1 if b in _LOC_BYTES else 0 for b in range(256))


@dataclass(frozen=True, slots=True)
class AppletTable:
    """The applets a busybox binary carries and where its installer would link each."""

    names: tuple[str, ...]
    dirs: tuple[str, ...] | None

    def dir_of(self, name: str) -> str:
        if self.dirs is None:
            return DEFAULT_DIR
        return self.dirs[self.names.index(name)]

    @classmethod
    def from_tuple(cls, value: object) -> AppletTable | None:
        """The table stored as (names, dirs), or None for anything else."""
        if not isinstance(value, tuple) or len(value) != 2:
            return None
        names, dirs = value
        if is_strings(names) and (dirs is None or (is_strings(dirs) and len(dirs) == len(names))):
            return cls(names, dirs)
        return None

    def list_full(self) -> list[str]:
        """The lines `busybox --list-full` prints (paths without the leading slash)."""
        return [f"{self.dir_of(n).strip('/')}/{n}".lstrip("/") for n in self.names]


def read_applet_table(path: Path, *, name: str) -> AppletTable:
    """The applet table of the busybox binary at host `path` (`name` for messages),
    from the cache while the file is the one read before (see composer.cache.index):
    finding it reads the whole binary with a regular expression."""
    cache = FileCache("applets", str(path.parent), code_version(__file__))
    try:
        key = identity(os.stat(path))
    except OSError:
        return _read_applet_table(path, name=name)  # which says what is wrong
    table = AppletTable.from_tuple(cache.get(str(path), key))
    if table is None:
        table = _read_applet_table(path, name=name)
        cache.put(str(path), key, (table.names, table.dirs))
        cache.save()
    return table


def _read_applet_table(path: Path, *, name: str) -> AppletTable:
    data = path.read_bytes()
    found = _find_names(data)
    if found is None or b"BusyBox v" not in data:
        raise ResolveError(
            f"{name} does not look like busybox: no applet name table found in it",
            hint="list the applets explicitly, or point the request at a busybox binary",
        )
    offset, names = found
    return AppletTable(tuple(names), _find_install_dirs(data, len(names), offset))


def _find_names(data: bytes) -> tuple[int, list[str]] | None:
    return _longest_sorted_run(data, _LONG_NAME_RUN) or _longest_sorted_run(data, _NAME_RUN)


def _longest_sorted_run(data: bytes, pattern: re.Pattern[bytes]
                        ) -> tuple[int, list[str]] | None:
    best: tuple[int, list[bytes]] | None = None
    for match in pattern.finditer(data):
        words = match.group(0)[:-2].split(b"\0")
        if best is not None and len(words) <= len(best[1]):
            continue
        if all(a < b for a, b in itertools.pairwise(words)):
            best = (match.start(), words)
    if best is None:
        return None
    return best[0], [w.decode("ascii") for w in best[1]]


def _find_install_dirs(data: bytes, count: int, names_at: int) -> tuple[str, ...] | None:
    size = (count + 1) // 2
    candidates: list[tuple[int, int, tuple[int, ...]]] = []
    for run_start, run_end in _runs(data.translate(_LOC_MASK), size):
        for start in range(run_start, run_end - size + 1):
            locs = _nibbles(data[start : start + size], count)
            if locs is not None:
                candidates.append((locs.count(0), abs(start - names_at), locs))
    if not candidates:
        return None
    # A window shifted off the real table still has small nibbles, but it puts applets
    # at the root (location 0), which busybox reserves for linuxrc alone.
    _, _, locs = min(candidates)
    return tuple(INSTALL_DIRS[loc] for loc in locs)


def _runs(mask: bytes, size: int) -> Iterator[tuple[int, int]]:
    """Spans of at least `size` ones in a 0/1 mask (bytes.find is fast; a regex is not)."""
    start = mask.find(b"\1" * size)
    while start >= 0:
        end = mask.find(b"\0", start)
        end = len(mask) if end < 0 else end
        yield start, end
        start = mask.find(b"\1" * size, end)


def _nibbles(window: bytes, count: int) -> tuple[int, ...] | None:
    if count % 2 and window[-1] >> 4:
        return None  # the unused high nibble of an odd-length table is zero
    locs = tuple((window[i // 2] >> (4 * (i % 2))) & 0xF for i in range(count))
    if locs.count(0) > MAX_ROOT_APPLETS or len(set(locs)) < 2:
        return None
    return locs


def applet_entries(
    sysroot: Sysroot,
    busybox: str,
    applets: Applets,
    table: AppletTable | None,
    *,
    origin: str,
) -> list[Entry]:
    """Symlinks `dir/applet -> busybox` for the applets asked for.

    `all` means every applet busybox would install except those it puts in the root
    directory (linuxrc only matters for an old-style initrd). A named applet that the
    binary does not carry is an error, since the link would only print "applet not found".
    Each link's directory is resolved through the sysroot so that a merged-/usr sysroot
    gets /usr/bin/sh plus its /bin -> usr/bin link rather than a file under a symlink.
    """
    if applets == "all":
        if table is None:
            raise ResolveError(f"{busybox}: 'applets: all' needs the applet table of the binary")
        chosen = [n for n in table.names if table.dir_of(n) != "/"]
    else:
        chosen = list(dict.fromkeys(applets))
        if table is not None:
            _check_known(busybox, chosen, table)
    entries: list[Entry] = []
    for applet in chosen:
        if not applet or "/" in applet or applet in (".", ".."):
            raise ResolveError(f"{busybox}: {applet!r} is not an applet name")
        directory = table.dir_of(applet) if table is not None else DEFAULT_DIR
        place = sysroot.placement(f"{directory.rstrip('/')}/{applet}")
        why = (busybox, f"applet {applet}")
        entries.extend(
            Entry(link.path, Kind.SYMLINK, target=link.target, origin=origin, why=why)
            for link in place.links
        )
        if place.canonical != busybox:
            entries.append(Entry(place.canonical, Kind.SYMLINK, target=busybox, origin=origin,
                                 why=why))
    return entries


def _check_known(busybox: str, applets: list[str], table: AppletTable) -> None:
    unknown = [a for a in applets if a not in table.names]
    if not unknown:
        return
    hints = []
    for name in unknown:
        near = difflib.get_close_matches(name, table.names, n=3, cutoff=0.6)
        hints.append(f"{name} (nearest: {', '.join(near)})" if near else name)
    raise ResolveError(
        f"{busybox} has no applet {', '.join(hints)}; it has {len(table.names)} applets",
        hint="drop them from 'applets', or use a busybox build that has them",
    )
