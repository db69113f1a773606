"""The lab's parts that need no namespace: the QEMU card on a tap, on UDP or booted
directly, the site options' checks, the trunk's 802.1Q tagging and the servers'
configuration files. The boots in the lab are tests/e2e/test_lab_boot.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import InputError
from composer.qemu.boot import Site, check_site
from composer.qemu.command import qemu_command
from composer.qemu.lab import Lab, default_dnsmasq_lines, dnsmasq_config, nginx_config
from composer.qemu.trunk import tag, untag


def netdev(command: list[str]) -> str:
    return command[command.index("-netdev") + 1]


def test_card_on_a_tap_on_udp_and_direct_kernel_boot(tmp_path: Path) -> None:
    tap = qemu_command("qemu", tmp_path, "pxelinux.0", tap="tap0")
    assert netdev(tap) == "tap,id=n0,ifname=tap0,script=no,downscript=no"
    udp = qemu_command("qemu", tmp_path, "pxelinux.0", udp=5555)
    assert netdev(udp) == "socket,id=n0,udp=127.0.0.1:5555,localaddr=127.0.0.1:5556"
    direct = qemu_command("qemu", tmp_path, "pxelinux.0", tap="tap0",
                          direct=(tmp_path / "p.0", "ip=dhcp6"))
    assert direct[-4:] == ["-kernel", str(tmp_path / "p.0"), "-append", "ip=dhcp6"]
    # The firmware's network boot must not win over -kernel.
    assert not any("bootindex" in arg for arg in direct)
    assert any("bootindex=1" in arg for arg in tap)


@pytest.mark.parametrize(("site", "message"), [
    (Site(lab=True, netns="x"), "give --lab or --netns, not both"),
    (Site(dnsmasq_conf=Path("/etc/hostname")), "configure the lab: add --lab"),
    (Site(lab=True, dnsmasq_conf=Path("/nonexistent.conf")), "is not a file"),
    (Site(lab=True, http_root=Path("/nonexistent")), "is not a directory"),
    (Site(udp=5555), "goes with --netns"),
    (Site(netns="compose-no-such-namespace"), "no such network namespace"),
])
def test_site_options_that_cannot_work(site: Site, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_site(site)


def test_trunk_tags_and_untags_802_1q() -> None:
    frame = bytes(range(12)) + b"\x08\x00" + b"payload"
    tagged = tag(frame, 10)
    assert tagged[12:16] == b"\x81\x00\x00\x0a" and len(tagged) == len(frame) + 4
    assert untag(tagged) == (10, frame)
    assert untag(frame) == (0, frame)
    assert tag(frame, 0) == frame


def test_server_configurations_are_the_labs_own(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "tftp", tmp_path / "www", vlan=10)
    lab._scratch = tmp_path / "scratch"
    conf = dnsmasq_config(lab)
    assert "interface=br0\n" in conf and "interface=vl10\n" in conf
    assert f"pid-file={tmp_path / 'scratch' / 'dnsmasq.pid'}" in conf
    assert f"tftp-root={tmp_path / 'tftp'}" in conf
    # The servers answer on the VLAN alone.
    assert "listen 192.168.78.1:80; listen [fd78::1]:80;" in nginx_config(lab)
    lines = default_dnsmasq_lines(Lab(tmp_path, ipv4=False))
    assert "dhcp-option=option6:bootfile-url,tftp://[fd77::1]/pxelinux.0" in lines
    assert not any(line.startswith("dhcp-boot") for line in lines)
