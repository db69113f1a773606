"""The archive writer as a function (the archives composer writes, read by bsdtar, GNU cpio
and each decompressor, are tests/e2e/test_archive.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from composer.archive.newc import write_archive
from composer.errors import BuildError
from composer.manifest import Entry, Kind


def test_a_source_gone_since_the_plan_is_named_as_the_input(tmp_path: Path) -> None:
    entries = [Entry("/etc", Kind.DIR), Entry("/etc/motd", Kind.FILE, source=tmp_path / "gone")]
    with pytest.raises(BuildError) as caught:
        write_archive(entries, io.BytesIO())
    assert caught.value.message == f"cannot read {tmp_path / 'gone'} for /etc/motd: " \
        "No such file or directory"
