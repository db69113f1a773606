"""qemu-system-s390x as a network-boot guest: the binary, its s390 firmware, the command.

The s390 firmware (s390-ccw.img, and s390-netboot.img for a network boot) ships apart
from the emulator in Debian; without both the guest cannot boot from the network, so
their absence is reported before QEMU runs.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from composer.errors import BuildError, InputError

FIRMWARE_FILES = ("s390-ccw.img", "s390-netboot.img")
QEMU_PACKAGES = ("qemu-system-s390x is in Debian/Ubuntu's qemu-system-misc package "
                 "(its firmware in qemu-system-data): apt-get install qemu-system-misc")


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
                 reboot: bool = False, unwired_nics: int = 0, tap: str | None = None,
                 udp: int | None = None, direct: tuple[Path, str] | None = None) -> list[str]:
    """The guest: one virtio-net-ccw NIC as boot device on QEMU's user network, whose
    DHCP hands out `bootfile` and whose TFTP serves `tftp`, then DISKS as raw
    virtio-blk-ccw disks (for a LOCALBOOT re-IPL). tb-size=16 keeps TCG's translation
    cache small, so it is flushed several times a boot and few translations of the first
    kernel's code are left when a kexec'd kernel is moved over it: each store to a page
    still holding one takes QEMU's invalidation path, and with no flush between the boot
    script and kexec (64 MB) the second kernel took 62 s to reach /init, 3.2 s at 16 or
    32 MB (BENCHMARKS.md, round 3g). Without
    REBOOT a guest reboot or re-IPL ends QEMU (-no-reboot). UNWIRED_NICS cards connected
    to nothing (each on a hub of its own) come first, so the boot card is not the first
    CCW device; which one Linux names eth0 varies from boot to boot here, so the image
    has to find the card the firmware booted from. With TAP the card is on that tap device
    instead (QEMU then runs where the tap is, e.g. in the lab's network namespace); with
    UDP its frames go as datagrams to 127.0.0.1:UDP, and come from there to UDP+1 (a
    switch in user space, like the lab's VLAN trunk); on either, virtio's event index is
    off: with it, under TCG the guest's receive side went dead in the middle of lab boots
    (the server kept sending to the guest's MAC, the guest only retransmitted), in most
    boots of 10000 lock-step TFTP blocks, and in none of 29 lab boots without it. DIRECT
    (image, command line) boots the image with -kernel/-append, libvirt's direct kernel
    boot: no firmware network boot, the command line replaced."""
    def escape(value: str) -> str:  # QEMU's option syntax doubles commas in values
        return value.replace(",", ",,")

    if udp is not None:
        netdev = f"socket,id=n0,udp=127.0.0.1:{udp},localaddr=127.0.0.1:{udp + 1}"
    elif tap:
        netdev = f"tap,id=n0,ifname={escape(tap)},script=no,downscript=no"
    else:
        netdev = f"user,id=n0,tftp={escape(str(tftp))},bootfile={escape(bootfile)}"
    nic = ("virtio-net-ccw,netdev=n0" + ("" if direct else ",bootindex=1")
           + (f",mac={mac}" if mac else "")
           + (",event_idx=off" if tap or udp is not None else ""))
    unwired = [arg for n in range(unwired_nics)
               for arg in ("-netdev", f"hubport,id=u{n},hubid={n + 1}",
                           "-device", f"virtio-net-ccw,netdev=u{n}")]
    command = [qemu, "-M", "s390-ccw-virtio", "-m", str(memory), "-nographic",
               *([] if reboot else ["-no-reboot"]),
               "-accel", "kvm" if kvm else "tcg,tb-size=16", *unwired,
               "-netdev", netdev,
               "-device", nic]
    if direct is not None:
        command += ["-kernel", str(direct[0]), "-append", direct[1]]
    for n, disk in enumerate(disks):
        command += ["-drive", f"file={escape(str(disk))},if=none,id=disk{n},format=raw",
                    "-device", f"virtio-blk-ccw,drive=disk{n}"]
    return command
