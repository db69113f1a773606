#!/usr/bin/env python3
"""What verified HTTPS and signatures cost the pxelinux image: size and boot time.

    python bench/trust_cost.py                        # one boot of each kind
    python bench/trust_cost.py --runs 2 --write BENCHMARKS.md

Two images are built from the same sysroot in the same run: the stock recipes/pxelinux.yaml
(curl with its libraries, Debian's CA bundle, gpgv) and the same recipe without them (a
copy of it with curl and gpgv and the four trust variables taken out: no CA bundle, no
keyring). For each: the image size and its compressed initramfs. Then boots, one at a
time, alternating so that load from other users hits all alike, each `compose boot`
through the s390 firmware into recipes/stage2.yaml (kernel and initrd fetched by
the image): "without", TFTP; "stock", TFTP (the cost of the bigger image alone); "stock",
HTTPS against a host server with a CA made here (https_ca), kernel and initrd by URL;
"stock", HTTPS and signatures: require (two more transfers, gpgv twice). Measured:
seconds from QEMU's start to the second stage's marker, as compose boot reports it.
Nothing is written into the repository unless --write names a file.
"""

from __future__ import annotations

import argparse
import json
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
from signing import Keys  # noqa: E402
from testca import TestCA  # noqa: E402

BEGIN = "<!-- bench/trust_cost.py: begin generated -->"
END = "<!-- bench/trust_cost.py: end generated -->"
MARKER = "STAGE2-CMDLINE<"
TRUST_VARIABLES = ("https_ca", "https_insecure", "signatures", "signing_keys")


