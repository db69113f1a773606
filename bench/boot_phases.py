#!/usr/bin/env python3
"""Where a network boot's time goes, phase by phase: an older image against this one.

    python bench/boot_phases.py                        # 3 rounds, base = merge-base with main
    python bench/boot_phases.py --runs 5 --base main --protocols tftp
    python bench/boot_phases.py --write BENCHMARKS.md  # also put the tables into that file
    python bench/boot_phases.py --protocols ipv6-tftp,ipv6-http   # IPv6 only, in the lab (root)

Each boot is recipes/pxelinux.yaml through the s390 firmware's network boot in
qemu-system-s390x (TCG) on QEMU's user network, as `compose boot` runs it (the same
composer.qemu.boot code), kexec'ing into the Debian kernel (vmlinuz, 4.8 MB) with
recipes/stage2.yaml as initrd (1 MB), named by plain names on QEMU's TFTP server or
by URL on an HTTP server bound to 127.0.0.1 (10.0.2.2 in the guest). The config is
pxelinux.cfg/default, so the boot script asks for every name syslinux tries before it.
Every console line is time-stamped on the host as it arrives; the phases are the times
between the lines that end them (the first "starting kernel" is the firmware's, the
last the boot script's); the last row, the kexec'd kernel up to its own "Run /init", is
outside "our own work" but shows what --tb-size costs there.

"before" is the image built from a git worktree of --base (default: the merge-base of
HEAD and main), "after" the one built from this tree; the floor is bench/recipes/
floor.yaml, the same image with the boot script replaced by bare transfers of the same
kernel file (busybox tftp at several block sizes, curl, busybox wget), nothing else
running.
Boots alternate (before, after, floor) round by round, so load from other users of the
machine hits all alike; tables show medians. "Our own work" is Run /init -> the boot
script's "starting kernel" minus the time receiving bytes (kernel and initrd sizes at
the rate of the kernel's progress line). That work includes TCG translating guest code
again after each flush of its cache (16 MB, as `compose boot`; about every half second of
the boot script): --tcg-flushes counts the flushes of each boot's window from QEMU's
monitor (bench/tcg_jit.py) and adds a row. Nothing is written into the repository unless
--write names a file (an IPv6-only run writes between markers of its own).

The IPv6 rows (--protocols ipv6-tftp, ipv6-http) boot the same three images on an
IPv6-only site instead of QEMU's user network, which has no DHCPv6 and no TFTP over
IPv6: composer's lab (composer/qemu/lab.py, as tests/e2e/test_lab_boot.py uses it), a
network namespace made for each boot with the guest's tap on a bridge, dnsmasq (router
advertisements with SLAAC, DHCPv6 with option 59 naming tftp://[fd77::1]/pxelinux.0,
TFTP) and nginx on [fd77::1]:80, both from Debian. The firmware gets its address from the
router advertisement and pxelinux.0 by TFTP over IPv6; the image gets its lease from
dhcpcd (DHCPv6), the config by TFTP over IPv6 from the server in option 59 (the lookup
without the hex-IP names), then the kernel and initrd by TFTP or by http://[fd77::1]/
URLs. The images are built with --set dhcp=ipv6, as an IPv6-only site would build them
(or boot them with ip=dhcp6): with the stock "auto" (--ipv6-dhcp auto) the DHCP phase
also holds udhcpc's unanswered DHCPv4 requests of auto's first look (2 x 3 s: the lab's
router advertises, so DHCPv6 comes next; an init.sh before round 3f waited for all of
dhcp_retries x dhcp_timeout, about 15 s). The
phases end at the same lines, the IPv6 ones where they differ ("init: DHCPv6 on",
"dhcpcd: BOUND6"). The IPv6 floor is floor.yaml over the same lab: busybox tftp of
[fd77::1] (the server of option 59), curl and busybox wget of http://[fd77::1]/vmlinuz;
its rows are marked "IPv6". Each IPv6 row's rate is compared with the bare transfers
over IPv6 in the same guest, never with the IPv4 ones (another server: QEMU's TFTP and
tests/http_server.py there, dnsmasq and nginx here). The lab needs root and the
packages dnsmasq-base and nginx-light (scripts/setup installs them); the bench says so
and stops before building anything when they are missing. In the lab the guest's
receive side sometimes goes dead in the middle of a boot (bare busybox tftp of the floor
included: the server keeps sending to the guest's MAC, the guest only retransmits), so a
lab boot that does not reach its marker within --lab-timeout is booted again (at most
--lab-retries times) and the count is printed under the tables. With QEMU's default card
that happened in most floor boots (10000 lock-step blocks of busybox tftp -b 512); with
virtio's event index off (the guest notifies the card at every receive buffer it gives
back) it did not in the boots tried, so composer's lab turns it off on the guest's card
(composer/qemu/command.py). --lab-nic appends more card options.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
import composer.qemu.boot as qemu_boot  # noqa: E402
from bench.report import splice  # noqa: E402
from bench.tcg_jit import FlushWatch, flushes_between, monitor_arguments  # noqa: E402
from composer.errors import ComposerError  # noqa: E402
from composer.qemu.boot import Site, boot_image  # noqa: E402
from composer.qemu.lab import NATIVE, Lab, check_lab_tools  # noqa: E402
from http_server import HttpServer  # noqa: E402

BEGIN = "<!-- bench/boot_phases.py: begin generated -->"
END = "<!-- bench/boot_phases.py: end generated -->"
# An IPv6-only run (--protocols ipv6-...) has a block of its own, beside the IPv4 one.
BEGIN6 = "<!-- bench/boot_phases.py ipv6: begin generated -->"
END6 = "<!-- bench/boot_phases.py ipv6: end generated -->"
MARKER = "STAGE2-CMDLINE"
MIB = 1048576
# --protocols: name -> the label of its column; IPv6 ones boot in the lab.
PROTOCOLS = {"tftp": "TFTP", "http": "HTTP", "ipv6-tftp": "IPv6-TFTP",
             "ipv6-http": "IPv6-HTTP"}
SERVER6 = NATIVE.ipv6  # the lab's servers, fd77::1
# The IPv6-only site of tests/e2e/test_lab_boot.py: RA with SLAAC and stateful DHCPv6,
# option 59 naming the boot file by TFTP over IPv6.
SITE6 = ["enable-ra", "dhcp-range=fd77::100,fd77::1ff,slaac,64,1h",
         f"dhcp-option=option6:bootfile-url,tftp://[{SERVER6}]/pxelinux.0",
         f"dhcp-option=option6:dns-server,[{SERVER6}]"]

# (phase, what ends it): each pattern is searched from the line after the previous one's.
PHASES = [
    ("firmware", "starting kernel", r"starting kernel"),
    ("our kernel", '"Run /init"', r"Run /init as init process"),
    ("modules and interface", '"init: DHCP on" (IPv6: "DHCPv6 on")', r"^init: DHCP(v6)? on "),
    ("DHCP", '"udhcpc: bound" (IPv6: "dhcpcd: BOUND6")', r"^(udhcpc: bound|dhcpcd: BOUND6)"),
    ("(nothing printed)", "first `pxeboot:` line", r"^pxeboot: "),
    ("config search", '"booting label"', r"^pxeboot: .*booting label"),
    ("kernel transfer", "kernel's last progress line", None),
    ("(after the download)", '"kernel NAME"', r"^pxeboot: kernel "),
    ("initrd, kexec", '"starting kernel"', r"^pxeboot: starting kernel"),
    ("second kernel", 'its "Run /init"', r"Run /init as init process"),
]
RATE = re.compile(r"^pxeboot: \S*vmlinuz: .*?([0-9.]+) MB/s$")


class StampedConsole:
    """The console as (host seconds since QEMU started, line) pairs, stamped on arrival."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.pending = ""
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str, /) -> int:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.lines.append((time.monotonic() - self.start, line.rstrip("\r")))
        return len(text)

    def flush(self) -> None:
        pass


