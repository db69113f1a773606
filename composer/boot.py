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
import os
import platform
import re
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol

from composer.console import Answer, Typist, type_keys
from composer.errors import BuildError, InputError

FIRMWARE_LIMIT = 125_820_928  # the firmware loads at 0x2000 and stops below 0x7800000
FIRMWARE_FILES = ("s390-ccw.img", "s390-netboot.img")
BOOTFILE = "pxelinux.0"
S390_IMAGE_MAGIC = bytes.fromhex("02000018600000500200006860000050")  # at 0x08..0x17
PANIC = "Kernel panic"
NETBOOT_FAILURES = ("Failed to load OS from network", "Trying pxelinux.cfg files")
PANIC_GRACE = 2.0  # seconds to keep reading after a panic, for the backtrace
QEMU_PACKAGES = ("qemu-system-s390x is in Debian/Ubuntu's qemu-system-misc package "
                 "(its firmware in qemu-system-data): apt-get install qemu-system-misc")


class Console(Protocol):
    """Where the guest console streams to: a TextIO, or anything that writes and flushes."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class BootEntry:
    """One LABEL of the PXELINUX config the guest's initramfs will read."""

    label: str
    kernel: str
    initrds: tuple[str, ...] = ()
    append: str = ""


ENTRY_FORMAT = ("'LABEL: KERNEL [INITRD[,INITRD...]|-] [APPEND...]', e.g. "
                "'linux: vmlinuz initrd.img console=ttysclp0'")


def parse_entry(text: str) -> BootEntry:
    """`LABEL: KERNEL INITRD APPEND...`; the second word is the initrd list unless it is
    `-` (no initrd) or holds a `=` (then the kernel arguments start there)."""
    label, colon, rest = text.partition(":")
    words = rest.split()
    if not colon or not label.strip() or len(label.split()) != 1 or not words:
        raise InputError(f"--entry {text!r} is not of the form {ENTRY_FORMAT}")
    kernel, words = words[0], words[1:]
    initrds: tuple[str, ...] = ()
    if words and (words[0] == "-" or "=" not in words[0]):
        initrds = tuple(p for p in words[0].split(",") if p and p != "-")
        words = words[1:]
    return BootEntry(label.strip(), kernel, initrds, " ".join(words))


def pxelinux_config(entries: Sequence[BootEntry]) -> str:
    """A PXELINUX config whose DEFAULT is the first entry."""
    lines = ["# written by compose boot", f"DEFAULT {entries[0].label}", ""]
    for entry in entries:
        lines += [f"LABEL {entry.label}", f"  KERNEL {entry.kernel}"]
        if entry.initrds:
            lines.append(f"  INITRD {','.join(entry.initrds)}")
        if entry.append:
            lines.append(f"  APPEND {entry.append}")
        lines.append("")
    return "\n".join(lines)


def check_image(image: Path) -> None:
    try:
        size = image.stat().st_size
        with image.open("rb") as file:
            head = file.read(0x18)
    except OSError as error:
        raise InputError(f"cannot read the boot image {image}: {error.strerror}") from error
    if size > FIRMWARE_LIMIT:
        raise InputError(
            f"{image} is {size:,} bytes; the s390 firmware's network boot loads at most "
            f"{FIRMWARE_LIMIT:,} bytes (0x2000..0x7800000)",
            hint="use a smaller or better compressed initramfs")
    if head[0x08:0x18] != S390_IMAGE_MAGIC:
        raise InputError(f"{image} is not an s390 kernel boot image (no IPL PSW/CCWs at "
                         "0x08); build one with compose, or pass /boot/vmlinuz-* of s390x")


def check_mac(mac: str) -> None:
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", mac):
        raise InputError(f"--mac {mac!r} is not a MAC address like 52:54:00:12:34:56")
    if int(mac[:2], 16) & 1:
        raise InputError(f"--mac {mac} is a multicast address; a network card needs a "
                         "unicast one (even first byte, e.g. 52:54:00:...)")


def find_qemu(qemu: str | None = None) -> str:
    found = shutil.which(qemu or "qemu-system-s390x")
    if found is None:
        raise BuildError(f"{qemu or 'qemu-system-s390x'} not found", hint=QEMU_PACKAGES)
    return found


def firmware_dirs(qemu: str) -> list[Path]:
    """Where QEMU looks for its firmware: beside a build, under its prefix, Debian's."""
    binary = Path(qemu).resolve()
    return [binary.parent / "pc-bios", binary.parent.parent / "share" / "qemu",
            Path("/usr/share/qemu"), Path("/usr/local/share/qemu")]


def check_firmware(qemu: str, dirs: Sequence[Path] | None = None) -> Path:
    searched = firmware_dirs(qemu) if dirs is None else list(dirs)
    for directory in searched:
        if all((directory / name).is_file() for name in FIRMWARE_FILES):
            return directory
    raise BuildError(f"the s390 firmware ({' and '.join(FIRMWARE_FILES)}) is missing from "
                     f"{', '.join(str(d) for d in searched)}", hint=QEMU_PACKAGES)


def kvm_usable() -> bool:
    return platform.machine() == "s390x" and os.access("/dev/kvm", os.R_OK | os.W_OK)


