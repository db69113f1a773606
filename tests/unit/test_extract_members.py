"""composer.read.extract as a function: read-only directories, later entries winning, device
nodes with and without root, truncated data (`compose extract` itself, escapes and bombs
are tests/e2e/test_extract.py)."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from composer.archive.newc import write_archive
from composer.archive.reader import InitramfsReader
from composer.errors import InputError
from composer.manifest import Entry, Kind
from composer.read.extract import extract_members
from hostile.corpus import DIR, archive, entry, link


def members(data: bytes) -> InitramfsReader:
    return InitramfsReader(io.BytesIO(data))


def test_a_read_only_directory_still_receives_its_children(tmp_path: Path) -> None:
    data = archive(entry(b"ro", mode=DIR & ~0o222), entry(b"ro/file", data=b"inside"))
    report = extract_members(members(data), tmp_path / "out", privileged=False)
    assert report.exit_code == 0
    assert (tmp_path / "out" / "ro" / "file").read_bytes() == b"inside"
    assert stat.S_IMODE((tmp_path / "out" / "ro").stat().st_mode) == 0o555


def test_a_later_entry_for_the_same_path_wins_as_in_the_kernel(tmp_path: Path) -> None:
    data = archive(entry(b"a", data=b"first"), link(b"b", b"a"), entry(b"a", data=b"second"),
                   entry(b"b", data=b"no longer a link"))
    report = extract_members(members(data), tmp_path / "out")
    assert (report.exit_code, report.conflicts) == (0, [])
    assert (tmp_path / "out" / "a").read_bytes() == b"second"
    assert not (tmp_path / "out" / "b").is_symlink()


def test_device_nodes_are_skipped_with_a_note_without_root(tmp_path: Path) -> None:
    out = io.BytesIO()
    write_archive([Entry("/dev", Kind.DIR), Entry("/dev/console", Kind.CHAR, major=5, minor=1),
                   Entry("/dev/initctl", Kind.FIFO)], out)
    report = extract_members(members(out.getvalue()), tmp_path / "user", privileged=False)
    assert report.exit_code == 0
    assert [(n.name, n.reason) for n in report.skipped] == [
        ("dev/console", "char device 5, 1 not created: making device nodes needs root")]
    assert not (tmp_path / "user" / "dev" / "console").exists()
    assert stat.S_ISFIFO((tmp_path / "user" / "dev" / "initctl").lstat().st_mode)


def test_device_nodes_are_made_as_root_when_the_system_allows(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    out = io.BytesIO()
    write_archive([Entry("/dev", Kind.DIR), Entry("/dev/console", Kind.CHAR, major=5, minor=1)],
                  out)
    report = extract_members(members(out.getvalue()), tmp_path / "root", privileged=True)
    console = tmp_path / "root" / "dev" / "console"
    if report.skipped:  # a container without CAP_MKNOD
        assert "may not make device nodes" in report.skipped[0].reason
        assert not console.exists()
    else:
        st = console.lstat()
        assert stat.S_ISCHR(st.st_mode)
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (5, 1)


def test_truncated_file_data_leaves_no_partial_file(tmp_path: Path) -> None:
    data = archive(entry(b"ok", data=b"fine"), entry(b"cut", data=b"y" * 100_000))[:50_000]
    with pytest.raises(InputError, match="input ends inside the data of 'cut'"):
        extract_members(members(data), tmp_path / "out")
    assert (tmp_path / "out" / "ok").read_bytes() == b"fine"
    assert not (tmp_path / "out" / "cut").exists()
