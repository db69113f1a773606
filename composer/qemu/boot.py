"""Network-boot an s390 image in qemu-system-s390x, the way a real DHCP/TFTP setup would.

The image is never handed to QEMU with `-kernel`: that path overwrites the command line at
0x10480 and skips the firmware. Instead QEMU's user network acts as DHCP and TFTP server
and the s390 firmware (s390-netboot.img) fetches IMAGE as its boot file, loads it at 0
and jumps into it, exactly what an LPAR or z/VM guest does with a PXE server.

What a run looks like (QEMU 7.2, TCG, seen here): the firmware prints `LOADPARM`,
`Network boot starting...`, DHCP and TFTP progress, then the kernel logs on the SCLP
console (`ttysclp0`); /init runs about 4-5 s after QEMU started. QEMU exits with status 0
on a power-off, on a kernel panic and when the firmware gives up alike, so only the
console tells them apart. Two firmware behaviours matter: a boot file larger than
125,820,928 bytes is refused ("TFTP buffer ... is too small"), and when the boot file
cannot be loaded the firmware goes on to read pxelinux.cfg files itself and boots their
kernel directly, which would look like success but never ran IMAGE. Both end the run as
a failed network boot here.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol

from composer.errors import BuildError, InputError, KernelError
from composer.image.ins import INS_BUFFER, parse_ins
from composer.image.s390 import NETBOOT_LIMIT, SIGNATURE, SIGNATURE_OFFSET
from composer.inputfile import UnreadableFile, open_regular
from composer.qemu.command import check_firmware, check_mac, find_qemu, kvm_usable, qemu_command
from composer.qemu.console import Answer, Typist, type_keys
from composer.qemu.lab import TAP, Lab, default_dnsmasq_lines
from composer.qemu.tftproot import BOOTFILE, BootEntry, bootfile_in, lay_out_tftp

PANIC = "Kernel panic"
NETBOOT_FAILURES = ("Failed to load OS from network", "Trying pxelinux.cfg files")
PANIC_GRACE = 2.0  # seconds to keep reading after a panic, for the backtrace


class Console(Protocol):
    """Where the guest console streams to: a TextIO, or anything that writes and flushes."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def check_image(image: Path) -> None:
    try:
        with open_regular(image) as file:  # a FIFO is refused, not waited on
            size = os.fstat(file.fileno()).st_size
            head = file.read(0x18)
    except UnreadableFile as error:
        raise InputError(f"boot image {image} {error.message}") from None
    except OSError as error:
        raise InputError(f"cannot read the boot image {image}: {error.strerror}") from error
    if size > NETBOOT_LIMIT:
        raise InputError(
            f"{image} is {size:,} bytes; the s390 firmware's network boot loads at most "
            f"{NETBOOT_LIMIT:,} bytes (0x2000..0x7800000)",
            hint="use a smaller or better compressed initramfs")
    if head[SIGNATURE_OFFSET:SIGNATURE_OFFSET + len(SIGNATURE)] != SIGNATURE:
        raise InputError(f"{image} is not an s390 kernel boot image (no IPL PSW/CCWs at "
                         "0x08); build one with compose, or pass /boot/vmlinuz-* of s390x")


def is_ins_file(image: Path) -> bool:
    """An .INS file (the firmware's test: the boot file starts with `* `)."""
    try:
        with open_regular(image) as file:  # a FIFO is refused, not waited on
            return file.read(2) == b"* "
    except (UnreadableFile, OSError):
        return False  # check_image says why


def check_ins_tree(ins: Path, tftp_dir: Path | None, entries: Sequence[BootEntry]) -> Path:
    """The TFTP root that serves an .INS file: its own directory unless --tftp names one
    holding it. The firmware asks for the names it lists as they are, so each must be
    there, and the .INS file must fit the firmware's 2048-byte buffer."""
    if entries:
        raise InputError("--entry writes a PXELINUX config; an .INS file lists its own files")
    root = (tftp_dir or ins.parent).resolve()
    if not ins.resolve().is_relative_to(root):
        raise InputError(f"{ins} is not inside the TFTP root {root}")
    data = ins.read_bytes()
    if len(data) >= INS_BUFFER:
        raise InputError(f"{ins} is {len(data)} bytes; QEMU's firmware reads an .INS file "
                         f"of at most {INS_BUFFER - 1}")
    try:
        listed = parse_ins(data.decode("utf-8", errors="replace"))
    except KernelError as error:
        raise InputError(f"{ins}: {error.message}") from None
    for entry in listed:
        if not (root / entry.name).is_file():
            raise InputError(f"{ins} loads {entry.name}, which is not a file in {root}")
    return root


