"""An Entry is valid for its kind by construction, and an invalid one is the user's error.

Each kind holds what it needs and nothing else (a file: a source or inline data; a
symlink: a target; a char or block device: major and minor; a directory or FIFO: none
of them). Anything else raises InputError, which the CLI reports with exit 2, never as
an internal error; the message names the entry and, when known, where it came from.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from composer.archive.newc import write_archive
from composer.archive.reader import InitramfsReader
from composer.errors import InputError
from composer.manifest import DEFAULT_MODES, Entry, Kind, Manifest

VALID: list[tuple[Kind, dict[str, Any]]] = [
    (Kind.FILE, {"data": b"x"}),
    (Kind.FILE, {"source": Path("/etc/hostname")}),
    (Kind.DIR, {}),
    (Kind.SYMLINK, {"target": "busybox"}),
    (Kind.CHAR, {"major": 5, "minor": 1}),
    (Kind.BLOCK, {"major": 4095, "minor": (1 << 20) - 1}),
    (Kind.FIFO, {}),
]

INVALID: list[tuple[Kind, dict[str, Any], str]] = [
    (Kind.FILE, {}, "needs exactly one of a source file or inline data"),
    (Kind.FILE, {"data": b"", "source": Path("/x")}, "needs exactly one of"),
    (Kind.FILE, {"data": b"x", "target": "y"}, "only a symlink has a target"),
    (Kind.FILE, {"data": b"x", "major": 1}, "only a char or block device has device numbers"),
    (Kind.DIR, {"data": b"x"}, "only a file has a source file or inline data"),
    (Kind.DIR, {"source": Path("/x")}, "only a file has a source file or inline data"),
    (Kind.DIR, {"target": "x"}, "only a symlink has a target"),
    (Kind.SYMLINK, {}, "needs a target"),
    (Kind.SYMLINK, {"target": ""}, "needs a target"),
    (Kind.SYMLINK, {"target": "x", "data": b"x"}, "only a file has"),
    (Kind.CHAR, {"major": 4096, "minor": 0}, "major 4096 is out of range (0..4095)"),
    (Kind.BLOCK, {"major": 8, "minor": 1 << 20}, "minor 1048576 is out of range"),
    (Kind.CHAR, {"major": -1}, "major -1 is out of range"),
    (Kind.FIFO, {"major": 5, "minor": 1}, "only a char or block device has device numbers"),
    (Kind.DIR, {"mode": 0o10755}, "mode 10755 is not a permission mode"),
    (Kind.DIR, {"uid": 1 << 32}, "is out of range (0..4294967295)"),
    (Kind.DIR, {"gid": -1}, "owner 0:-1 is out of range"),
    (Kind.FILE, {"data": b"", "mtime": -1}, "mtime -1 is before 1970"),
]


@pytest.mark.parametrize(("kind", "fields"), VALID, ids=[k for k, _ in VALID])
def test_every_kind_can_be_built_with_what_it_holds(kind: Kind, fields: dict[str, Any]) -> None:
    entry = Entry("/x", kind, **fields)
    assert entry.kind is kind and entry.mode == DEFAULT_MODES[kind]


@pytest.mark.parametrize(("kind", "fields", "message"), INVALID,
                         ids=[f"{k}-{'-'.join(f) or 'bare'}" for k, f, _ in INVALID])
def test_an_invalid_entry_is_a_user_error(kind: Kind, fields: dict[str, Any],
                                           message: str) -> None:
    with pytest.raises(InputError) as caught:
        Entry("/x", kind, **fields)
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"{kind} entry /x: ")
    assert message in str(caught.value)


def test_the_error_says_where_the_entry_came_from() -> None:
    with pytest.raises(InputError, match=r"needs a target \(recipe.yaml:12:5\)$"):
        Entry("/bin/sh", Kind.SYMLINK, origin="recipe.yaml:12:5")


def test_a_relative_path_and_an_unknown_kind_are_refused() -> None:
    with pytest.raises(InputError, match="not absolute"):
        Entry("etc", Kind.DIR)
    with pytest.raises(InputError, match="'door' is not a kind of entry"):
        Entry("/run/d", "door")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="a socket is read from archives, never written"):
        Entry("/run/s", Kind.SOCKET)


def test_a_kind_given_as_its_name_becomes_the_kind() -> None:
    assert Entry("/etc", "dir").kind is Kind.DIR  # type: ignore[arg-type]


def test_moving_an_entry_under_a_link_keeps_it_valid() -> None:
    """The manifest places entries through directory symlinks with dataclasses.replace,
    which constructs (and so checks) the entry again."""
    manifest = Manifest([Entry("/lib", Kind.SYMLINK, target="usr/lib"),
                         Entry("/lib/x", Kind.CHAR, major=1, minor=3)])
    placed = {e.path: e for e in manifest.entries()}
    assert (placed["/usr/lib/x"].major, placed["/usr/lib/x"].minor) == (1, 3)


def test_what_is_built_is_what_the_archive_holds() -> None:
    out = io.BytesIO()
    write_archive([Entry("/dev", Kind.DIR), Entry("/dev/console", Kind.CHAR, major=5, minor=1),
                   Entry("/dev/sh", Kind.SYMLINK, target="/bin/sh"),
                   Entry("/dev/motd", Kind.FILE, data=b"hi", mode=0o600, uid=7, gid=8)], out)
    out.seek(0)
    records = {m.record.name: m.record for m in InitramfsReader(out)}
    assert records["dev/console"].kind == "char"
    assert (records["dev/console"].rdev_major, records["dev/console"].rdev_minor) == (5, 1)
    assert records["dev/motd"].mode & 0o7777 == 0o600
    assert (records["dev/motd"].uid, records["dev/motd"].gid) == (7, 8)
