"""Real sites: the stock image network-booted by the s390 firmware in the lab (tests/lab.py,
composer/lab.py): dnsmasq as DHCP and TFTP server, nginx for the config, the kernel and
the second stage, the guest on a tap device in a network namespace. Each test writes the
dnsmasq lines a site would (docs/pxelinux.md shows the same ones).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import lab as site
from composer.lab import Lab

pytestmark = [pytest.mark.qemu, pytest.mark.sysroot]

CONFIG = ("DEFAULT web\nLABEL web\n  KERNEL boot/vmlinuz\n  INITRD boot/stage2.img\n"
          "  APPEND console=ttysclp0 scenario={scenario}\n  IPAPPEND 2\n")


@pytest.fixture(scope="module")
def parts(sysroot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site.need_root()
    return site.build_parts(sysroot, tmp_path_factory.mktemp("lab-parts"))


def test_dnsmasq_dhcpv4_tftp_options_209_210_and_nginx(parts: Path, tmp_path: Path) -> None:
    tftp, www = site.site_roots(parts, tmp_path, CONFIG.format(scenario="ipv4"))
    lines = ["dhcp-range=192.168.77.100,192.168.77.199,255.255.255.0,1h",
             "dhcp-boot=pxelinux.0",
             'dhcp-option=209,"pxelinux.cfg/site"',
             'dhcp-option=210,"http://192.168.77.1/"',
             "dhcp-option=211,30i"]
    with Lab(tftp, www, dnsmasq_lines=lines, ipv6=False) as lab:
        done = site.boot(lab, tftp / "pxelinux.0", "STAGE2-CMDLINE", 400)
        dhcp_log, served = lab.log("dnsmasq.log"), site.requests(lab)
    console = done.stdout
    assert done.returncode == 0, console[-4000:] + done.stderr
    # The firmware fetched pxelinux.0 from dnsmasq's TFTP, then the image leased an
    # address and took 209 and 210 from it: the config, kernel and initrd came from nginx.
    assert "sent " in dhcp_log and "pxelinux.0 to 192.168.77." in dhcp_log, dhcp_log
    assert "DHCPACK(br0) 192.168.77." in dhcp_log
    assert "path prefix 'http://192.168.77.1/' (from option 210" in console
    assert served == ["/pxelinux.cfg/site", "/boot/vmlinuz", "/boot/stage2.img"]
    assert site.stage2_cmdline(console) == f"console=ttysclp0 scenario=ipv4 BOOTIF={site.BOOTIF}"
