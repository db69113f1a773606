"""Real sites: the stock image network-booted by the s390 firmware in the lab (tests/lab.py,
composer/qemu/lab.py): dnsmasq as DHCP and TFTP server, nginx for the config, the kernel and
the second stage, the guest on a tap device in a network namespace. Each test writes the
dnsmasq lines a site would (docs/pxelinux.md shows the same ones).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import lab as site
from composer.qemu.lab import Lab

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
    assert site.booted_with(console, "console=ttysclp0", "scenario=ipv4", f"BOOTIF={site.BOOTIF}")


def test_ipv6_only_firmware_dhcpv6_tftp_then_image_dhcpv6_and_http(
        parts: Path, tmp_path: Path) -> None:
    config = CONFIG.format(scenario="ipv6").replace(
        "boot/", "http://[fd77::1]/boot/")
    tftp, www = site.site_roots(parts, tmp_path, config)
    (tftp / "pxelinux.cfg").mkdir()
    (tftp / "pxelinux.cfg" / "default").write_text(config)
    lines = ["enable-ra", "dhcp-range=fd77::100,fd77::1ff,slaac,64,1h",
             "dhcp-option=option6:bootfile-url,tftp://[fd77::1]/pxelinux.0",
             "dhcp-option=option6:dns-server,[fd77::1]"]
    with Lab(tftp, www, dnsmasq_lines=lines, ipv4=False) as lab:
        assert not [a for a in site.addresses(lab) if "." in a], site.addresses(lab)
        done = site.boot(lab, tftp / "pxelinux.0", "STAGE2-CMDLINE", 500)
        dhcp_log, served = lab.log("dnsmasq.log"), site.requests(lab)
    console = done.stdout
    assert done.returncode == 0, console[-5000:] + done.stderr
    # The firmware: its address from the router advertisement, the boot file by TFTP
    # (on failure, the firmware's part of the console and what dnsmasq logged).
    firmware = console[:console.find("Linux version")]
    assert "Using IPv6 address: fd77::" in firmware, firmware + dhcp_log
    assert "sent " in dhcp_log and "pxelinux.0 to fd77::" in dhcp_log, dhcp_log
    # The image (the stock dhcp: auto): no answer to DHCPv4's first look (two requests,
    # 2 x 3 s: at least 4 s, as late DHCPv4 servers need), and the router had advertised
    # on the card by then: DHCPv6 next, not after all five requests (15 s); then a
    # DHCPv6 lease with option 59, the config by TFTP over IPv6 (the lookup without the
    # hex-IP steps), the files by HTTP over IPv6.
    assert ("init: no DHCP lease on eth0 within 6 s; an IPv6 router advertises there: "
            "DHCPv6 first") in console
    assert console.count("udhcpc: broadcasting discover") == 2, console[-5000:]
    assert "dhcpcd: BOUND6: eth0 fd77::" in console
    assert "boot file URL tftp://[fd77::1]/pxelinux.0" in console
    # init stops dhcpcd as soon as the lease is recorded, and dhcpcd ends at its TERM
    # (sent again until it does: one that comes while dhcpcd waits for its event script
    # is lost, and the KILL 2 s later held the boot); dhcpcd's question whether the card
    # is a VLAN did not make the kernel load 8021q (a module load under TCG it waited for).
    assert "did not end within 2 s of TERM" not in console
    assert "8021q" not in console
    # s390x's dhcpcd complains at each start that /proc/cpuinfo names no "Manufacturer"
    # for its vendor class (harmless): init keeps that one line off the console.
    assert "dhcp_vendor" not in console
    assert "TFTP server [fd77::1] (from DHCPv6 option 59 (bootfile-url))" in console
    assert "DHCPREPLY(br0) fd77::" in dhcp_log
    assert served == ["/boot/vmlinuz", "/boot/stage2.img"]
    assert site.booted_with(console, "console=ttysclp0", "scenario=ipv6", f"BOOTIF={site.BOOTIF}")


def test_no_dhcp_direct_kernel_boot_static_ip_config_by_name_from_the_labs_dns(
        parts: Path, tmp_path: Path) -> None:
    tftp, www = site.site_roots(parts, tmp_path, "")
    (www / "site.cfg").write_text(CONFIG.format(scenario="static"))
    # No dhcp-range: dnsmasq is only the lab's DNS server here.
    lines = ["host-record=boot.lab,192.168.77.1"]
    append = ("console=ttysclp0 ip=192.168.77.50::192.168.77.1:255.255.255.0:guest:eth0:none:"
              "192.168.77.1 pxeboot.config=http://boot.lab/site.cfg")
    with Lab(tftp, www, dnsmasq_lines=lines, ipv6=False) as lab:
        done = site.boot(lab, tftp / "pxelinux.0", "STAGE2-CMDLINE", 400, "--append", append)
        dns_log, served = lab.log("dnsmasq.log"), site.requests(lab)
    console = done.stdout
    assert done.returncode == 0, console[-4000:] + done.stderr
    assert "init: static address 192.168.77.50/24 on eth0 (ip=), no DHCP" in console
    assert "DHCPDISCOVER" not in dns_log and "udhcpc" not in console
    # The host name went to the lab's DNS (from ip='s name server field).
    assert "query[A] boot.lab from 192.168.77.50" in dns_log, dns_log
    assert "TFTP server boot.lab (from pxeboot.config='s URL)" in console
    assert served == ["/site.cfg", "/boot/vmlinuz", "/boot/stage2.img"]
    assert site.booted_with(console, "console=ttysclp0", "scenario=static", f"BOOTIF={site.BOOTIF}")


def test_tagged_vlan_only_the_vlan_reaches_the_servers(sysroot: Path, tmp_path: Path) -> None:
    """The firmware boots untagged (the native network has DHCP and pxelinux.0 only);
    the image's command line says vlan=eth0.10:eth0, and its DHCP, config, kernel and
    initrd come over VLAN 10, the only network with the config and nginx on it."""
    (tmp_path / "parts").mkdir()
    parts = site.build_parts(sysroot, tmp_path / "parts", "cmdline=vlan=eth0.10:eth0")
    tftp, www = site.site_roots(parts, tmp_path, CONFIG.format(scenario="vlan"))
    lines = ["dhcp-range=set:native,192.168.77.100,192.168.77.199,255.255.255.0,1h",
             "dhcp-range=set:v10,192.168.78.100,192.168.78.199,255.255.255.0,1h",
             "dhcp-boot=tag:native,pxelinux.0",
             'dhcp-option=tag:v10,209,"pxelinux.cfg/site"',
             'dhcp-option=tag:v10,210,"http://192.168.78.1/"']
    with Lab(tftp, www, dnsmasq_lines=lines, ipv6=False, vlan=10) as lab:
        done = site.boot(lab, tftp / "pxelinux.0", "STAGE2-CMDLINE", 400)
        dhcp_log, served = lab.log("dnsmasq.log"), site.requests(lab)
    console = done.stdout
    assert done.returncode == 0, console[-4000:] + done.stderr
    assert "init: VLAN 10: eth0.10 on eth0 (vlan=)" in console
    assert [line for line in console.splitlines() if line.startswith("init: DHCP on ")] == \
        ["init: DHCP on eth0.10"]
    # The image's lease is on the VLAN's port of the switch; the native one saw only the
    # firmware (the TFTP of pxelinux.0).
    assert "DHCPACK(vl10) 192.168.78." in dhcp_log, dhcp_log
    assert "path prefix 'http://192.168.78.1/' (from option 210" in console
    assert served == ["/pxelinux.cfg/site", "/boot/vmlinuz", "/boot/stage2.img"]
    assert site.booted_with(console, "console=ttysclp0", "scenario=vlan", f"BOOTIF={site.BOOTIF}")


def test_no_dhcp_static_ipv6_address_and_pxeboot_server_over_tftp(
        parts: Path, tmp_path: Path) -> None:
    """IPv6 only, no DHCP server: ip=[...] with a prefix length, pxeboot.server= naming
    the TFTP server, pxeboot.config= a name relative to it (TFTP over IPv6)."""
    tftp, www = site.site_roots(parts, tmp_path, "")
    (tftp / "cfg").mkdir()
    (tftp / "cfg" / "static6").write_text(
        CONFIG.format(scenario="static6").replace("boot/", "http://[fd77::1]/boot/"))
    append = ("console=ttysclp0 ip=[fd77::50]::[fd77::1]:64:guest:eth0:none "
              "pxeboot.server=fd77::1 pxeboot.config=cfg/static6")
    with Lab(tftp, www, ipv4=False) as lab:
        done = site.boot(lab, tftp / "pxelinux.0", "STAGE2-CMDLINE", 400, "--append", append)
        log, served = lab.log("dnsmasq.log"), site.requests(lab)
    console = done.stdout
    assert done.returncode == 0, console[-4000:] + done.stderr
    assert "init: static address fd77::50/64 on eth0 (ip=), no DHCP" in console
    assert "TFTP server [fd77::1] (from pxeboot.server=)" in console
    assert "sent " in log and "cfg/static6 to fd77::50" in log, log
    assert served == ["/boot/vmlinuz", "/boot/stage2.img"]
    assert site.booted_with(console, "console=ttysclp0", "scenario=static6",
                            f"BOOTIF={site.BOOTIF}")