def compose(*args: object, cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run([sys.executable, "-m", "composer", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=timeout)
    if done.returncode != 0:
        sys.exit(f"trust_cost: compose {' '.join(map(str, args[:2]))} failed:\n"
                 f"{done.stdout[-3000:]}{done.stderr}")
    return done.stdout + done.stderr


def without_trust(work: Path) -> Path:
    """The stock recipe's text without curl, gpgv and the trust variables (their lines
    and comment continuations), its sources made absolute."""
    lines, skipping = [], False
    for line in (REPO / "recipes/pxelinux.yaml").read_text().splitlines():
        item = line.strip()
        if item.startswith(tuple(f"{name}:" for name in TRUST_VARIABLES)) or \
                re.match(r"- (curl|gpgv)\b", item):
            skipping = True
            continue
        if skipping and item.startswith("#") and line.startswith("    "):
            continue
        skipping = False
        lines.append(line.replace("source: ../", f"source: {REPO}/"))
    path = work / "without.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def initramfs_size(image: Path, work: Path) -> int:
    info = json.loads(compose("inspect", image, "--json", cwd=work))
    return int(info["header"]["initrd_size"])


def build(work: Path, sysroot: Path, keys: Keys, ca: TestCA) -> dict[str, Path]:
    (work / "ca.pem").write_bytes(ca.pem)
    keys.export(work / "keys.gpg")
    common = ("--sysroot", sysroot, "--set", "on_failure=poweroff")
    compose(REPO / "recipes/pxelinux.yaml", *common, "-o", "stock.0", cwd=work)
    compose(REPO / "recipes/pxelinux.yaml", *common, "-o", "https.0", "--set",
            "https_ca=ca.pem", "--allow-path", work, cwd=work)
    compose(REPO / "recipes/pxelinux.yaml", *common, "-o", "signed.0", "--set",
            "https_ca=ca.pem", "--set", "signatures=require", "--set",
            "signing_keys=keys.gpg", "--allow-path", work, cwd=work)
    compose(without_trust(work), *common, "-o", "without.0", "--allow-path", REPO / "bootscripts",
            cwd=work)
    compose(REPO / "recipes/stage2.yaml", "--sysroot", sysroot, "--initramfs",
            "stage2.img", cwd=work)
    shutil.copy(next((sysroot / "boot").glob("vmlinuz-*")), work / "vmlinuz")
    return {name: work / f"{name}.0" for name in ("without", "stock", "https", "signed")}


def boot(work: Path, tftp: Path, timeout: float) -> float:
    out = compose("boot", tftp / "pxelinux.0", "--tftp", tftp, "--expect", MARKER,
                  "--timeout", timeout, "-v", cwd=work, timeout=timeout + 60)
    seen = re.search(r"seen after ([0-9.]+) s", out)
    if not seen:
        sys.exit(f"trust_cost: no marker:\n{out[-3000:]}")
    return float(seen.group(1))


def config(kernel: str, initrd: str) -> str:
    return (f"DEFAULT bench\nLABEL bench\n  KERNEL {kernel}\n  INITRD {initrd}\n"
            "  APPEND console=ttysclp0\n")


def table(sizes: dict[str, tuple[int, int]], times: dict[str, list[float]], runs: int) -> str:
    def mib(n: int) -> str:
        return f"{n / 1048576:.2f} MiB"

    base_image, base_initrd = sizes["without"]
    image, initrd = sizes["stock"]
    load = os.getloadavg()[0]
    rows = [f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {runs} boot(s) each, medians; "
            f"load average {load:.1f} on {os.cpu_count()} CPUs at the end.", "",
            "| image | pxelinux.0 | its initramfs (gzip) |", "|---|---:|---:|",
            f"| without curl, gpgv, CA bundle | {mib(base_image)} | {mib(base_initrd)} |",
            f"| stock (curl + libraries, Debian's CA bundle, gpgv) | {mib(image)} | "
            f"{mib(initrd)} |",
            f"| cost | +{mib(image - base_image)} ({(image / base_image - 1) * 100:.0f}%) | "
            f"+{mib(initrd - base_initrd)} |", "",
            "| boot (firmware to second stage) | seconds | vs. without, TFTP |",
            "|---|---:|---:|"]
    base = statistics.median(times["without, TFTP"])
    for kind, values in times.items():
        median = statistics.median(values)
        rows.append(f"| {kind} | {median:.1f} s | {median / base:.2f}x |")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="boots of each kind (default 1)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per boot")
    parser.add_argument("--sysroot", type=Path,
                        default=Path.home() / ".cache/composer/sysroot-s390x")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="splice the tables into FILE (e.g. BENCHMARKS.md)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="composer-trust-cost-") as scratch:
        work = Path(scratch)
        keys = Keys(work / "gnupg")
        try:
            ca = TestCA()
            images = build(work, args.sysroot, keys, ca)
            sizes = {name: (path.stat().st_size, initramfs_size(path, work))
                     for name, path in images.items()}
            www = work / "www"
            www.mkdir()
            for name in ("vmlinuz", "stage2.img"):
                shutil.copy(work / name, www / name)
                keys.sign(www / name)
            cert = ca.issue(["10.0.2.2"])
            times: dict[str, list[float]] = {}
            with HttpServer(www, tls=cert.context(work / "tls")) as web:
                def url(name: str) -> str:
                    return web.url(name, host="10.0.2.2")

                kinds = {"without, TFTP": ("without", config("vmlinuz", "stage2.img")),
                         "stock, TFTP": ("stock", config("vmlinuz", "stage2.img")),
                         "stock, HTTPS": ("https", config(url("vmlinuz"), url("stage2.img"))),
                         "stock, HTTPS + signatures": (
                             "signed", config(url("vmlinuz"), url("stage2.img")))}
                roots = {}
                for kind, (image, text) in kinds.items():
                    root = work / re.sub(r"\W+", "-", kind)
                    (root / "pxelinux.cfg").mkdir(parents=True)
                    shutil.copy(images[image], root / "pxelinux.0")
                    for name in ("vmlinuz", "stage2.img"):
                        (root / name).symlink_to(work / name)
                    (root / "pxelinux.cfg/default").write_text(text)
                    keys.sign(root / "pxelinux.cfg/default")
                    roots[kind] = root
                for run in range(args.runs):
                    for kind, root in roots.items():
                        seconds = boot(work, root, args.timeout)
                        times.setdefault(kind, []).append(seconds)
                        print(f"run {run + 1} {kind}: {seconds:.1f} s", file=sys.stderr)
        finally:
            keys.close()
    generated = table(sizes, times, args.runs)
    print(generated)
    if args.write:
        splice(args.write, generated, BEGIN, END)


if __name__ == "__main__":
    main()