class Outcome(StrEnum):
    MARKER = "marker seen"
    POWEROFF = "guest stopped"
    PANIC = "kernel panic"
    NETBOOT_FAILED = "network boot failed"
    TIMEOUT = "timeout"
    QEMU_FAILED = "qemu failed"


@dataclass
class ConsoleWatch:
    """Reads the console as it streams and decides when the run is over."""

    expect: str | None = None
    text: str = ""
    verdict: Outcome | None = None
    _pending_cr: bool = field(default=False, repr=False)

    def feed(self, chunk: str) -> str:
        """Add raw console text; returns it with CRLF made LF (a CR split from its LF
        across chunks is held back until the next one)."""
        if self._pending_cr:
            chunk = "\r" + chunk
        self._pending_cr = chunk.endswith("\r")
        if self._pending_cr:
            chunk = chunk[:-1]
        chunk = chunk.replace("\r\n", "\n")
        # Search only the new text plus enough before it for a pattern split by a read.
        patterns = [PANIC, *NETBOOT_FAILURES, *([self.expect] if self.expect else [])]
        window = max(len(p) for p in patterns)
        recent = self.text[-window:] + chunk
        self.text += chunk
        if self.verdict is None:
            if self.expect and self.expect in recent:
                self.verdict = Outcome.MARKER
            elif PANIC in recent:
                self.verdict = Outcome.PANIC
            elif any(failure in recent for failure in NETBOOT_FAILURES):
                self.verdict = Outcome.NETBOOT_FAILED
        return chunk


@dataclass(frozen=True)
class Site:
    """Where the guest's network card goes. By default QEMU's user network (its own DHCP
    and TFTP); NETNS: a tap device TAP in that network namespace, whose servers are
    someone else's; LAB: composer's lab (composer/qemu/lab.py) made for this boot, serving the
    TFTP root and HTTP_ROOT, with DNSMASQ_CONF's lines instead of its default DHCP ones.
    UDP (with NETNS): the card's frames as datagrams to 127.0.0.1:UDP there, not a tap.
    APPEND boots the image directly (-kernel) with that command line instead."""

    netns: str | None = None
    tap: str = TAP
    udp: int | None = None
    lab: bool = False
    dnsmasq_conf: Path | None = None
    http_root: Path | None = None
    append: str | None = None


@dataclass(frozen=True)
class BootResult:
    outcome: Outcome
    ok: bool
    console: str
    elapsed: float
    seconds_to_marker: float | None
    qemu_status: int | None
    qemu_stderr: str
    command: tuple[str, ...]
    answers_typed: int = 0
    waiting_for: str | None = None  # the prompt the next --type answer never saw

    @property
    def marker_seen(self) -> bool:
        return self.outcome is Outcome.MARKER


def boot_image(image: Path, *, tftp_dir: Path | None = None,
               entries: Sequence[BootEntry] = (), mac: str | None = None,
               timeout: float = 120.0, expect: str | None = None,
               console: Console | None = None, memory: int = 1024,
               qemu: str | None = None, answers: Sequence[Answer] = (),
               disks: Sequence[Path] = (), reboot: bool = False,
               unwired_nics: int = 0, site: Site = Site()) -> BootResult:
    """Boot IMAGE over the network; with EXPECT success is that text on the console,
    without it a guest that stops by itself without a panic. ANSWERS are typed on the
    console as their prompts appear. The guest is always stopped before this returns
    (also on KeyboardInterrupt, which is re-raised)."""
    if is_ins_file(image):
        tftp_dir = check_ins_tree(image, tftp_dir, entries)
    else:
        check_image(image)
    if timeout <= 0 or memory <= 0:
        raise InputError("--timeout and --memory must be positive numbers")
    for disk in disks:
        if not disk.is_file():
            raise InputError(f"--disk {disk} is not a file (a raw disk image)")
    if not 0 <= unwired_nics <= 8:
        raise InputError(f"--unwired-nics {unwired_nics}: give 0 to 8 extra network cards")
    if mac is not None:
        check_mac(mac)
    if tftp_dir is not None and entries:
        raise InputError("--entry writes pxelinux.cfg/default into a TFTP root compose "
                         "lays out itself; with --tftp DIR put that file into DIR instead")
    check_site(site)
    binary = find_qemu(qemu)
    check_firmware(binary)
    with tempfile.TemporaryDirectory(prefix="compose-boot-") as scratch, \
            contextlib.ExitStack() as servers:
        if tftp_dir is None:
            tftp, bootfile = Path(scratch) / "tftp", BOOTFILE
            tftp.mkdir()
            lay_out_tftp(tftp, image, entries)
        else:
            tftp, bootfile = tftp_dir.resolve(), bootfile_in(tftp_dir, image)
        netns = site.netns
        if site.lab:
            lab = Lab(tftp, site.http_root, dnsmasq_conf=site.dnsmasq_conf)
            if site.dnsmasq_conf is None:
                lab.dnsmasq_lines = default_dnsmasq_lines(lab, bootfile)
            netns = servers.enter_context(lab).netns
        direct = None if site.append is None else (image.resolve(), site.append)
        command = qemu_command(binary, tftp, bootfile, memory=memory, mac=mac,
                               kvm=kvm_usable(), disks=[d.resolve() for d in disks],
                               reboot=reboot, unwired_nics=unwired_nics,
                               tap=site.tap if netns else None,
                               udp=site.udp if netns else None, direct=direct)
        if netns:
            command = ["ip", "netns", "exec", netns, *command]
        with open(Path(scratch) / "qemu.stderr", "w+") as stderr:
            return _run(command, stderr, timeout=timeout, expect=expect, console=console,
                        typist=Typist(answers))