def phases(lines: list[tuple[float, str]], sizes: int) -> dict[str, float]:
    """Seconds per phase, and the derived figures, from one boot's stamped console."""
    result: dict[str, float] = {}
    position, previous = 0, 0.0
    stamps: dict[str, float] = {}
    kernel_line = next((i for i, (_, line) in enumerate(lines)
                        if line.startswith("pxeboot: kernel ")), None)
    for name, _, pattern in PHASES:
        if pattern is None:  # the kernel's last progress line before "kernel NAME"
            found = [i for i in range(position, kernel_line or len(lines))
                     if RATE.match(lines[i][1])]
            if not found:
                raise ValueError("no progress line for vmlinuz on the console")
            index = found[-1]
        else:
            index = next((i for i in range(position, len(lines))
                          if re.search(pattern, lines[i][1])), -1)
            if index < 0:
                raise ValueError(f"no line for the phase {name!r} on the console")
        stamp = lines[index][0]
        result[name] = stamp - previous
        stamps[name] = stamp
        previous, position = stamp, index + 1
        if name == "kernel transfer":
            match = RATE.match(lines[index][1])
            assert match is not None
            result["rate"] = float(match.group(1))
    result["init to kexec"] = stamps["initrd, kexec"] - stamps["our kernel"]
    flushes = flushes_between(lines, stamps["our kernel"], stamps["initrd, kexec"])
    if flushes is not None:
        result["tcg flushes"] = flushes
    result["receiving"] = sizes / MIB / result["rate"]
    result["own work"] = result["init to kexec"] - result["receiving"]
    return result


