"""The manifest: conflicts, implied parents, and entries under directory symlinks."""

from __future__ import annotations

import pytest

from composer.errors import InputError
from composer.manifest import Entry, Kind, Manifest, image_path


def paths(manifest: Manifest) -> dict[str, str]:
    return {e.path: e.kind.value for e in manifest.entries()}


def test_parents_are_implied_and_sorted_first() -> None:
    listing = list(paths(Manifest([Entry("/a/b/c", Kind.FILE, data=b"x")])).items())
    assert listing == [("/a", "dir"), ("/a/b", "dir"), ("/a/b/c", "file")]


def test_same_content_twice_is_fine_different_content_is_an_error() -> None:
    manifest = Manifest([Entry("/x", Kind.FILE, data=b"1", origin="one")])
    manifest.add(Entry("/x", Kind.FILE, data=b"1", origin="two"))
    with pytest.raises(InputError, match="two entries want /x"):
        manifest.add(Entry("/x", Kind.FILE, data=b"2", origin="three"))


def test_entries_under_a_merged_usr_link_land_where_it_leads() -> None:
    manifest = Manifest([
        Entry("/lib", Kind.SYMLINK, target="usr/lib"),
        Entry("/lib/modules/6.1/kernel/x.ko", Kind.FILE, data=b"ko"),
        Entry("/usr/lib/s390x-linux-gnu/libc.so.6", Kind.FILE, data=b"libc"),
        Entry("/bin", Kind.SYMLINK, target="/usr/bin"),
        Entry("/bin/sh", Kind.SYMLINK, target="busybox"),
    ])
    found = paths(manifest)
    assert found["/lib"] == "symlink" and found["/bin"] == "symlink"
    assert found["/usr/lib/modules/6.1/kernel/x.ko"] == "file"
    assert found["/usr/bin/sh"] == "symlink"
    assert not any(p.startswith(("/lib/", "/bin/")) for p in found)


def test_two_entries_meeting_through_a_link_conflict() -> None:
    manifest = Manifest([
        Entry("/lib", Kind.SYMLINK, target="usr/lib"),
        Entry("/lib/x", Kind.FILE, data=b"1"),
        Entry("/usr/lib/x", Kind.FILE, data=b"2"),
    ])
    with pytest.raises(InputError, match="/usr/lib/x"):
        manifest.entries()


def test_links_cannot_climb_out_of_the_image_and_loops_are_errors() -> None:
    manifest = Manifest([Entry("/a", Kind.SYMLINK, target="../../../etc"),
                         Entry("/a/passwd", Kind.FILE, data=b"x")])
    assert "/etc/passwd" in paths(manifest)
    looping = Manifest([Entry("/l1", Kind.SYMLINK, target="l2"),
                        Entry("/l2", Kind.SYMLINK, target="l1"),
                        Entry("/l1/x", Kind.FILE, data=b"")])
    with pytest.raises(InputError, match="too many levels of symbolic links"):
        looping.entries()


@pytest.mark.parametrize("bad", ["relative/x", "/a/../b", "/", "", "/a\0b"])
def test_image_paths_must_be_absolute_and_inside(bad: str) -> None:
    with pytest.raises(InputError):
        image_path(bad)
