"""Extraction writes the archive under DIR, and nothing anywhere else, whatever it holds."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

import under_test
from hostile.corpus import archive, bomb, entry, escapes, malformed
from hostile.makers import compress, gnu_cpio, s390_image, sample_tree, tree_snapshot
from kernelfactory import write_kernel

ROOT = Path(__file__).resolve().parents[2]


def compose(*args: object) -> subprocess.CompletedProcess[str]:
    return under_test.compose(*args, cwd=ROOT, timeout=120)


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(the extraction DIR, a victim directory next to it, the archive path)."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    return tmp_path / "out", victim, tmp_path / "input.cpio"


def test_gnu_cpio_archive_is_recreated_exactly(tmp_path: Path) -> None:
    tree = sample_tree(tmp_path / "tree")
    image = tmp_path / "initrd.img"
    image.write_bytes(compress(gnu_cpio(tree), "xz"))
    out = tmp_path / "out"
    result = compose("extract", image, out)
    assert result.returncode == 0, result.stderr
    for path in [p for p in tree.rglob("*")]:
        copy = out / path.relative_to(tree)
        want, got = path.lstat(), copy.lstat()
        assert stat.filemode(got.st_mode) == stat.filemode(want.st_mode), path
        assert int(got.st_mtime) == int(want.st_mtime), path
        if stat.S_ISLNK(want.st_mode):
            assert os.readlink(copy) == os.readlink(path)
        elif stat.S_ISREG(want.st_mode):
            assert copy.read_bytes() == path.read_bytes()
    assert (out / "etc" / "motd").stat().st_ino == (out / "etc" / "motd.hard").stat().st_ino
    assert sorted(p.name for p in out.rglob("*")) == sorted(p.name for p in tree.rglob("*"))


def test_the_initramfs_inside_a_boot_image_is_extracted(tmp_path: Path) -> None:
    initrd = compress(archive(entry(b"init", data=b"#!/bin/sh\n", mode=0o100755)), "gzip")
    image = tmp_path / "pxelinux.0"
    image.write_bytes(s390_image(initrd))
    result = compose("extract", image, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "init").read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE((tmp_path / "out" / "init").stat().st_mode) == 0o755
    bare = write_kernel(tmp_path / "vmlinuz")
    result = compose("extract", bare, tmp_path / "none")
    assert result.returncode == 2
    assert "without an initramfs (initrd size 0" in result.stderr


def test_existing_files_are_kept_unless_forced(tmp_path: Path) -> None:
    image = tmp_path / "initrd.img"
    image.write_bytes(archive(entry(b"etc/motd", data=b"from the archive\n")))
    out = tmp_path / "out"
    (out / "etc").mkdir(parents=True)
    (out / "etc" / "motd").write_text("mine\n")
    result = compose("extract", image, out)
    assert result.returncode == 1
    assert "etc/motd: not extracted: already exists (use --force" in result.stderr
    assert (out / "etc" / "motd").read_text() == "mine\n"
    result = compose("extract", "--force", image, out)
    assert result.returncode == 0, result.stderr
    assert (out / "etc" / "motd").read_text() == "from the archive\n"


@pytest.mark.parametrize("case", escapes("/VICTIM"), ids=lambda c: c.name)
def test_escapes_are_refused_and_nothing_is_written_outside(
        sandbox: tuple[Path, Path, Path], case: object) -> None:
    out, victim, path = sandbox
    name = case.name  # type: ignore[attr-defined]
    [real] = [c for c in escapes(str(victim)) if c.name == name]
    path.write_bytes(real.data)
    before = tree_snapshot(path.parent, skip=out)
    etc_before = sorted(os.listdir("/etc"))
    evil = Path("/etc/composer-test-evil")
    try:
        result = compose("extract", path, out)
        escaped_to_etc = evil.exists() or sorted(os.listdir("/etc")) != etc_before
    finally:  # should a regression write there as root, do not leave it behind
        evil.unlink(missing_ok=True)
    assert not escaped_to_etc
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "refused" in result.stderr and real.problem in result.stderr
    assert (out / "harmless").read_text() == "fine\n"
    assert tree_snapshot(path.parent, skip=out) == before
    for inside in out.rglob("*"):
        if not inside.is_symlink():
            assert out.resolve() in inside.resolve().parents


def test_symlinks_already_in_the_directory_are_not_followed(
        sandbox: tuple[Path, Path, Path]) -> None:
    out, victim, path = sandbox
    out.mkdir()
    (out / "pre").symlink_to(victim)
    (out / "passwd").symlink_to(victim / "passwd")
    path.write_bytes(archive(entry(b"pre/evil", data=b"x"), entry(b"passwd", data=b"x")))
    before = tree_snapshot(victim)
    result = compose("extract", path, out)
    assert result.returncode == 1
    assert "pre/evil: not extracted: pre is a symbolic link (it was already there)" \
        in result.stderr
    result = compose("extract", "--force", path, out)
    assert result.returncode == 1
    assert tree_snapshot(victim) == before
    assert not (out / "passwd").is_symlink() and (out / "passwd").read_bytes() == b"x"


@pytest.mark.parametrize("case", malformed(), ids=lambda c: c.name)
def test_malformed_input_is_a_clear_error_never_a_traceback(
        sandbox: tuple[Path, Path, Path], case: object) -> None:
    out, _, path = sandbox
    path.write_bytes(case.data)  # type: ignore[attr-defined]
    before = tree_snapshot(path.parent, skip=out)
    for command in (("inspect", path), ("extract", path, out)):
        result = compose(*command)
        assert result.returncode == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert case.problem in result.stderr  # type: ignore[attr-defined]
        assert result.stderr.startswith("compose: error: ")
    assert tree_snapshot(path.parent, skip=out) == before


def test_a_gzip_bomb_past_the_limit_is_refused_and_leaves_no_partial_file(
        sandbox: tuple[Path, Path, Path]) -> None:
    out, _, path = sandbox
    path.write_bytes(bomb(64 << 20))
    assert path.stat().st_size < 200_000
    result = compose("extract", "--max-size", "16M", path, out)
    assert result.returncode == 2
    assert "decompression bomb" in result.stderr and "--max-size" in result.stderr
    assert not (out / "zeros").exists()
    result = compose("inspect", path)  # default limits: past 64M at 1000:1 > 200:1
    assert result.returncode == 2 and "expands more than 200 times" in result.stderr
