"""`compose diff`: what changed between two images or initramfs archives."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

import under_test
from composer.archive.newc import write_archive
from composer.manifest import Entry, Kind
from hostile.corpus import archive, entry
from hostile.makers import bsdtar_newc, compress, gnu_cpio, s390_image, sample_tree

ROOT = Path(__file__).resolve().parents[2]


def compose(*args: object) -> subprocess.CompletedProcess[str]:
    return under_test.compose(*args, cwd=ROOT, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return sample_tree(tmp_path / "tree")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_the_same_tree_from_gnu_cpio_and_bsdtar_is_equal(tree: Path, tmp_path: Path) -> None:
    a = write(tmp_path / "a.img", gnu_cpio(tree, "crc"))
    b = write(tmp_path / "b.img", bsdtar_newc(tree))
    result = compose("diff", a, b)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "no differences"


def test_every_kind_of_change_is_reported(tree: Path, tmp_path: Path) -> None:
    a = write(tmp_path / "a.img", gnu_cpio(tree))
    changed = tmp_path / "changed"
    subprocess.run(["cp", "-a", str(tree), str(changed)], check=True)
    (changed / "init").write_text("#!/bin/sh\nexec /bin/ls\n")  # same size, new content
    (changed / "etc" / "motd").chmod(0o644)
    os.chown(changed / "etc" / "empty.conf", 1000, 100)
    (changed / "bin" / "sh").unlink()
    (changed / "bin" / "sh").symlink_to("/bin/busybox")
    (changed / "etc" / "initctl").unlink()
    (changed / "etc" / "new").write_text("new\n")
    b = write(tmp_path / "b.img", compress(gnu_cpio(changed), "zstd"))
    result = compose("diff", a, b)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    old, new = (hashlib.sha256(p.read_bytes()).hexdigest()[:12]
                for p in (tree / "init", changed / "init"))
    assert lines[2:] == [
        "compression: none -> zstd",
        "~ /bin/sh  target 'busybox' -> '/bin/busybox'",
        "~ /etc/empty.conf  uid 0 -> 1000, gid 0 -> 100",
        "- /etc/initctl  fifo 0600 0/0",
        "~ /etc/motd  mode 0600 -> 0644",
        "~ /etc/motd.hard  mode 0600 -> 0644",
        "+ /etc/new  file 0644 0/0 4 bytes",
        f"~ /init  sha256 {old} -> {new}",
        "1 added, 1 removed, 5 changed",
    ]


def test_header_differences_of_two_boot_images(tmp_path: Path) -> None:
    initrd = archive(entry(b"init", data=b"#!/bin/sh\n"))
    a = write(tmp_path / "a.img", s390_image(initrd, cmdline=b"quiet", version="6.1.0-1-s390x"))
    b = write(tmp_path / "b.img", s390_image(initrd, cmdline=b"console=ttyS0",
                                             version="6.1.0-2-s390x", max_cmdline=0))
    result = compose("diff", a, b)
    assert result.returncode == 1
    assert result.stdout.splitlines()[2:] == [
        "header kernel_version: '6.1.0-1-s390x' -> '6.1.0-2-s390x'",
        "header cmdline: 'quiet' -> 'console=ttyS0'",
        "header max_cmdline: 4096 -> 896",
        "0 added, 0 removed, 0 changed",
    ]
    data = json.loads(compose("diff", "--json", a, b).stdout)
    assert data["equal"] is False and data["headers_compared"] is True
    assert data["header"][1] == {"field": "cmdline", "a": "quiet", "b": "console=ttyS0"}


def test_an_image_against_its_own_initramfs_is_equal(tmp_path: Path) -> None:
    initrd = compress(archive(entry(b"init", data=b"#!/bin/sh\n")), "gzip")
    image = write(tmp_path / "pxelinux.0", s390_image(initrd))
    bare = write(tmp_path / "initrd.img", initrd)
    result = compose("diff", image, bare)
    assert result.returncode == 0, result.stdout
    assert "boot headers not compared" in result.stdout


def test_device_numbers_and_json(tmp_path: Path) -> None:
    def image(minor: int) -> bytes:
        out = io.BytesIO()
        write_archive([Entry("/dev", Kind.DIR),
                       Entry("/dev/vda", Kind.BLOCK, major=254, minor=minor)], out)
        return out.getvalue()
    a = write(tmp_path / "a.img", image(0))
    b = write(tmp_path / "b.img", image(16))
    result = compose("diff", "--json", a, b)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["changed"] == [{"path": "/dev/vda", "changes": [
        {"field": "device", "a": "254, 0", "b": "254, 16"}]}]
    assert data["added"] == data["removed"] == [] and data["compression"] is None


def test_mtimes_only_when_asked(tmp_path: Path) -> None:
    def one(mtime: int) -> bytes:
        out = io.BytesIO()
        write_archive([Entry("/x", Kind.FILE, data=b"x", mtime=mtime)], out, epoch=2**31)
        return out.getvalue()
    a, b = write(tmp_path / "a", one(1000)), write(tmp_path / "b", one(2000))
    assert compose("diff", a, b).returncode == 0
    result = compose("diff", "--mtime", a, b)
    assert result.returncode == 1
    assert "~ /x  mtime 1970-01-01 00:16 -> 1970-01-01 00:33" in result.stdout


def test_bad_input_exits_2(tmp_path: Path) -> None:
    good = write(tmp_path / "good", archive(entry(b"x")))
    bad = write(tmp_path / "bad", b"070701" + b"Z" * 200)
    for args in ((good, bad), (bad, good), (good, tmp_path / "missing")):
        result = compose("diff", *args)
        assert result.returncode == 2
        assert result.stderr.startswith("compose: error: ") and "Traceback" not in result.stderr
