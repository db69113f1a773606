"""Outputs that are not plain files, usage errors, stdout failures and SIGTERM: issue 14,
classes 4 and 5. Every case runs the real `compose` command; signals go to the real
process, and the checks are on what a user would find afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import under_test
from kernelfactory import s390_kernel
from under_test import COMPOSE

RECIPE = 'files:\n  - {path: /etc/motd, content: "hello\\n"}\n'


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COMPOSER_SYSROOT", None)
    env.update(extra)
    return env


def compose(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return under_test.compose(*args, cwd=cwd, env=_env(), timeout=120)


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    (tmp_path / "vmlinuz").write_bytes(s390_kernel())
    (tmp_path / "r.yaml").write_text(RECIPE)
    return tmp_path


def _one_paragraph_error(run: subprocess.CompletedProcess[str], code: int, *fragments: str
                         ) -> None:
    assert run.returncode == code, run.stderr
    text = run.stderr.strip()
    assert text.startswith("compose: error: ") and "\n" not in text, run.stderr
    assert "Traceback" not in text and "internal error" not in text
    for fragment in fragments:
        assert fragment in text, text


# --- outputs that are not regular files -------------------------------------------

def test_a_fifo_output_is_refused_not_replaced(work: Path) -> None:
    os.mkfifo(work / "out.img")
    run = compose("r.yaml", "--kernel", "vmlinuz", "-o", "out.img", cwd=work)
    _one_paragraph_error(run, 2, "out.img is a FIFO (named pipe); refusing to replace it")
    assert (work / "out.img").is_fifo()


def test_a_device_output_is_refused_not_replaced(work: Path) -> None:
    run = compose("r.yaml", "--kernel", "vmlinuz", "-o", "/dev/null", cwd=work)
    _one_paragraph_error(run, 2, "/dev/null is a character device; refusing to replace it")
    assert Path("/dev/null").is_char_device()


def test_a_symlink_output_is_written_through_and_stays_a_link(work: Path) -> None:
    (work / "srv").mkdir()
    (work / "srv" / "pxelinux.0").write_bytes(b"old image")
    (work / "pxelinux.0").symlink_to("srv/pxelinux.0")
    run = compose("r.yaml", "--kernel", "vmlinuz", "-o", "pxelinux.0", cwd=work)
    assert run.returncode == 0, run.stderr
    assert (work / "pxelinux.0").is_symlink()
    assert os.readlink(work / "pxelinux.0") == "srv/pxelinux.0"
    image = (work / "srv" / "pxelinux.0").read_bytes()
    assert image.startswith(s390_kernel()[:0x10000]) and len(image) > len(s390_kernel())
    assert sorted(p.name for p in (work / "srv").iterdir()) == ["pxelinux.0"]


# --- usage errors -------------------------------------------------------------------

@pytest.mark.parametrize(("args", "fragments"), [
    (["-O", "afile"], ["-O afile: not a directory"]),
    (["-o", "x.img", "-O", "out"], ["-o IMAGE and -O DIR both say where the image goes"]),
    (["-o", "x.img", "r.yaml", "s.yaml"], ["-o names one image; with several recipes use -O"]),
    (["r.yaml", "sub/r.yaml", "-O", "out"], ["would both be written to out/r.img"]),
    (["r.yaml", "s.yaml", "-O", "out", "-j", "100000"], ["-j 100000: give 1 to"]),
    (["-j", "0"], ["-j 0: give 1 to"]),
])
def test_usage_errors_exit_2_and_write_nothing(work: Path, args: list[str],
                                               fragments: list[str]) -> None:
    (work / "afile").write_text("not a directory\n")
    (work / "s.yaml").write_text(RECIPE)
    (work / "sub").mkdir()
    (work / "sub" / "r.yaml").write_text(RECIPE)
    before = sorted(p.name for p in work.rglob("*"))
    recipes = [] if any(a.endswith(".yaml") for a in args) else ["r.yaml"]
    run = compose(*recipes, *args, "--kernel", "vmlinuz", cwd=work)
    _one_paragraph_error(run, 2, *fragments)
    assert sorted(p.name for p in work.rglob("*")) == before


# --- stdout that cannot take the results --------------------------------------------

def test_stdout_on_a_full_device_is_a_clean_error(work: Path) -> None:
    with open("/dev/full", "w") as full:
        run = subprocess.run([*COMPOSE, "show", "--json", "r.yaml"], cwd=work, env=_env(),
                             text=True, stdout=full, stderr=subprocess.PIPE, timeout=60)
    _one_paragraph_error(run, 1, "cannot write the results to standard output: No space left")


def test_stdout_closed_is_a_clean_error(work: Path) -> None:
    run = subprocess.run([*COMPOSE, "show", "r.yaml"], cwd=work, env=_env(), text=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
                         preexec_fn=lambda: os.close(1))
    _one_paragraph_error(run, 1, "standard output is closed")


# --- SIGTERM ------------------------------------------------------------------------

SLOW = "compression: {codec: gzip, level: 9}\nfiles:\n  - {path: /big, source: big.bin}\n"


def _slow_recipe(work: Path, name: str, size: int = 400 << 20) -> None:
    if not (work / "big.bin").exists():
        (work / "big.bin").write_bytes(os.urandom(1 << 20) * (size >> 20))
    (work / name).write_text(SLOW)


def _terminate_after(proc: subprocess.Popen[bytes], seconds: float) -> int:
    time.sleep(seconds)
    assert proc.poll() is None, "the command ended before the signal: make it slower"
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


@pytest.mark.slow
def test_sigterm_ends_a_parallel_build_and_its_workers(work: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        _slow_recipe(work, name)
    out = work / "out"
    out.mkdir()
    proc = subprocess.Popen([*COMPOSE, "a.yaml", "b.yaml", "-O", "out", "-j", "2",
                             "--kernel", "vmlinuz"], cwd=work, env=_env(),
                            stderr=subprocess.PIPE)
    code = _terminate_after(proc, 4)
    assert proc.stderr is not None
    assert code == 143, proc.stderr.read()
    time.sleep(10)  # workers that lived on would now finish and write their images
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_sigterm_during_extract_leaves_no_partial_file(work: Path) -> None:
    _slow_recipe(work, "r.yaml", 300 << 20)
    (work / "r.yaml").write_text(SLOW.replace("gzip, level: 9", "none"))
    built = compose("r.yaml", "--initramfs", "big.cpio", cwd=work)
    assert built.returncode == 0, built.stderr
    dest = work / "dest"
    dest.mkdir()
    proc = subprocess.Popen([*COMPOSE, "extract", "big.cpio", "dest"], cwd=work, env=_env(),
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (dest / "big").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "extract finished before the signal"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert not (dest / "big").exists()


@pytest.mark.slow
def test_sigterm_during_a_recipe_diff_leaves_no_temporary_directory(work: Path) -> None:
    _slow_recipe(work, "r.yaml")
    tmp = work / "tmp"
    tmp.mkdir()
    (work / "old.img").write_bytes(b"")
    proc = subprocess.Popen([*COMPOSE, "diff", "r.yaml", "r.yaml"], cwd=work,
                            env=_env(TMPDIR=str(tmp)), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not list(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(tmp.iterdir()), "diff made no temporary directory"
    code = _terminate_after(proc, 1)
    assert code == 143
    assert list(tmp.iterdir()) == []