def check_site(site: Site) -> None:
    if site.lab and site.netns:
        raise InputError("--lab makes a network namespace of its own; give --lab or "
                         "--netns, not both")
    if not site.lab and (site.dnsmasq_conf or site.http_root):
        raise InputError("--dnsmasq-conf and --http-root configure the lab: add --lab")
    if site.dnsmasq_conf is not None and not site.dnsmasq_conf.is_file():
        raise InputError(f"--dnsmasq-conf {site.dnsmasq_conf} is not a file")
    if site.http_root is not None and not site.http_root.is_dir():
        raise InputError(f"--http-root {site.http_root} is not a directory")
    if site.udp is not None and (site.netns is None or not 1 <= site.udp <= 65534):
        raise InputError("--udp PORT (1..65534) goes with --netns")
    if site.netns is not None and not Path("/run/netns", site.netns).exists():
        raise InputError(f"--netns {site.netns}: no such network namespace "
                         "(`ip netns list` shows them)")


def _run(command: list[str], stderr: IO[str], *, timeout: float, expect: str | None,
         console: Console | None, typist: Typist) -> BootResult:
    watch = ConsoleWatch(expect)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    start = time.monotonic()
    deadline = start + timeout
    marker_time: float | None = None
    timed_out = False
    try:
        # Its own session: Ctrl-C reaches only us, and we stop QEMU ourselves.
        stdin = subprocess.PIPE if typist.answers else subprocess.DEVNULL
        process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE,
                                   stderr=stderr, start_new_session=True)
    except OSError as error:
        raise BuildError(f"cannot run {command[0]}: {error.strerror}") from error
    assert process.stdout is not None
    fd = process.stdout.fileno()
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                timed_out = watch.verdict is None
                break
            ready, _, _ = select.select([fd], [], [], min(deadline - now, 0.5))
            if not ready:
                continue
            data = os.read(fd, 65536)
            shown = watch.feed(decoder.decode(data, final=not data))
            if console is not None and shown:
                console.write(shown)
                console.flush()
            if not data:
                break
            if watch.verdict is None:
                type_keys(process.stdin, typist.due(watch.text))
            if watch.verdict is Outcome.MARKER:
                marker_time = time.monotonic() - start
                break
            if watch.verdict is not None:
                deadline = min(deadline, time.monotonic() + PANIC_GRACE)
    finally:
        status = _stop(process)
        process.stdout.close()
        if process.stdin is not None:
            process.stdin.close()
    elapsed = time.monotonic() - start
    stderr.seek(0)
    outcome = watch.verdict
    if outcome is None:
        if timed_out:
            outcome = Outcome.TIMEOUT
        elif status not in (0, None):
            outcome = Outcome.QEMU_FAILED
        else:
            outcome = Outcome.POWEROFF
    ok = outcome is (Outcome.MARKER if expect is not None else Outcome.POWEROFF)
    return BootResult(outcome, ok, watch.text, elapsed, marker_time, status,
                      stderr.read(), tuple(command), typist.typed, typist.waiting_for)


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    """QEMU's exit status if it ended by itself, None if it had to be stopped."""
    status = process.poll()
    if status is not None:
        return status
    try:
        status = process.wait(timeout=0.2)
        return status
    except subprocess.TimeoutExpired:
        pass
    process.terminate()  # QEMU shuts the guest down on SIGTERM
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return None
