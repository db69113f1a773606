"""The corpus of broken inputs in tests/bad/: each one fails cleanly and touches nothing.

A case is a recipe file, `tests/bad/NAME.yaml`, or a directory, `tests/bad/NAME/` with
its recipe in `recipe.yaml` beside the files it needs. The recipe starts with a comment
header: free text saying what is wrong, then a YAML block after `# expect:`:

    # A typo in a top-level key.
    # expect:
    #   category: unknown-key          # for the counts in the report
    #   exit: 2                        # 2 bad input, 1 anything else
    #   message: "did you mean 'kernel'?"   # or a list of fragments, all required
    #   args: [--kernel, vmlinuz]      # more arguments for compose
    #   setup: [{symlink: {path: fs/bin/a, target: b}}]   # files made before the run
#                                  # (makers: see MAKERS below, e.g. fifo, sparse, mkdir)
    #   output: "{case}/recipe.yaml"   # the -o path (default {out}/pxelinux.0)
    #   env: {SOURCE_DATE_EPOCH: "x"}
    #   max_seconds: 10                # wall time limit (default 60)
    #   max_rss_mb: 150                # peak memory limit of the compose process

The case is copied into a fresh directory, which is the working directory of the run;
a valid kernel-shaped file `vmlinuz` is always there. `{case}`, `{out}` and `{sysroot}`
(the real s390x sysroot; the case is skipped without it) are replaced in args, output
and env. The real `compose` command runs as a subprocess, and the test checks the exit
code, the message, that stderr is one paragraph starting `compose: error:` with no
traceback, and that neither the output directory nor the case directory changed: for
some cases (chosen by a hash of the name) an old image sits at the output path first
and must come out byte-identical, for the others no file may appear.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from elffactory import EM_S390, ET_EXEC, make_elf
from kernelfactory import s390_kernel
from under_test import COMPOSE

BAD = Path(__file__).resolve().parents[1] / "bad"
ROOT = BAD.parent.parent
ADDRESS_SPACE = 3 << 30  # a runaway build fails inside the child instead of swapping
OLD_IMAGE = b"the previous good image\n" * 1000
HASHED_UP_TO = 8 << 20  # bigger files are compared by size and mtime


@dataclass(frozen=True)
class Case:
    name: str
    source: Path  # the recipe file or the case directory
    recipe: str  # the recipe's name inside the case copy
    expect: dict[str, Any]


def read_header(recipe: Path) -> dict[str, Any]:
    lines = []
    for raw in recipe.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not raw.startswith("#"):
            break
        lines.append(raw[2:] if raw.startswith("# ") else raw[1:])
    start = lines.index("expect:")
    header = yaml.safe_load("\n".join(lines[start:]))["expect"]
    assert isinstance(header, dict)
    return header


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(BAD.iterdir()):
        if path.is_dir():
            cases.append(Case(path.name, path, "recipe.yaml", read_header(path / "recipe.yaml")))
        elif path.suffix == ".yaml":
            cases.append(Case(path.stem, path, path.name, read_header(path)))
    return cases


CASES = load_cases()


# --- the files a case asks for ------------------------------------------------------

def _kernel(where: Path, spec: Any) -> None:
    spec = {"path": spec} if isinstance(spec, str) else spec
    options = {k: v for k, v in spec.items() if k != "path"}
    (where / spec["path"]).write_bytes(s390_kernel(**options))


def _vmlinux(where: Path, path: str) -> None:
    """An uncompressed vmlinux: an s390x ELF executable, not the boot image."""
    (where / path).write_bytes(make_elf(machine=EM_S390, type=ET_EXEC, payload=bytes(70000)))


def _bzimage(where: Path, path: str) -> None:
    """The x86 boot protocol's marks: 0xAA55 at 0x1FE and "HdrS" at 0x202."""
    image = bytearray(random.Random(86).randbytes(80000))
    image[0x1FE:0x200] = b"\x55\xaa"
    image[0x202:0x206] = b"HdrS"
    (where / path).write_bytes(bytes(image))


def _random(where: Path, spec: dict[str, Any]) -> None:
    (where / spec["path"]).write_bytes(random.Random(spec.get("seed", 1)).randbytes(spec["size"]))


def _truncated(where: Path, spec: dict[str, Any]) -> None:
    (where / spec["path"]).write_bytes(s390_kernel()[: spec["size"]])