def compose(*args: object, tree: Path, cwd: Path) -> None:
    """`compose ARGS` of the composer in TREE (its own package and templates)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-m", "composer", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"boot_phases: compose {' '.join(map(str, args[:2]))} in {tree} failed:\n"
                 f"{done.stdout[-3000:]}{done.stderr}")


@contextmanager
def base_tree(ref: str, scratch: Path) -> Iterator[Path]:
    """A detached git worktree of REF, removed afterwards."""
    tree = scratch / "base-tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(tree),
                    ref], check=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                       check=False)


def merge_base() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "merge-base", "HEAD", "main"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def config(kernel: str, initrd: str) -> str:
    return (f"DEFAULT bench\nLABEL bench\n  KERNEL {kernel}\n  INITRD {initrd}\n"
            "  APPEND console=ttysclp0\n")


def tftp_root(root: Path, image: Path, files: Path, kernel: str, initrd: str) -> Path:
    (root / "pxelinux.cfg").mkdir(parents=True)
    shutil.copy(image, root / "pxelinux.0")
    for name in ("vmlinuz", "stage2.img"):
        (root / name).symlink_to(files / name)
    (root / "pxelinux.cfg/default").write_text(config(kernel, initrd))
    return root


@contextmanager
def qemu_arguments(rewrite: Callable[[str], str] = str,
                   append: Sequence[str] = ()) -> Iterator[None]:
    """Each argument of the QEMU command that `compose boot` would run passed through
    REWRITE, and APPEND after them, for the boots in this block."""
    original = qemu_boot.qemu_command

    def command(*args: Any, **kwargs: Any) -> list[str]:
        return [*(rewrite(arg) for arg in original(*args, **kwargs)), *append]

    qemu_boot.qemu_command = command
    try:
        yield
    finally:
        qemu_boot.qemu_command = original


def nic_options(extra: str) -> contextlib.AbstractContextManager[None]:
    """The guest's card (QEMU's `-device virtio-net-ccw,netdev=n0,...`) with EXTRA
    appended to its options."""
    return qemu_arguments(lambda arg: arg + extra
                          if arg.startswith("virtio-net-ccw,netdev=n0") else arg)


def tcg_cache(megabytes: int) -> contextlib.AbstractContextManager[None]:
    """TCG's translation cache at MEGABYTES instead of `compose boot`'s 16 (a small
    cache makes the kexec'd kernel decompress ~7x faster, but it fills and is flushed
    in the middle of the boot script: every code path run after a flush is translated
    again, which lands on whatever runs then)."""
    return qemu_arguments(lambda arg: arg.replace("tcg,tb-size=16", f"tcg,tb-size={megabytes}"))


class LabBoots:
    """How the IPv6 rows' boots went: each is tried again (up to RETRIES more times) when
    it does not reach its marker within TIMEOUT seconds, and counted; the failed console
    is kept beside the log as NAME.failed-N.log."""

    def __init__(self, retries: int, timeout: float, nic: str = "") -> None:
        self.retries, self.timeout, self.nic = retries, timeout, nic
        self.failed: list[str] = []
        self.total = 0


def boot(root: Path, expect: str, timeout: float, log: Path | None,
         lab_http: Path | None = None, lab: LabBoots | None = None,
         jit: Path | None = None) -> list[tuple[float, str]]:
    """One boot on QEMU's user network, or with LAB_HTTP (nginx's root) in an IPv6-only
    lab made for it (tried again as LAB says); its clock starts when QEMU does, after the
    lab is up. With JIT (a socket path) its lines include TCG's flush counts (tcg_jit)."""
    tries = 1 + (lab.retries if lab is not None and lab_http is not None else 0)
    for attempt in range(1, tries + 1):
        with contextlib.ExitStack() as stack:
            site = Site()
            if lab_http is not None:
                made = stack.enter_context(Lab(root, lab_http, dnsmasq_lines=SITE6,
                                               ipv4=False))
                site = Site(netns=made.netns, tap=made.tap)
                timeout = lab.timeout if lab is not None else timeout
                stack.enter_context(nic_options(lab.nic if lab is not None else ""))
            console = StampedConsole()
            watch = None
            if jit is not None:
                jit.unlink(missing_ok=True)
                stack.enter_context(qemu_arguments(append=monitor_arguments(jit)))
                watch = stack.enter_context(FlushWatch(jit))
            result = boot_image(root / "pxelinux.0", tftp_dir=root, expect=expect,
                                timeout=timeout, console=console, site=site)
        if watch is not None:
            console.lines = sorted(console.lines + watch.lines(console.start))
        text = "".join(f"{t:8.3f} {line}\n" for t, line in console.lines)
        if lab is not None and lab_http is not None:
            lab.total += 1
        if result.marker_seen:
            if log is not None:
                log.write_text(text)
            return console.lines
        last = next((line for _, line in reversed(console.lines)
                     if line and not line.startswith("[")), "")
        if log is not None:
            log.with_suffix(f".failed-{attempt}.log").write_text(text)
        if attempt < tries and lab is not None:
            lab.failed.append(f"{root.name}: {result.outcome}, last line {last!r}")
            print(f"boot_phases: {root.name}: {result.outcome} after {last!r}; "
                  "booting again", file=sys.stderr)
            continue
        tail = "\n".join(line for _, line in console.lines[-40:])
        sys.exit(f"boot_phases: {root.name}: {result.outcome} before {expect!r}:\n{tail}")
    raise AssertionError("unreachable")


