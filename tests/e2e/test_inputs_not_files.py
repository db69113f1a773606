"""Every path compose reads or writes, given something that is not a regular file.

The class, not a few examples: each place a path enters (the recipe, `extends:`,
--vars, a file's `source:`, a template, --kernel, --sysroot, inspect/extract/diff, the
image `boot` runs, and the outputs -o, -O, --initramfs and extract's directory) is given
a directory, a FIFO nobody writes to, a socket, a character device, a dangling symlink
and a path running through a regular file. Each run must end promptly (a FIFO must not
be waited on) with exit 2 and one paragraph naming the path, and leave the working
directory as it was.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kernelfactory import s390_kernel
from under_test import compose

GOOD_RECIPE = 'files:\n  - {path: /etc/motd, content: "hello\\n"}\n'
SECONDS = 20  # a FIFO that is waited on hangs forever; everything else fails in < 2 s


def _directory(path: Path) -> None:
    path.mkdir()


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))  # the socket file stays after the close


def _char_device(path: Path) -> None:
    path.symlink_to("/dev/zero")  # endless: a read that is not refused never ends


def _dangling(path: Path) -> None:
    path.symlink_to("nowhere")


def _under_a_file(path: Path) -> None:
    path.parent.write_bytes(b"a regular file, not a directory\n")


KINDS: dict[str, Callable[[Path], None]] = {
    "directory": _directory, "fifo": _fifo, "socket": _socket, "char-device": _char_device,
    "dangling-symlink": _dangling, "under-a-file": _under_a_file,
}


def _bad_path(work: Path, kind: str) -> str:
    """Make the bad thing in `work`; its name relative to `work`."""
    name = "plain/bad" if kind == "under-a-file" else "bad"
    KINDS[kind](work / name)
    return name


# Each input: the compose arguments, given the bad path (files it needs are written).
def _recipe(work: Path, bad: str) -> list[str]:
    return [bad, "--kernel", "vmlinuz", "-o", "out.img"]


def _extends(work: Path, bad: str) -> list[str]:
    (work / "child.yaml").write_text(f"extends: {bad}\n{GOOD_RECIPE}")
    return ["child.yaml", "--kernel", "vmlinuz", "-o", "out.img"]


def _vars(work: Path, bad: str) -> list[str]:
    return ["good.yaml", "--kernel", "vmlinuz", "--vars", bad, "-o", "out.img"]


def _source(work: Path, bad: str) -> list[str]:
    (work / "source.yaml").write_text(f"files:\n  - {{path: /etc/motd, source: {bad}}}\n")
    return ["source.yaml", "--kernel", "vmlinuz", "-o", "out.img"]


def _template(work: Path, bad: str) -> list[str]:
    (work / "template.yaml").write_text(f"templates:\n  - {{path: /init, source: {bad}}}\n")
    return ["template.yaml", "--kernel", "vmlinuz", "-o", "out.img"]


def _kernel(work: Path, bad: str) -> list[str]:
    return ["good.yaml", "--kernel", bad, "-o", "out.img"]


def _sysroot(work: Path, bad: str) -> list[str]:
    (work / "binaries.yaml").write_text("binaries: [/bin/busybox]\n")
    return ["binaries.yaml", "--kernel", "vmlinuz", "--sysroot", bad, "-o", "out.img"]


def _inspect(work: Path, bad: str) -> list[str]:
    return ["inspect", bad]


def _extract(work: Path, bad: str) -> list[str]:
    return ["extract", bad, "unpacked"]


def _diff(work: Path, bad: str) -> list[str]:
    return ["diff", bad, "vmlinuz"]


def _boot(work: Path, bad: str) -> list[str]:
    return ["boot", bad, "--timeout", "5"]


INPUTS = {"recipe": _recipe, "extends": _extends, "vars": _vars, "source": _source,
          "template": _template, "kernel": _kernel, "sysroot": _sysroot,
          "inspect": _inspect, "extract": _extract, "diff": _diff, "boot": _boot}


def _output(work: Path, bad: str) -> list[str]:
    return ["good.yaml", "--kernel", "vmlinuz", "-o", bad]


def _output_dir(work: Path, bad: str) -> list[str]:
    return ["good.yaml", "--kernel", "vmlinuz", "-O", bad]


def _initramfs(work: Path, bad: str) -> list[str]:
    return ["good.yaml", "--initramfs", bad]


def _extract_into(work: Path, bad: str) -> list[str]:
    made = compose("good.yaml", "--initramfs", "initrd.img", cwd=work, timeout=60)
    assert made.returncode == 0, made.stderr
    return ["extract", "initrd.img", bad]


OUTPUTS = {"output": _output, "output-dir": _output_dir, "initramfs": _initramfs,
           "extract-into": _extract_into}
# What an output may legitimately be: -o writes through a symlink (as cp does), -O and
# extract's DIR are directories.
OUTPUT_KINDS = {"output": ("directory", "fifo", "socket", "char-device", "under-a-file"),
                "initramfs": ("directory", "fifo", "socket", "char-device", "under-a-file"),
                "output-dir": ("fifo", "socket", "char-device", "under-a-file"),
                "extract-into": ("fifo", "socket", "char-device", "under-a-file")}

CASES = [(slot, kind) for slot in INPUTS for kind in KINDS
         if not (slot == "sysroot" and kind == "directory")]
CASES += [(slot, kind) for slot, kinds in OUTPUT_KINDS.items() for kind in kinds]


def _state(work: Path) -> dict[str, object]:
    """Names, kinds and contents: a FIFO or socket by its type, never opened."""
    state: dict[str, object] = {}
    for path in sorted(work.rglob("*")):
        if path.is_symlink():
            state[str(path)] = ("link", os.readlink(path))
        elif path.is_file():
            state[str(path)] = path.read_bytes()
        else:
            state[str(path)] = os.lstat(path).st_mode
    return state


@pytest.mark.parametrize(("slot", "kind"), CASES, ids=[f"{s}-{k}" for s, k in CASES])
def test_a_path_that_is_not_a_regular_file_is_refused(slot: str, kind: str,
                                                      tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "vmlinuz").write_bytes(s390_kernel())
    (work / "good.yaml").write_text(GOOD_RECIPE)
    bad = _bad_path(work, kind)
    args = {**INPUTS, **OUTPUTS}[slot](work, bad)
    before = _state(work)
    try:
        run = compose(*args, cwd=work, timeout=SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"compose {' '.join(args)} hung on a {kind}")
    assert run.returncode == 2, run.stderr
    text = run.stderr.strip()
    assert text.startswith("compose: error: "), run.stderr
    assert "\n" not in text and "internal error" not in text, run.stderr
    assert bad in text, f"the message does not name {bad}: {text}"
    assert run.stdout == ""
    assert _state(work) == before, "the failed run changed files"



def test_without_an_absolute_home_no_cache_lands_in_the_working_directory(
        tmp_path: Path) -> None:
    """A relative HOME (like HOME unset with no passwd entry, where `~` stays `~`; the
    unit test tests/unit/test_cache_home.py takes that path) put the caches under the
    working directory. Now the build runs without caches, and `compose sysroot`, which
    needs a place to keep what it fetches, says why it has none."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "vmlinuz").write_bytes(s390_kernel())
    (work / "good.yaml").write_text(GOOD_RECIPE)
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME")}
    env["HOME"] = "~"
    built = compose("good.yaml", "--kernel", "vmlinuz", "-o", "out.img", cwd=work, env=env,
                    timeout=120)
    assert built.returncode == 0, built.stderr
    fetched = compose("sysroot", cwd=work, env={**env, "XDG_CACHE_HOME": "relative"},
                      timeout=60)
    assert fetched.returncode == 2, fetched.stderr
    assert "HOME is unset" in fetched.stderr and "XDG_CACHE_HOME" in fetched.stderr
    assert sorted(p.name for p in work.iterdir()) == ["good.yaml", "out.img", "vmlinuz"]


def test_a_failed_build_leaves_no_output_directory(tmp_path: Path) -> None:
    """-O makes its directory (and parents) for the images; a build that fails removes
    what it made, so nothing is left behind."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "vmlinuz").write_bytes(s390_kernel())
    (work / "broken.yaml").write_text("files:\n  - {path: /etc/motd, source: missing}\n")
    (work / "good.yaml").write_text(GOOD_RECIPE)
    failed = compose("broken.yaml", "--kernel", "vmlinuz", "-O", "new/images", cwd=work)
    assert failed.returncode == 2, failed.stderr
    assert not (work / "new").exists()
    built = compose("good.yaml", "--kernel", "vmlinuz", "-O", "new/images", cwd=work)
    assert built.returncode == 0, built.stderr
    assert (work / "new" / "images" / "good.img").is_file()