def qemu_command(qemu: str, tftp: Path, bootfile: str, *, memory: int = 1024,
                 mac: str | None = None, kvm: bool = False, disks: Sequence[Path] = (),
                 reboot: bool = False, unwired_nics: int = 0) -> list[str]:
    """The guest: one virtio-net-ccw NIC as boot device on QEMU's user network, whose
    DHCP hands out `bootfile` and whose TFTP serves `tftp`, then DISKS as raw
    virtio-blk-ccw disks (for a LOCALBOOT re-IPL). tb-size=16 keeps TCG's translation
    cache small, which makes a kexec'd second kernel decompress ~7x faster. Without
    REBOOT a guest reboot or re-IPL ends QEMU (-no-reboot). UNWIRED_NICS cards connected
    to nothing (each on a hub of its own) come first, so the boot card is not the first
    CCW device; which one Linux names eth0 varies from boot to boot here, so the image
    has to find the card the firmware booted from."""
    def escape(value: str) -> str:  # QEMU's option syntax doubles commas in values
        return value.replace(",", ",,")

    nic = "virtio-net-ccw,netdev=n0,bootindex=1" + (f",mac={mac}" if mac else "")
    unwired = [arg for n in range(unwired_nics)
               for arg in ("-netdev", f"hubport,id=u{n},hubid={n + 1}",
                           "-device", f"virtio-net-ccw,netdev=u{n}")]
    command = [qemu, "-M", "s390-ccw-virtio", "-m", str(memory), "-nographic",
               *([] if reboot else ["-no-reboot"]),
               "-accel", "kvm" if kvm else "tcg,tb-size=16", *unwired,
               "-netdev", f"user,id=n0,tftp={escape(str(tftp))},bootfile={escape(bootfile)}",
               "-device", nic]
    for n, disk in enumerate(disks):
        command += ["-drive", f"file={escape(str(disk))},if=none,id=disk{n},format=raw",
                    "-device", f"virtio-blk-ccw,drive=disk{n}"]
    return command


def lay_out_tftp(root: Path, image: Path, entries: Sequence[BootEntry]) -> None:
    """A fresh TFTP root: IMAGE as pxelinux.0, the entries' host files copied in by their
    base names (into a numbered directory when two differ), and pxelinux.cfg/default
    when there are entries."""
    shutil.copyfile(image, root / BOOTFILE)
    served: dict[Path, str] = {}
    taken = {BOOTFILE, "pxelinux.cfg"}

    def serve(host_path: str, what: str) -> str:
        source = Path(host_path).expanduser().resolve()
        if not source.is_file():
            raise InputError(f"--entry {what} {host_path!r} is not a file on this host")
        if source not in served:
            name, n = source.name, 0
            while name in taken:
                n += 1
                name = f"{n}/{source.name}"
            (root / name).parent.mkdir(exist_ok=True)
            shutil.copyfile(source, root / name)
            taken.add(name)
            served[source] = name
        return served[source]

    tftp_entries = [BootEntry(e.label, serve(e.kernel, "kernel"),
                              tuple(serve(i, "initrd") for i in e.initrds), e.append)
                    for e in entries]
    if tftp_entries:
        (root / "pxelinux.cfg").mkdir()
        (root / "pxelinux.cfg" / "default").write_text(pxelinux_config(tftp_entries))


def bootfile_in(tftp: Path, image: Path) -> str:
    """The boot file name inside a user's TFTP root: IMAGE where it lies when it is inside
    (so the PXELINUX path prefix is its directory, as on a real server), else a copy as
    pxelinux.0, unless a different pxelinux.0 is already there: that is never overwritten."""
    if not tftp.is_dir():
        raise InputError(f"--tftp {tftp} is not a directory")
    resolved, root = image.resolve(), tftp.resolve()
    if resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix()
    target = root / BOOTFILE
    if target.exists() and target.read_bytes() != resolved.read_bytes():
        raise InputError(f"{target} exists and differs from {image}",
                         hint=f"boot {target} itself, or remove it to let compose copy {image}")
    if not target.exists():
        shutil.copyfile(resolved, target)
    return BOOTFILE


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
               unwired_nics: int = 0) -> BootResult:
    """Boot IMAGE over the network; with EXPECT success is that text on the console,
    without it a guest that stops by itself without a panic. ANSWERS are typed on the
    console as their prompts appear. The guest is always stopped before this returns
    (also on KeyboardInterrupt, which is re-raised)."""
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
    binary = find_qemu(qemu)
    check_firmware(binary)
    with tempfile.TemporaryDirectory(prefix="compose-boot-") as scratch:
        if tftp_dir is None:
            tftp, bootfile = Path(scratch) / "tftp", BOOTFILE
            tftp.mkdir()
            lay_out_tftp(tftp, image, entries)
        else:
            tftp, bootfile = tftp_dir.resolve(), bootfile_in(tftp_dir, image)
        command = qemu_command(binary, tftp, bootfile, memory=memory, mac=mac,
                               kvm=kvm_usable(), disks=[d.resolve() for d in disks],
                               reboot=reboot, unwired_nics=unwired_nics)
        with open(Path(scratch) / "qemu.stderr", "w+") as stderr:
            return _run(command, stderr, timeout=timeout, expect=expect, console=console,
                        typist=Typist(answers))


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