def floor_rates(lines: list[tuple[float, str]], prefix: str = "") -> dict[str, float]:
    """MB/s (MiB, as the boot script counts) of each bare transfer, named PREFIX + kind."""
    rates = {}
    for _, line in lines:
        match = re.match(r"^FLOOR (\S+) ([0-9]+) ([0-9]+)$", line)
        if match:
            rates[prefix + match.group(1)] = (int(match.group(2)) / MIB
                                              / max(int(match.group(3)), 1) * 100)
    return rates


def median(values: list[float]) -> float:
    return statistics.median(values)


def client(key: str) -> str:
    """The bare client of a floor row: http -> curl, tftp-512 -> busybox tftp -b 512."""
    base = key.removeprefix("ipv6 ")
    return {"http": "curl", "http-wget": "busybox wget"}.get(
        base, base.replace("tftp-", "busybox tftp -b "))


def floor_keys(protocol: str) -> list[str]:
    """The floor rows a protocol's rate is compared with, the goal's first."""
    prefix = "ipv6 " if protocol.startswith("IPv6") else ""
    base = ["tftp-1468", "tftp-512", "tftp-8192"] if protocol.endswith("TFTP") else \
        ["http", "http-wget"]
    return [prefix + key for key in base]


def tables(results: dict[str, list[dict[str, float]]], floors: list[dict[str, float]],
           kinds: list[str], runs: int, base: str, command: str,
           loads: list[str]) -> str:
    head = ["phase", "ends at", *kinds]
    rows = [f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `{command}`; before = {base}, "
            f"after = this tree; {runs} round(s), medians; `uptime` load averages: "
            f"{'; '.join(loads)} ({os.cpu_count()} CPUs).", "",
            "| " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(kinds)]

    def row(label: str, ends: str, key: str, unit: str = "s", digits: int = 2) -> None:
        cells = [f"{median([r[key] for r in results[k]]):.{digits}f} {unit}".rstrip()
                 for k in kinds]
        rows.append(f"| {label} | {ends} | " + " | ".join(cells) + " |")

    for name, ends, _ in PHASES:
        row(name, ends, name)
    row("**Run /init → starting kernel**", "", "init to kexec")
    row("receiving bytes", "5.8 MB at the kernel's rate", "receiving")
    row("**our own work**", "the rest", "own work")
    row("kernel transfer rate", "progress line", "rate", "MB/s", 1)
    if all("tcg flushes" in r for k in kinds for r in results[k]):
        row("TCG cache flushes (`--tcg-flushes`)", "Run /init → starting kernel",
            "tcg flushes", "", 1)
    rows.append("")
    keys = sorted({key for floor in floors for key in floor},
                  key=lambda k: (k.startswith("ipv6"), "http" in k, len(k), k))
    rows += ["| bare transfer in the same guest (floor) | MB/s |", "|---|---:|"]
    for key in keys:
        value = median([floor[key] for floor in floors if key in floor])
        over = " over IPv6" if key.startswith("ipv6") else ""
        rows.append(f"| `{client(key)}` of vmlinuz{over} | {value:.1f} |")
    rows.append("")
    for kind in kinds:
        if not kind.startswith("after"):
            continue
        protocol = kind.split()[-1]
        before = kind.replace("after", "before")
        own = median([r["own work"] for r in results[kind]])
        own_before = median([r["own work"] for r in results[before]])
        rate = median([r["rate"] for r in results[kind]])
        ratios = [(key, rate / median(found)) for key in floor_keys(protocol)
                  if (found := [f[key] for f in floors if key in f])]
        line = (f"- {protocol}: our own work {own_before:.2f} s → {own:.2f} s "
                f"(**{own / own_before:.2f}x**, goal ≤ 1.0 s); rate {rate:.1f} MB/s")
        if ratios:
            (key, ratio), others = ratios[0], ratios[1:]
            line += (f" = **{ratio:.2f}x** the bare `{client(key)}` (goal ≥ 0.8x)"
                     + "".join(f", {r:.2f}x `{client(k)}`" for k, r in others))
        rows.append(line)
    rows.append("")
    return "\n".join(rows)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True,
                          check=False).stdout.split("load average:")[-1].strip()