def _gzip_kernel(where: Path, path: str) -> None:
    (where / path).write_bytes(gzip.compress(s390_kernel(), mtime=0))


def _host_binary(where: Path, path: str) -> None:
    """A binary of the machine running the tests (x86-64 in CI), for wrong-arch cases."""
    true = shutil.which("true")
    assert true is not None
    (where / path).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(true, where / path)


def _symlink(where: Path, spec: dict[str, Any]) -> None:
    link = where / spec["path"]
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(spec["target"])


def _sparse(where: Path, spec: dict[str, Any]) -> None:
    with open(where / spec["path"], "wb") as f:
        f.truncate(spec["size"])


def _mkdir(where: Path, path: str) -> None:
    (where / path).mkdir(parents=True, exist_ok=True)


def _fifo(where: Path, path: str) -> None:
    """A named pipe nobody writes to: reading it would block forever."""
    (where / path).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(where / path)


MAKERS = {"kernel": _kernel, "vmlinux": _vmlinux, "bzimage": _bzimage, "random": _random,
          "truncated": _truncated, "gzip_kernel": _gzip_kernel, "host_binary": _host_binary,
          "symlink": _symlink, "sparse": _sparse, "mkdir": _mkdir, "fifo": _fifo}


# --- running compose and watching what it touches -----------------------------------

def snapshot(directory: Path) -> dict[str, Any]:
    """Everything under `directory`: names, kinds, link targets and contents."""
    state: dict[str, Any] = {}
    for path in sorted(directory.rglob("*")):
        name = str(path.relative_to(directory))
        if path.is_symlink():
            state[name] = ("link", os.readlink(path))
        elif path.is_dir():
            state[name] = ("dir",)
        elif not path.is_file():  # a FIFO or device: its type, never its contents
            state[name] = ("special", stat.S_IFMT(path.lstat().st_mode))
        else:
            info = path.stat()
            if info.st_size > HASHED_UP_TO:
                state[name] = ("big", info.st_size, info.st_mtime_ns)
            else:
                state[name] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return state


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    rss_mb: float


