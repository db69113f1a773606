#!/usr/bin/env python3
"""The composer against GNU cpio, bsdtar, cat and dracut, on the real Debian sysroots.

    python bench/run.py                          # every section, 5 runs each: tables
    python bench/run.py --only uncompressed --runs 9
    python bench/run.py --write BENCHMARKS.md    # also put the tables into that file

Every command runs as a fresh process (wall time as a user sees it; peak RSS from GNU
time), round-robin with its peers so load from other users of the machine hits all of
them alike; the first round only warms the page cache; tables show medians. Staged
trees and outputs live in a temporary directory on tmpfs (or --work-dir), removed at
the end: nothing is written into the repository unless --write names a file.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import sections  # noqa: E402
from bench.install import install_wheel  # noqa: E402
from bench.report import document, splice, targets_table  # noqa: E402
from bench.sections import Bench  # noqa: E402
from bench.trees import REPO  # noqa: E402

CACHE = Path.home() / ".cache" / "composer"


def sysroot(given: Path | None, arch: str) -> Path:
    """The sysroot, fetched by scripts/fetch-sysroot when the cache doesn't have it."""
    if given is not None:
        return given
    default = CACHE / f"sysroot-{arch}"
    if (default / "lib/modules").is_dir():
        return default
    print(f"fetching the {arch} sysroot (scripts/fetch-sysroot --arch {arch})",
          file=sys.stderr)
    done = subprocess.run([sys.executable, str(REPO / "scripts/fetch-sysroot"), "--arch", arch],
                          stdout=subprocess.PIPE, text=True, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def work_directory(given: Path | None) -> Path:
    """tmpfs by default: outputs in RAM keep the shared disk's noise out of the numbers."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="composer-bench-", dir=given))
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and shutil.disk_usage(shm).free > 3 << 30 else None
    return Path(tempfile.mkdtemp(prefix="composer-bench-", dir=parent))


def first_line(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "not installed"
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 \
        else "not installed"


def header(argv: Sequence[str], work: Path, installed: bool) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    fs = first_line(["stat", "-f", "-c", "%T", str(work)])
    tools = [
        f"Python {sys.version.split()[0]}",
        first_line(["cpio", "--version"]),
        first_line(["bsdtar", "--version"]),
        first_line(["zstd", "--version"]).strip("* "),
        first_line(["gzip", "--version"]),
        "dracut " + first_line(["dpkg-query", "-W", "-f", "${Version}", "dracut-core"]),
    ]
    command = " ".join(["python bench/run.py", *map(shlex.quote, argv)])
    return "\n".join([
        f"Command: `{command}`",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu}), "
        f"Linux {os.uname().release}; outputs and staged trees on {fs}. Times are medians "
        "of wall seconds per fresh process; the machine is shared, so min-max is shown.",
        "",
        "Tools: " + "; ".join(tools) + ".",
        "",
        "composer: " + ("our wheel (scripts/build-wheel) installed into a fresh venv, run as "
                        "its `compose` script" if installed else
                        "`python -m composer` from the checkout (--checkout)") + ".",
        "",
    ])


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--dracut-runs", type=int, default=3,
                        help="timed runs of the dracut comparison (about 20 s each; default 3)")
    parser.add_argument("--only", action="append", choices=sections.ORDER, default=[],
                        help="run only this section (repeatable)")
    parser.add_argument("--s390x", type=Path, help="s390x sysroot (default: the fetched one)")
    parser.add_argument("--amd64", type=Path, help="amd64 sysroot (default: the fetched one)")
    parser.add_argument("--work-dir", type=Path,
                        help="where staged trees and outputs go (default: tmpfs /dev/shm)")
    parser.add_argument("--checkout", action="store_true",
                        help="run `python -m composer` from the checkout instead of the "
                             "wheel installed into a fresh venv (bench/install.py)")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="splice the tables into FILE (BENCHMARKS.md)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.dracut_runs < 1:
        parser.error("--runs and --dracut-runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    chosen = [s for s in sections.ORDER if not args.only or s in args.only]
    needs_amd64 = any(s in ("memory", "dracut") for s in chosen)
    work = work_directory(args.work_dir)
    try:
        bench = Bench(runs=args.runs, dracut_runs=args.dracut_runs, work=work,
                      s390x=sysroot(args.s390x, "s390x"),
                      amd64=sysroot(args.amd64, "amd64") if needs_amd64 else None,
                      installed=None if args.checkout else install_wheel(work))
        for name in chosen:
            print(f"== {name}", file=sys.stderr, flush=True)
            bench.tables += sections.RUN[name](bench)
        tables = [*bench.tables, targets_table(bench.targets)]
        text = document(header(_without_write(argv), work, bench.installed is not None),
                        tables)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text)
    if args.write is not None:
        splice(args.write, text)
        print(f"wrote {args.write}", file=sys.stderr)
    return 0 if all(t.met for t in bench.targets) else 1


def _without_write(argv: Sequence[str]) -> list[str]:
    """The command line to reproduce the numbers: --write FILE changes nothing measured."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--write":
            skip = True
        elif not arg.startswith("--write="):
            out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main())
