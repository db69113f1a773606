"""An 802.1Q trunk port in user space: the lab's VLAN switch.

The lab's VLAN test needs a switch port that carries a tagged VLAN next to the untagged
network, as a site's switch does. Linux would do that with the 8021q module or a
VLAN-filtering bridge, and a host kernel may have neither (this project's CI machines
do not), so the lab does the switch's job here, frame by frame, and the host kernel only
ever sees untagged frames: QEMU sends the guest's frames as UDP datagrams
(`-netdev socket,udp=`) to this process, which passes untagged frames to the native
tap and frames tagged VID to that VLAN's tap with the tag removed; frames from a tap go
back to the guest, tagged with its VID if it is a VLAN's. Frames of other VLANs are
dropped, as a switch port not carrying them would.

    python -m composer.qemu.trunk PORT NATIVE_TAP [VID=TAP...]

runs in the lab's namespace: it listens on 127.0.0.1:PORT, sends to 127.0.0.1:PORT+1
(where QEMU listens) and creates the taps itself (they vanish when it ends).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
TPID = b"\x81\x00"


def open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def untag(frame: bytes) -> tuple[int, bytes]:
    """(VID, the frame without its tag), VID 0 for an untagged frame."""
    if len(frame) >= 18 and frame[12:14] == TPID:
        vid = int.from_bytes(frame[14:16], "big") & 0x0FFF
        return vid, frame[:12] + frame[16:]
    return 0, frame


def tag(frame: bytes, vid: int) -> bytes:
    if vid == 0:
        return frame
    return frame[:12] + TPID + vid.to_bytes(2, "big") + frame[12:]


def serve(port: int, native: str, vlans: dict[int, str]) -> None:
    guest = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    guest.bind(("127.0.0.1", port))
    peer = ("127.0.0.1", port + 1)
    taps = {0: open_tap(native), **{vid: open_tap(name) for vid, name in vlans.items()}}
    vid_of = {fd: vid for vid, fd in taps.items()}
    print("trunk ready", flush=True)
    while True:
        ready, _, _ = select.select([guest.fileno(), *taps.values()], [], [])
        for fd in ready:
            if fd == guest.fileno():
                vid, frame = untag(guest.recv(65536))
                if vid in taps:
                    os.write(taps[vid], frame)
            else:
                frame = tag(os.read(fd, 65536), vid_of[fd])
                # QEMU not listening yet: the frame is lost, as on an unplugged cable.
                with contextlib.suppress(OSError):
                    guest.sendto(frame, peer)


def main(argv: list[str]) -> None:
    port, native, *rest = argv
    vlans = {int(vid): name for vid, _, name in (arg.partition("=") for arg in rest)}
    with contextlib.suppress(KeyboardInterrupt):
        serve(int(port), native, vlans)


if __name__ == "__main__":
    main(sys.argv[1:])
