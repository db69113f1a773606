#!/usr/bin/env python3
"""Boot time with a 100 MB initrd, fetched over HTTP against TFTP, in the same run.

    python bench/boot_fetch.py                        # one HTTP and one TFTP boot
    python bench/boot_fetch.py --runs 3 --size-mb 100
    python bench/boot_fetch.py --write BENCHMARKS.md  # also put the table into that file

Each boot is `compose boot` of recipes/pxelinux.yaml through the s390 firmware's network
boot in qemu-system-s390x (TCG), kexec'ing into recipes/stage2.yaml with the Debian
kernel and two initrds: stage2.img and an uncompressed SIZE MB one. For HTTP the config
names kernel and initrds by URL on a server bound to 127.0.0.1 (10.0.2.2 in the guest);
for TFTP by plain names on QEMU's TFTP server. HTTP and TFTP boots alternate, so load
from other users of the machine hits both alike. Measured: seconds from QEMU's start to
the second stage's marker (as compose boot reports it), and the initrd's transfer rate
from the boot script's last progress line. Nothing is written into the repository unless
--write names a file.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from bench.report import splice  # noqa: E402
from http_server import HttpServer  # noqa: E402

BEGIN = "<!-- bench/boot_fetch.py: begin generated -->"
END = "<!-- bench/boot_fetch.py: end generated -->"
MARKER = "STAGE2-FILE"


def compose(*args: object, cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run([sys.executable, "-m", "composer", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=timeout)
    if done.returncode != 0:
        sys.exit(f"boot_fetch: compose {' '.join(map(str, args[:2]))} failed:\n"
                 f"{done.stdout[-3000:]}{done.stderr}")
    return done.stdout + done.stderr


def newc(name: str, data: bytes, ino: int) -> bytes:
    fields = [ino, 0o100644, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + "".join(f"{field:08X}" for field in fields).encode() + name.encode()
    head += b"\0" * (4 - len(head) % 4)
    return head + data + b"\0" * ((4 - len(data) % 4) % 4)


def build(work: Path, sysroot: Path, size_mb: int) -> None:
    compose(REPO / "recipes/pxelinux.yaml", "--sysroot", sysroot, "-o", "pxelinux.0",
            "--set", "on_failure=poweroff", cwd=work)
    compose(REPO / "recipes/stage2.yaml", "--sysroot", sysroot, "--initramfs",
            "stage2.img", cwd=work)
    shutil.copy(next((sysroot / "boot").glob("vmlinuz-*")), work / "vmlinuz")
    with (work / "big.img").open("wb") as file:
        file.write(newc("extra-big", os.urandom(size_mb << 20), 1))
        file.write(newc("TRAILER!!!", b"", 0))


def config(kernel: str, initrds: list[str]) -> str:
    return (f"DEFAULT bench\nLABEL bench\n  KERNEL {kernel}\n  INITRD {','.join(initrds)}\n"
            "  APPEND console=ttysclp0\n")


def boot(work: Path, tftp: Path, timeout: float) -> tuple[float, float]:
    """(seconds to the marker, MB/s of big.img)."""
    out = compose("boot", tftp / "pxelinux.0", "--tftp", tftp, "--expect", MARKER,
                  "--timeout", timeout, "-v", cwd=work, timeout=timeout + 60)
    seen = re.search(r"seen after ([0-9.]+) s", out)
    rates = re.findall(r"pxeboot: \S*big\.img: .* ([0-9.]+) MB/s", out)
    if not seen or not rates:
        sys.exit(f"boot_fetch: no marker or no progress line:\n{out[-3000:]}")
    return float(seen.group(1)), float(rates[-1])


def table(results: dict[str, list[tuple[float, float]]], size_mb: int, runs: int) -> str:
    def median(kind: str, index: int) -> float:
        return statistics.median(result[index] for result in results[kind])

    http, tftp = median("HTTP", 0), median("TFTP", 0)
    load = os.getloadavg()[0]
    rows = [f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {runs} boot(s) each, medians; "
            f"load average {load:.1f} on {os.cpu_count()} CPUs at the end.", "",
            f"| fetch | boot to second stage, {size_mb} MB initrd | initrd transfer |",
            "|---|---:|---:|"]
    for kind in ("HTTP", "TFTP"):
        rows.append(f"| {kind} | {median(kind, 0):.1f} s | {median(kind, 1):.1f} MB/s |")
    rows += ["", f"HTTP / TFTP boot time: **{http / tftp:.2f}x** (goal: at most 0.5x)", ""]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="boots of each kind (default 1)")
    parser.add_argument("--size-mb", type=int, default=100, help="initrd size (default 100)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per boot")
    parser.add_argument("--sysroot", type=Path,
                        default=Path.home() / ".cache/composer/sysroot-s390x")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="splice the table into FILE (e.g. BENCHMARKS.md)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="composer-boot-fetch-") as scratch:
        work = Path(scratch)
        build(work, args.sysroot, args.size_mb)
        www, tftp_http, tftp_tftp = work / "www", work / "tftp-http", work / "tftp-tftp"
        for directory in (www, tftp_http / "pxelinux.cfg", tftp_tftp / "pxelinux.cfg"):
            directory.mkdir(parents=True)
        for name in ("vmlinuz", "stage2.img", "big.img"):
            (www / name).symlink_to(work / name)
            (tftp_tftp / name).symlink_to(work / name)
        for tftp in (tftp_http, tftp_tftp):
            shutil.copy(work / "pxelinux.0", tftp)
        results: dict[str, list[tuple[float, float]]] = {"HTTP": [], "TFTP": []}
        with HttpServer(www) as web:
            def url(name: str) -> str:
                return web.url(name, host="10.0.2.2")

            (tftp_http / "pxelinux.cfg/default").write_text(
                config(url("vmlinuz"), [url("stage2.img"), url("big.img")]))
            (tftp_tftp / "pxelinux.cfg/default").write_text(
                config("vmlinuz", ["stage2.img", "big.img"]))
            for run in range(args.runs):
                for kind, tftp in (("HTTP", tftp_http), ("TFTP", tftp_tftp)):
                    seconds, rate = boot(work, tftp, args.timeout)
                    results[kind].append((seconds, rate))
                    print(f"run {run + 1} {kind}: {seconds:.1f} s, {rate:.1f} MB/s",
                          file=sys.stderr)
    generated = table(results, args.size_mb, args.runs)
    print(generated)
    if args.write:
        splice(args.write, generated, BEGIN, END)


if __name__ == "__main__":
    main()
