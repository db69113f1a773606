"""Outputs under faults: killed builds, full disks, unwritable directories, races.

Every test runs the real `compose` in a subprocess and looks at the output directory
the way an operator would: the previous image is still there, byte for byte, and no
temporary file was left beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import under_test
from kernelfactory import s390_kernel
from under_test import COMPOSE

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20


def compose(*args: str | Path, cwd: Path, preexec_fn: Callable[[], None] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    return under_test.compose(*args, cwd=cwd, env=env, timeout=timeout, preexec_fn=preexec_fn)


def project(where: Path, size: int, *, codec: str = "none", fill: bytes = b"") -> Path:
    """A recipe whose image holds a `size`-byte file: sparse zeros, or `fill` repeated."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "vmlinuz").write_bytes(s390_kernel())
    with open(where / "payload", "wb") as f:
        if fill:
            block = fill * (MIB // len(fill))
            for _ in range(size // MIB):
                f.write(block)
        else:
            f.truncate(size)
    recipe = where / "recipe.yaml"
    recipe.write_text(f"compression: {codec}\nkernel: {{cmdline: console=ttyS0}}\n"
                      "output: {netboot_limit: ignore}\n"
                      "files:\n  - {path: /init, content: \"#!/bin/sh\\n\", mode: '0755'}\n"
                      "  - {path: /bin/sh, content: \"a stand-in shell\", mode: '0755'}\n"
                      "  - {path: /payload, source: payload}\n")
    return recipe


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture
def old_image(tmp_path: Path) -> Path:
    """A small good image built earlier, in its own output directory."""
    out = tmp_path / "out"
    out.mkdir()
    small = project(tmp_path / "small", MIB)
    done = compose(small, "-o", out / "pxelinux.0", "--kernel", "vmlinuz", cwd=small.parent)
    assert done.returncode == 0, done.stderr
    return out / "pxelinux.0"


def writing_fd(pid: int, directory: Path) -> Path | None:
    """The /proc link of a file the process has open in `directory` (the anonymous
    O_TMPFILE shows as '<dir>/#<inode> (deleted)')."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            link = Path(f"/proc/{pid}/fd/{fd}")
            with contextlib.suppress(OSError):
                if os.readlink(link).startswith(f"{directory}/"):
                    return link
    return None


@pytest.mark.parametrize(("codec", "size", "written"), [
    ("none", 400 * MIB, 64 * MIB),   # killed with 64 MiB of the image on disk
    ("gzip", 600 * MIB, 0),          # killed while the compressor is busy
])
def test_sigkill_mid_write_keeps_the_old_image_and_leaves_no_temporary(
        tmp_path: Path, old_image: Path, codec: str, size: int, written: int) -> None:
    before = digest(old_image)
    recipe = project(tmp_path / "big", size, codec=codec)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*COMPOSE, str(recipe), "-o", str(old_image), "--kernel", "vmlinuz"],
                            cwd=recipe.parent, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        link = None
        while time.monotonic() < deadline and proc.poll() is None:
            link = writing_fd(proc.pid, old_image.parent)
            with contextlib.suppress(OSError):
                if link is not None and os.stat(link).st_size >= max(written, 1):
                    break
            time.sleep(0.005)
        if codec != "none":
            time.sleep(0.5)  # well into compressing
        assert proc.poll() is None, "the build ended before it could be killed"
        assert link is not None, "the build never opened a file in the output directory"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert digest(old_image) == before
    assert sorted(p.name for p in old_image.parent.iterdir()) == ["pxelinux.0"]


def test_a_file_size_limit_is_a_clear_error_and_keeps_the_old_image(
        tmp_path: Path, old_image: Path) -> None:
    """RLIMIT_FSIZE (ulimit -f) makes writes fail with EFBIG, as a full disk would."""
    before = digest(old_image)
    recipe = project(tmp_path / "big", 32 * MIB)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 * MIB, 8 * MIB))

    done = compose(recipe, "-o", old_image, "--kernel", "vmlinuz", cwd=recipe.parent,
                   preexec_fn=limit)
    assert done.returncode == 1
    assert f"{old_image} grew past the file size limit" in done.stderr
    assert "nothing was replaced" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert digest(old_image) == before
    assert sorted(p.name for p in old_image.parent.iterdir()) == ["pxelinux.0"]


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                              str(where)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'mount failed'}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_filesystem_is_a_clear_error_and_frees_what_was_written(tmp_path: Path) -> None:
    recipe = project(tmp_path / "big", 16 * MIB, fill=os.urandom(4096))
    small = project(tmp_path / "small", 256 * 1024)
    with tmpfs(tmp_path / "disk", "8m") as disk:
        image = disk / "pxelinux.0"
        first = compose(small, "-o", image, "--kernel", "vmlinuz", cwd=small.parent)
        assert first.returncode == 0, first.stderr
        before = digest(image)
        used = shutil.disk_usage(disk).used

        done = compose(recipe, "-o", image, "--kernel", "vmlinuz", cwd=recipe.parent)

        assert done.returncode == 1
        assert f"no space left writing {image}; nothing was replaced" in done.stderr
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
        assert digest(image) == before
        assert sorted(p.name for p in disk.iterdir()) == ["pxelinux.0"]
        assert shutil.disk_usage(disk).used == used  # the partial file's blocks are back


@contextlib.contextmanager
def _read_only_mount(tmp_path: Path, old: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "ro", "4m") as where:
        shutil.copyfile(old, where / "pxelinux.0")
        remount = subprocess.run(["mount", "-o", "remount,ro", str(where)],
                                 capture_output=True, text=True, check=False)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remount.stderr.strip()}")
        yield where


@contextlib.contextmanager
def _immutable_directory(tmp_path: Path, old: Path) -> Iterator[Path]:
    where = tmp_path / "immutable"
    where.mkdir()
    shutil.copyfile(old, where / "pxelinux.0")
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    done = subprocess.run(["chattr", "+i", str(where)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not possible here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["chattr", "-i", str(where)], check=False)


@contextlib.contextmanager
def _mode_0555(tmp_path: Path, old: Path) -> Iterator[Path]:
    if os.geteuid() == 0:
        pytest.skip("root ignores permission bits (the other cases cover root)")
    where = tmp_path / "readonly"
    where.mkdir()
    shutil.copyfile(old, where / "pxelinux.0")
    where.chmod(0o555)
    try:
        yield where
    finally:
        where.chmod(0o755)


UNWRITABLE = {
    "read-only mount": (_read_only_mount, "Read-only file system"),
    "immutable directory": (_immutable_directory, "Operation not permitted"),
    "mode 0555": (_mode_0555, "Permission denied"),
}


@pytest.mark.parametrize("how", list(UNWRITABLE))
def test_an_unwritable_output_directory_is_a_clear_error(tmp_path: Path, old_image: Path,
                                                         how: str) -> None:
    make, reason = UNWRITABLE[how]
    recipe = project(tmp_path / "recipe", MIB)
    with make(tmp_path, old_image) as where:
        before = digest(where / "pxelinux.0")
        done = compose(recipe, "-o", where / "pxelinux.0", "--kernel", "vmlinuz",
                       cwd=recipe.parent)
        assert done.returncode == 1
        assert f"compose: error: cannot write {where}/pxelinux.0: {reason}" in done.stderr
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
        assert digest(where / "pxelinux.0") == before
        assert sorted(p.name for p in where.iterdir()) == ["pxelinux.0"]


def test_a_filesystem_without_new_names_is_a_clear_error(tmp_path: Path) -> None:
    """procfs exists for every user and refuses every new file, root or not."""
    recipe = project(tmp_path / "recipe", MIB)
    done = compose(recipe, "-o", "/proc/pxelinux.0", "--kernel", "vmlinuz", cwd=recipe.parent)
    assert done.returncode == 1
    assert "cannot write /proc/pxelinux.0: the filesystem of /proc does not accept new files" \
        in done.stderr


@pytest.mark.slow
def test_two_builds_racing_for_one_output_leave_one_whole_image(tmp_path: Path) -> None:
    """Two different images written to the same path at the same time: the result is
    exactly one of them, never a mix, and nothing else is left in the directory.

    `fast` writes 48 MiB quickly, `slow` compresses for seconds into a few hundred kB;
    written in place, the slow one's bytes would land over the start of the fast one's.
    """
    fast = project(tmp_path / "fast", 48 * MIB, fill=b"F" * 4096)
    slow = project(tmp_path / "slow", 400 * MIB, codec="gzip")
    expected = {}
    for recipe in (fast, slow):
        image = tmp_path / f"{recipe.parent.name}.img"
        done = compose(recipe, "-o", image, "--kernel", "vmlinuz", cwd=recipe.parent)
        assert done.returncode == 0, done.stderr
        expected[digest(image)] = recipe.parent.name
        image.unlink()
    assert len(expected) == 2
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start(recipe: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*COMPOSE, str(recipe), "-o", str(out / "pxelinux.0"),
                                 "--kernel", "vmlinuz"], cwd=recipe.parent, env=env,
                                stderr=subprocess.PIPE)

    for staggered in (False, True):
        procs = [start(slow)]
        while staggered and writing_fd(procs[0].pid, out) is None and procs[0].poll() is None:
            time.sleep(0.005)  # the fast build starts once the slow one is writing
        procs.append(start(fast))
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
        assert sorted(p.name for p in out.iterdir()) == ["pxelinux.0"]
        assert digest(out / "pxelinux.0") in expected, "the image is neither build's"