# The measured compose is a grandchild: a child's ru_maxrss includes the high-water mark
# of the memory it was forked from (exec keeps it), and pytest's own is often bigger than
# any limit here. A small interpreter forks compose with the address-space limit set,
# waits for it and writes its exit status and its own peak RSS (in KiB) into REPORT.
_MEASURE = """
import os, resource, sys
report, limit, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execvp(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as file:
    file.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def run_compose(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Run:
    """Run compose and measure its own peak RSS (its rusage alone, see _MEASURE)."""
    with open(cwd.parent / "stdout", "w+b") as out, open(cwd.parent / "stderr", "w+b") as err:
        start = time.monotonic()
        report = cwd.parent / "measured"
        report.unlink(missing_ok=True)
        measure = subprocess.Popen(
            [sys.executable, "-c", _MEASURE, str(report), str(ADDRESS_SPACE), *COMPOSE, *args],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(measure.pid, signal.SIGKILL))
        timer.start()
        try:
            measure.wait()
        finally:
            timer.cancel()
        seconds = time.monotonic() - start
        fields = report.read_text().split() if report.exists() else []
        returncode, rss_kb = (int(fields[0]), int(fields[1])) if len(fields) == 2 else (-9, 0)
        out.seek(0)
        err.seek(0)
        return Run(returncode, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"), seconds, rss_kb / 1024)


def _fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace("{" + key + "}", value)
    return text


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SOURCE_DATE_EPOCH", "COMPOSER_SYSROOT")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _old_image_first(name: str) -> bool:
    return zlib.crc32(name.encode()) % 2 == 0


# Categories whose errors point into a recipe; their message must lead with the place.
LOCATED_CATEGORIES = {"yaml-syntax", "unknown-key", "wrong-type", "destination", "conflict",
                      "template-undefined", "template-sandbox", "extends", "alias-bomb",
                      "device", "image-check", "cmdline-too-long", "wrong-arch",
                      "missing-input", "resolution", "variable-rule"}
# ... except these, whose fault lies outside any recipe: an argument, the environment,
# a file named on the command line, the sysroot's own links.
NOT_IN_A_RECIPE = {"missing-kernel-file", "missing-sysroot", "missing-vars-file",
                   "cmdline-too-long-from-set", "type-set-boolean", "type-set-integer",
                   "typo-set-variable", "vars-file-fifo", "wrong-arch-declared"}
LOCATED = re.compile(r"^compose: error: (\d+ problems:\n  )?[^\s:]+:\d+:\d+: ")


def points_into_the_recipe(case: Case) -> bool:
    return case.expect["category"] in LOCATED_CATEGORIES and case.name not in NOT_IN_A_RECIPE


def assert_located(stderr: str) -> None:
    """FILE:LINE:COL: first, the one form of every error that points into a recipe."""
    assert LOCATED.match(stderr), stderr


def assert_one_paragraph(stderr: str) -> None:
    text = stderr.strip()
    assert text.startswith("compose: error: "), stderr
    assert "\n\n" not in text, stderr
    assert "Traceback" not in text and "internal error" not in text, stderr


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_fails_cleanly_and_writes_nothing(case: Case, tmp_path: Path,
                                                    request: pytest.FixtureRequest) -> None:
    expect = case.expect
    work = tmp_path / "case"
    if case.source.is_dir():
        shutil.copytree(case.source, work, symlinks=True)
    else:
        work.mkdir()
        shutil.copyfile(case.source, work / case.recipe)
    (work / "vmlinuz").write_bytes(s390_kernel())
    for step in expect.get("setup", []):
        ((maker, spec),) = step.items()
        MAKERS[maker](work, spec)
    out = tmp_path / "out"
    out.mkdir()
    places = {"case": str(work), "out": str(out)}
    needs_sysroot = "{sysroot}" in repr(expect)
    if needs_sysroot:
        places["sysroot"] = str(request.getfixturevalue("sysroot"))
    output = _fill(expect.get("output", "{out}/pxelinux.0"), places)
    if _old_image_first(case.name) and Path(output).parent == out:
        Path(output).write_bytes(OLD_IMAGE)
    args = [case.recipe, "-o", output, *(_fill(a, places) for a in expect.get("args", []))]
    env = _environment({k: _fill(str(v), places) for k, v in expect.get("env", {}).items()})
    before = (snapshot(out), snapshot(work))

    run = run_compose(args, work, env, timeout=expect.get("max_seconds", 60) + 30)

    assert run.code == expect["exit"], run.stderr
    messages = expect["message"] if isinstance(expect["message"], list) else [expect["message"]]
    for fragment in messages:
        assert fragment in run.stderr
    assert_one_paragraph(run.stderr)
    if points_into_the_recipe(case):
        assert_located(run.stderr)
    assert run.stdout == ""
    assert (snapshot(out), snapshot(work)) == before, "the failed build changed files"
    assert run.seconds < expect.get("max_seconds", 60), f"took {run.seconds:.1f} s"
    if "max_rss_mb" in expect:
        assert run.rss_mb < expect["max_rss_mb"], f"peak RSS {run.rss_mb:.0f} MB"


def test_the_corpus_covers_every_category_the_issue_lists() -> None:
    counts: dict[str, int] = {}
    for case in CASES:
        counts[case.expect["category"]] = counts.get(case.expect["category"], 0) + 1
    required = {"yaml-syntax", "unknown-key", "wrong-type", "destination", "conflict",
                "missing-input", "template-undefined", "template-sandbox", "kernel-format",
                "cmdline-too-long", "wrong-arch", "sysroot-links", "extends", "alias-bomb",
                "output-is-input", "netboot-limit"}
    assert required <= set(counts), sorted(required - set(counts))
    assert len(CASES) >= 30


def test_an_image_over_the_netboot_limit_is_only_a_warning_by_default(tmp_path: Path) -> None:
    """The same big image that the netboot-limit cases refuse is built, with a warning."""
    case = next(c for c in CASES if c.name == "netboot-limit-switch")
    work = tmp_path / "case"
    shutil.copytree(case.source, work)
    (work / "vmlinuz").write_bytes(s390_kernel())
    for step in case.expect["setup"]:
        ((maker, spec),) = step.items()
        MAKERS[maker](work, spec)
    image = tmp_path / "pxelinux.0"
    run = run_compose([case.recipe, "-o", str(image), "--kernel", "vmlinuz", "--no-check"], work,
                      _environment({}), timeout=120)
    assert run.code == 0, run.stderr
    assert "compose: warning: the image is" in run.stderr
    assert "over the s390 firmware's network-boot limit of 125,820,928 bytes" in run.stderr
    assert image.stat().st_size > 125_820_928
    image.unlink()  # 126 MB that pytest would otherwise keep for three sessions
