"""composer.read.diff as functions: change lists from entry states, and a manifest against the
archive written from it (`compose diff` itself is tests/e2e/test_diff.py)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from composer.archive.newc import write_archive
from composer.archive.reader import InitramfsReader
from composer.cpio import KIND_BITS, Record
from composer.manifest import Entry, Kind
from composer.read.diff import EntryState, diff_archives, entry_states, states_from_entries


def member(path: str, kind: Kind, mode: int, size: int = 0, target: str | None = None
           ) -> Record:
    return Record(path, KIND_BITS[kind] | mode, 0, 0, 1, 0, size, target=target)


def test_diff_archives_is_a_pure_function_of_states() -> None:
    a = {"/x": EntryState(member("/x", Kind.FILE, 0o644, size=1), sha256="aa"),
         "/d": EntryState(member("/d", Kind.DIR, 0o755))}
    b = {"/x": EntryState(member("/x", Kind.SYMLINK, 0o777, size=1, target="y")),
         "/e": EntryState(member("/e", Kind.DIR, 0o700))}
    changes = diff_archives(a, b)
    assert [(c.path, c.status) for c in changes] == [
        ("/d", "removed"), ("/e", "added"), ("/x", "changed")]
    assert [f.field for f in changes[2].changes] == ["type", "mode", "size", "sha256", "target"]
    assert diff_archives(a, a) == []


def test_a_manifest_compares_equal_to_the_archive_written_from_it(tmp_path: Path) -> None:
    """What a recipe-against-image diff will rest on."""
    source = tmp_path / "busybox"
    source.write_bytes(os.urandom(10_000))
    entries = [Entry("/bin", Kind.DIR), Entry("/bin/busybox", Kind.FILE, mode=0o755,
                                               source=source),
               Entry("/bin/sh", Kind.SYMLINK, target="busybox"),
               Entry("/dev", Kind.DIR), Entry("/dev/console", Kind.CHAR, major=5, minor=1),
               Entry("/etc", Kind.DIR), Entry("/etc/motd", Kind.FILE, data=b"hi", uid=7)]
    out = io.BytesIO()
    write_archive(entries, out)
    out.seek(0)
    from_archive = entry_states(InitramfsReader(out))
    assert diff_archives(states_from_entries(entries), from_archive) == []
    changed = states_from_entries([*entries[:-1], Entry("/etc/motd", Kind.FILE, data=b"ho")])
    [change] = diff_archives(changed, from_archive)
    assert change.path == "/etc/motd" and [f.field for f in change.changes] == ["uid", "sha256"]
