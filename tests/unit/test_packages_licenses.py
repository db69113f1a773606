"""The dpkg database reader (composer/packages.py), its writer's stanza format
(composer/fetch/dpkgdb.py) and the copyright -> SPDX license mapping
(composer/licenses.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from composer.errors import InputError
from composer.fetch.dpkgdb import DebRecord, status_stanza, write_database
from composer.report.licenses import expression, package_license, spdx_id
from composer.report.packages import PackageDatabase

LIBC = "Package: libc6\nVersion: 2.36-9\nArchitecture: s390x\nMulti-Arch: same\n" \
       "Source: glibc\nMaintainer: GNU Libc Maintainers <x@y>\n"


def test_a_usr_merged_sysroot_maps_either_spelling_to_the_package(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/s390x-linux-gnu").mkdir(parents=True)
    (tmp_path / "usr/lib/s390x-linux-gnu/libc.so.6").write_bytes(b"\x7fELF")
    (tmp_path / "lib").symlink_to("usr/lib")
    write_database(tmp_path, [DebRecord(LIBC, ("/.", "/lib", "/lib/s390x-linux-gnu",
                                               "/lib/s390x-linux-gnu/libc.so.6"))])
    assert (tmp_path / "var/lib/dpkg/info/libc6:s390x.list").is_file()
    db = PackageDatabase.load(tmp_path)
    assert db is not None
    for path in ("/lib/s390x-linux-gnu/libc.so.6", "/usr/lib/s390x-linux-gnu/libc.so.6"):
        owner = db.owner_of(path)
        assert owner is not None and (owner.name, owner.version, owner.source) == \
            ("libc6", "2.36-9", "glibc")
    assert db.owner_of("/usr/lib/s390x-linux-gnu/libm.so.6") is None


def test_a_sysroot_without_a_database_has_none(tmp_path: Path) -> None:
    assert PackageDatabase.load(tmp_path) is None


def test_the_status_line_follows_the_package_line_as_dpkg_writes_it() -> None:
    assert status_stanza(LIBC).startswith(
        "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n")


def test_debian_short_names_become_spdx_ids() -> None:
    assert spdx_id("GPL-2") == "GPL-2.0-only"
    assert spdx_id("GPL-2+") == "GPL-2.0-or-later"
    assert spdx_id("LGPL-2.1+") == "LGPL-2.1-or-later"
    assert spdx_id("Expat") == "MIT"
    assert spdx_id("BSD-3-clause") == "BSD-3-Clause"
    assert spdx_id("MPL-1.1") == "MPL-1.1"
    assert spdx_id("GPL-2+-or-X11") == "LicenseRef-GPL-2-plus-or-X11"
    assert spdx_id("GPL-7") == "LicenseRef-GPL-7"
    assert expression("GPL-2+ or Artistic") == "GPL-2.0-or-later OR Artistic-1.0-Perl"
    assert expression("GPL-2 with OpenSSL exception") == \
        "LicenseRef-GPL-2-with-OpenSSL-exception"


DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: zlib

Files: *
Copyright: 1995-2022 Jean-loup Gailly and Mark Adler
License: Zlib

Files: contrib/*
Copyright: someone
License: GPL-2+ or BSD-3-clause
 On Debian systems the full text is in /usr/share/common-licenses/GPL-2.

License: Zlib
 This software is provided 'as-is'...
"""


def test_a_dep5_file_declares_the_licenses_of_its_files_paragraphs() -> None:
    found = package_license(DEP5, "zlib1g")
    assert found.expression == "Zlib AND (GPL-2.0-or-later OR BSD-3-Clause)"
    assert "DEP-5" in found.comment


def test_a_free_form_file_only_says_which_common_license_it_refers_to() -> None:
    text = "This is GNU libc.\nSee `/usr/share/common-licenses/LGPL-2.1'.\n" \
           "and /usr/share/common-licenses/GPL-2 too.\n"
    found = package_license(text, "libc6")
    assert found.expression == \
        "LicenseRef-debian-common-GPL-2 AND LicenseRef-debian-common-LGPL-2.1"
    assert set(found.extracted) == {"LicenseRef-debian-common-GPL-2",
                                    "LicenseRef-debian-common-LGPL-2.1"}
    assert package_license("free text, no pointer", "x").expression == "NOASSERTION"
    assert package_license(None, "x").expression == "NOASSERTION"


def test_a_fifo_or_directory_in_the_database_is_refused_not_waited_on(tmp_path: Path) -> None:
    """dpkg's files go through the one input door: a FIFO at var/lib/dpkg/status (or a
    directory at a package's .list) is an input error naming it, never a hang."""
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    os.mkfifo(status)
    signal.alarm(10)  # the old read_text() waited for a writer forever
    try:
        with pytest.raises(InputError, match=r"dpkg's status file .*status is a FIFO"):
            PackageDatabase.load(tmp_path)
        status.unlink()
        status.write_text("Package: p\nStatus: install ok installed\nVersion: 1\n"
                          "Architecture: s390x\n")
        (tmp_path / "var/lib/dpkg/info").mkdir()
        (tmp_path / "var/lib/dpkg/info/p.list").mkdir()
        with pytest.raises(InputError, match=r"dpkg's file list .*p\.list is a directory"):
            PackageDatabase.load(tmp_path)
    finally:
        signal.alarm(0)
    assert PackageDatabase.load(tmp_path / "elsewhere") is None