def check_lab() -> None:
    """The IPv6 rows' lab needs root, ip, dnsmasq and nginx: say so before any build."""
    try:
        check_lab_tools()
    except ComposerError as error:
        sys.exit("boot_phases: the IPv6 rows boot in composer's lab (a network namespace "
                 f"with dnsmasq and nginx, composer/qemu/lab.py): {error}")


def http_url(name: str, ipv6: bool, web: HttpServer) -> str:
    """NAME on the HTTP server the guest reaches: nginx of the lab, or the host's."""
    return f"http://[{SERVER6}]/{name}" if ipv6 else web.url(name, host="10.0.2.2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--base", help="git ref of the 'before' image (default: the "
                                       "merge-base of HEAD and main)")
    parser.add_argument("--protocols", default="tftp,http",
                        help="comma-separated: tftp, http (QEMU's user network, IPv4), "
                             "ipv6-tftp, ipv6-http (an IPv6-only lab: needs root, dnsmasq "
                             "and nginx) (default tftp,http)")
    parser.add_argument("--ipv6-dhcp", choices=("ipv6", "auto"), default="ipv6",
                        help="the images' dhcp variable for the IPv6 rows (default ipv6; "
                             "auto adds the unanswered DHCPv4 to the DHCP phase)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per boot")
    parser.add_argument("--lab-timeout", type=float, default=150,
                        help="seconds per IPv6 (lab) boot before it counts as stalled "
                             "(default 150; one takes about 20-40 s)")
    parser.add_argument("--lab-nic", default="", metavar="OPTIONS",
                        help="appended to the guest card's -device options in the lab, "
                             "e.g. ',event_idx=on' (composer's lab turns virtio's event "
                             "index off: with it the guest's receive side stalled in most "
                             "floor boots)")
    parser.add_argument("--lab-retries", type=int, default=2,
                        help="a stalled IPv6 boot is booted again up to this many times "
                             "(default 2); the table counts them")
    parser.add_argument("--sysroot", type=Path,
                        default=Path.home() / ".cache/composer/sysroot-s390x")
    parser.add_argument("--tb-size", type=int, default=16, metavar="MB",
                        help="TCG's translation cache in MB (default 16, as `compose boot`; "
                             "a bigger one is flushed less often during the boot script, but "
                             "when none falls between the boot script and kexec the second "
                             "kernel takes about a minute to start: its row)")
    parser.add_argument("--tcg-flushes", action="store_true",
                        help="count TCG's translation cache flushes in each boot's window "
                             "(QEMU's monitor, `info jit`, asked 10 times a second: see "
                             "bench/tcg_jit.py) and add a row for them")
    parser.add_argument("--logs", type=Path, metavar="DIR",
                        help="keep each boot's time-stamped console in DIR")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="splice the tables into FILE (e.g. BENCHMARKS.md)")
    args = parser.parse_args()
    protocols = [p.strip().lower() for p in args.protocols.split(",") if p.strip()]
    if not protocols or set(protocols) - PROTOCOLS.keys():
        sys.exit(f"boot_phases: --protocols takes {', '.join(PROTOCOLS)} (comma-separated)")
    families = sorted({p.startswith("ipv6") for p in protocols})  # False: IPv4, True: IPv6
    if True in families:
        check_lab()
    base = args.base or merge_base()
    command = "python " + " ".join(["bench/boot_phases.py", *sys.argv[1:]])
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    loads = [uptime()]
    lab = LabBoots(args.lab_retries, args.lab_timeout, args.lab_nic)
    with tempfile.TemporaryDirectory(prefix="composer-boot-phases-") as scratch_name, \
            tcg_cache(args.tb_size):
        scratch = Path(scratch_name)
        jit = scratch / "monitor.sock" if args.tcg_flushes else None
        files = scratch / "files"
        files.mkdir()
        shutil.copy(next((args.sysroot / "boot").glob("vmlinuz-*")), files / "vmlinuz")
        compose(REPO / "recipes/stage2.yaml", "--sysroot", args.sysroot,
                "--initramfs", files / "stage2.img", tree=REPO, cwd=scratch)
        sizes = sum((files / name).stat().st_size for name in ("vmlinuz", "stage2.img"))
        with HttpServer(files) as web, base_tree(base, scratch) as tree:
            images, floor_roots = {}, {}
            for ipv6 in families:
                family = "6" if ipv6 else ""
                sets = ["--set", "on_failure=poweroff"]
                if ipv6:
                    sets += ["--set", f"dhcp={args.ipv6_dhcp}"]
                for side, source in (("before", tree), ("after", REPO)):
                    images[side, ipv6] = scratch / f"{side}{family}.0"
                    compose(source / "recipes/pxelinux.yaml", "--sysroot", args.sysroot,
                            "-o", images[side, ipv6], *sets, tree=source, cwd=scratch)
                floor_image = scratch / f"floor{family}.0"
                compose(REPO / "bench/recipes/floor.yaml", "--sysroot", args.sysroot, "-o",
                        floor_image, *sets[2:], "--set",
                        f"cmdline=floor_url={http_url('vmlinuz', ipv6, web)}",
                        tree=REPO, cwd=scratch)
                floor_roots[ipv6] = tftp_root(scratch / f"floor{family}", floor_image, files,
                                              "vmlinuz", "stage2.img")
            roots = {}
            for side in ("before", "after"):
                for protocol in protocols:
                    ipv6 = protocol.startswith("ipv6")
                    kind = f"{side} {PROTOCOLS[protocol]}"
                    names = (("vmlinuz", "stage2.img") if protocol.endswith("tftp") else
                             (http_url("vmlinuz", ipv6, web), http_url("stage2.img", ipv6, web)))
                    roots[kind] = (tftp_root(scratch / kind.replace(" ", "-"),
                                             images[side, ipv6], files, *names), ipv6)
            results: dict[str, list[dict[str, float]]] = {kind: [] for kind in roots}
            floors: list[dict[str, float]] = []
            for run in range(args.runs):
                for kind, (root, ipv6) in roots.items():
                    log = args.logs / f"{run + 1}-{root.name}.log" if args.logs else None
                    lines = boot(root, MARKER, args.timeout, log, files if ipv6 else None,
                                 lab, jit)
                    results[kind].append(phases(lines, sizes))
                    figures = results[kind][-1]
                    flushes = (f", {figures['tcg flushes']:.0f} TCG flushes"
                               if "tcg flushes" in figures else "")
                    print(f"round {run + 1} {kind}: init->kexec {figures['init to kexec']:.2f}"
                          f" s, own work {figures['own work']:.2f} s, "
                          f"{figures['rate']:.1f} MB/s{flushes}", file=sys.stderr)
                floor: dict[str, float] = {}
                for ipv6, root in floor_roots.items():
                    log = args.logs / f"{run + 1}-{root.name}.log" if args.logs else None
                    floor |= floor_rates(boot(root, "FLOOR-DONE", args.timeout, log,
                                              files if ipv6 else None, lab),
                                         "ipv6 " if ipv6 else "")
                floors.append(floor)
                print(f"round {run + 1} floor: " + ", ".join(
                    f"{k} {v:.1f} MB/s" for k, v in floors[-1].items()), file=sys.stderr)
                loads.append(uptime())
    kinds = [f"{side} {PROTOCOLS[protocol]}" for protocol in protocols
             for side in ("before", "after")]
    generated = tables(results, floors, kinds, args.runs, base[:12], command,
                       [loads[0], loads[-1]])
    if lab.total:
        card = "event_idx=off" + (f", {args.lab_nic!r} appended" if args.lab_nic else "")
        generated += (f"\nIPv6 (lab) boots: {lab.total} (guest card: {card}), "
                      f"of which {len(lab.failed)} did not "
                      f"reach their marker within {args.lab_timeout:.0f} s and were booted "
                      "again" + "".join(f"\n- {failure}" for failure in lab.failed) + "\n")
    print(generated)
    if args.write:
        splice(args.write, generated, *((BEGIN, END) if False in families else (BEGIN6, END6)))


if __name__ == "__main__":
    main()
