"""`dhcp: auto` on real links: the rendered /init (`/init net`) with the host's busybox
applets (udhcpc) and dhcpcd, against dnsmasq on the other end of a veth pair.

Each site is two network namespaces the test makes (we are root): the client's, where
/init runs as in the image, and the server's, holding dnsmasq and a wire counter
(AF_PACKET on the server's port) that records each DHCPv4 DISCOVER and DHCPv6 SOLICIT
as the site sees them. In a private mount namespace, tmpfs over /run (the lease, the
resolv.conf) and /var/lib (dhcpcd's DUID and leases) keeps the host's files untouched.

`auto` is IPv4 first, its requests of the first 4 s: on an IPv6-only site (router
advertisements, stateful DHCPv6 with option 59) DHCPv6 follows them, not all dhcp_retries
requests; where no router advertises, the order stays DHCPv4 (all of it), then DHCPv6.
dnsmasq runs as sites run it, checking a new address by ping (up to 3 s) before its
offer: a dual-stack site's late offer still comes within those 4 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, applet_links, rendered_variant

IPROUTE = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
DHCPCD = shutil.which("dhcpcd", path="/usr/sbin:/sbin:/usr/bin:/bin")
DNSMASQ = shutil.which("dnsmasq", path="/usr/sbin:/sbin:/usr/bin:/bin")
TIMEOUT, RETRIES = 1, 6
# auto's first look at DHCPv4 spans 4 s (init.sh's DHCP4_PATIENCE): FIRST requests.
FIRST = 4

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed"),
]

# Counts the clients' DHCP requests on the server's port: "discover SECONDS" for each
# DHCPv4 DISCOVER (UDP to 67, option 53 = 1), "solicit SECONDS" for each DHCPv6 SOLICIT
# (UDP to 547, message type 1), on the monotonic clock.
WIRE = """\
import socket, struct, sys, time
def message_type(options):
    at = 0
    while at + 2 < len(options) and options[at] != 255:
        if options[at] == 0:
            at += 1
        elif options[at] == 53:
            return options[at + 2]
        else:
            at += 2 + options[at + 1]
    return None
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
out = open(sys.argv[2], "w", buffering=1)
out.write("ready\\n")
while True:
    frame, where = s.recvfrom(65535)
    if where[2] == socket.PACKET_OUTGOING:
        continue
    kind, data = struct.unpack("!H", frame[12:14])[0], frame[14:]
    if kind == 0x0800 and data[9] == 17:
        udp = data[(data[0] & 15) * 4:]
        if udp[2:4] == b"\\x00\\x43" and message_type(udp[8 + 240:]) == 1:
            out.write("discover %.3f\\n" % time.monotonic())
    elif kind == 0x86DD and data[6] == 17 and data[42:44] == b"\\x02\\x23" and data[48] == 1:
        out.write("solicit %.3f\\n" % time.monotonic())
"""

# PID 1 of fresh PID, mount and network namespaces: whatever it started (the servers, the
# server namespace's holder) ends with it.
SITE = """\
set -e
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
# dhcp6 empties the kernel's module loader path while dhcpcd runs: here it is a file.
echo /sbin/modprobe >{work}/modprobe
[ ! -e /proc/sys/kernel/modprobe ] || mount --bind {work}/modprobe /proc/sys/kernel/modprobe
{ip} link set lo up
unshare -n sleep 600 &
server=$!
sleep 0.2
{ip} link add eth0 type veth peer name srv0
{ip} link set srv0 netns "$server"
on_server() {{ nsenter -t "$server" -n "$@"; }}
on_server {ip} link set lo up
# The server's link-local address usable at once (an RA needs one as its source).
on_server sh -c 'echo 0 >/proc/sys/net/ipv6/conf/srv0/accept_dad'
on_server {ip} link set srv0 up
on_server {ip} addr add fd77::1/64 dev srv0 nodad
on_server {ip} addr add 10.0.2.2/24 dev srv0
nsenter -t "$server" -n {python} {work}/wire.py srv0 {work}/wire.log &
nsenter -t "$server" -n {dnsmasq} --conf-file={work}/dnsmasq.conf -k &
ticks=0
until [ -s {work}/wire.log ] && [ -s {work}/dnsmasq.pid ]; do
    sleep 0.1
    ticks=$((ticks + 1))
    [ "$ticks" -lt 100 ] || {{ echo "servers did not start" >&2; exit 1; }}
done
set +e
{python} -c 'import time; print("%.3f" % time.monotonic())' >{work}/start
busybox sh {init} net >{work}/init.out 2>&1
echo "init=$?" >{work}/status
{python} -c 'import time; print("%.3f" % time.monotonic())' >{work}/end
cp /run/pxe/dhcp.env {work}/dhcp.env 2>/dev/null
exit 0
"""

DNSMASQ_BASE = """\
user=root
group=root
port=0
interface=srv0
bind-interfaces
no-resolv
no-hosts
log-dhcp
pid-file={work}/dnsmasq.pid
dhcp-leasefile={work}/dnsmasq.leases
log-facility={work}/dnsmasq.log
"""

IPV6_ONLY = ["enable-ra", "dhcp-range=fd77::100,fd77::1ff,64,1h",
             "dhcp-option=option6:bootfile-url,tftp://[fd77::1]/pxelinux.0"]


@dataclass
class Site:
    """What one `/init net` on a site showed: its exit status, its console (and the
    `init:` lines of it), the lease it recorded (dhcp.env, empty without one), and the
    DISCOVERs and SOLICITs on the wire and the end of `/init net`, in seconds from its
    start."""

    status: str
    console: str
    init: list[str]
    lease: str
    discovers: list[float]
    solicits: list[float]
    end: float


def run_site(tmp_path: Path, dnsmasq_lines: list[str], timeout: int = TIMEOUT,
             retries: int = RETRIES, init_sh: str | None = None, dhcp: str = "auto",
             dhcpcd_conf: str = "", programs: Path | None = None) -> Site:
    """/init net (dhcp: DHCP, TIMEOUT s, RETRIES requests) against dnsmasq serving
    DNSMASQ_LINES on the other end of the card's link; INIT_SH, when given, is the /init
    instead of this tree's (bench/dhcp_auto.py's "before": an older bootscripts/init.sh,
    which the image holds as it is); DHCPCD_CONF is added to the image's dhcpcd.conf;
    PROGRAMS, a directory found first on init's PATH."""
    if os.geteuid() != 0:
        pytest.skip("the site is two network namespaces: run as root (CI does)")
    if None in (IPROUTE, DHCPCD, DNSMASQ):
        pytest.fail("iproute2, dhcpcd-base and dnsmasq-base are needed (scripts/setup)")
    work = tmp_path / "work"
    work.mkdir()
    root = rendered_variant(tmp_path / "root", {
        "modules": [], "interface": "eth0", "dhcp": dhcp, "dhcp_timeout": timeout,
        "dhcp_retries": retries, "resolv_conf": "/run/resolv.conf", "verbosity": 1})
    if init_sh is not None:
        (root / "init").write_text(init_sh)
    conf = root / "etc" / "dhcpcd.conf"
    conf.write_text(conf.read_text() + dhcpcd_conf)
    (work / "wire.py").write_text(WIRE)
    (work / "dnsmasq.conf").write_text(DNSMASQ_BASE.format(work=work)
                                       + "\n".join(dnsmasq_lines) + "\n")
    (work / "site.sh").write_text(SITE.format(ip=IPROUTE, work=work, python=sys.executable,
                                              dnsmasq=DNSMASQ, init=root / "init"))
    path = f"{applet_links(tmp_path / 'applets')}:/usr/sbin:/usr/bin:/sbin:/bin"
    env = {"PATH": f"{programs}:{path}" if programs else path}
    done = subprocess.run(["unshare", "-nmpf", "--mount-proc", BUSYBOX, "sh",
                           str(work / "site.sh")], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr + (work / "dnsmasq.log").read_text()
    wire = [line.split() for line in (work / "wire.log").read_text().splitlines()]
    start = float((work / "start").read_text())
    console = (work / "init.out").read_text()
    lease = work / "dhcp.env"
    return Site(
        status=(work / "status").read_text().strip(), console=console,
        init=[line for line in console.splitlines() if line.startswith("init: ")],
        lease=lease.read_text() if lease.exists() else "",
        discovers=[float(f[1]) - start for f in wire if f[0] == "discover"],
        solicits=[float(f[1]) - start for f in wire if f[0] == "solicit"],
        end=float((work / "end").read_text()) - start)


def test_ipv6_only_site_gets_dhcpv6_after_4_s_of_dhcpv4(tmp_path: Path) -> None:
    """No DHCPv4 server, a router advertising, stateful DHCPv6 with option 59: FIRST
    DISCOVERs in 4 s, then DHCPv6 at once (before: all RETRIES discovers, RETRIES x
    TIMEOUT s)."""
    site = run_site(tmp_path, IPV6_ONLY)
    discovers, solicits = site.discovers, site.solicits
    assert len(discovers) == FIRST, site
    # The first SOLICIT follows the first look's 4 s and dhcpcd's start, and the lease
    # is there before the old order had even begun DHCPv6 (RETRIES x TIMEOUT = 6 s of
    # discovers).
    assert solicits and solicits[0] - discovers[0] < RETRIES * TIMEOUT, site
    assert solicits[0] - discovers[0] >= FIRST * TIMEOUT - 0.5, site
    assert site.end < RETRIES * TIMEOUT, site
    assert site.status == "init=0", site.console
    assert site.init == [
        "init: DHCP on eth0",
        f"init: no DHCP lease on eth0 within {FIRST * TIMEOUT} s; an IPv6 router advertises "
        "there: DHCPv6 first",
        "init: DHCPv6 on eth0"], site.console
    assert "family='6'" in site.lease
    assert "bootfile_url='tftp://[fd77::1]/pxelinux.0'" in site.lease


def test_without_router_advertisements_dhcpv4_keeps_all_its_requests_first(
        tmp_path: Path) -> None:
    """The same DHCPv6 server, but no router advertises: nothing says the site is IPv6,
    so all RETRIES discovers come first, then DHCPv6 (dhcpcd waits for a router, none
    comes: no lease), and the failure names the DHCPv4 requests."""
    site = run_site(tmp_path, IPV6_ONLY[1:])
    assert site.status == "init=1", site.console
    assert site.init == [
        "init: DHCP on eth0",
        f"init: no DHCP lease on eth0 within {FIRST * TIMEOUT} s and no IPv6 router "
        f"advertises there: DHCP again, {RETRIES - FIRST} more requests",
        "init: no DHCP lease on eth0",
        "init: DHCPv6 on eth0",
        "init: no DHCPv6 lease on eth0",
        f"init: net failed: no DHCP lease on eth0 after {RETRIES} requests {TIMEOUT} s apart",
    ], site.console
    assert len(site.discovers) == RETRIES, site
    assert site.lease == ""


def test_router_without_dhcpv6_then_the_rest_of_dhcpv4(tmp_path: Path) -> None:
    """A router advertises (SLAAC only) and no DHCP server answers at all: FIRST DISCOVERs,
    DHCPv6 (no lease), then the other RETRIES - FIRST discovers: all of them were sent."""
    site = run_site(tmp_path, ["enable-ra", "dhcp-range=fd77::,ra-only,64,1h"])
    assert site.status == "init=1", site.console
    assert site.init == [
        "init: DHCP on eth0",
        f"init: no DHCP lease on eth0 within {FIRST * TIMEOUT} s; an IPv6 router advertises "
        "there: DHCPv6 first",
        "init: DHCPv6 on eth0",
        "init: no DHCPv6 lease on eth0",
        f"init: DHCP on eth0 again, {RETRIES - FIRST} more requests",
        "init: no DHCP lease on eth0",
        f"init: net failed: no DHCP lease on eth0 after {RETRIES} requests {TIMEOUT} s apart",
    ], site.console
    discovers = site.discovers
    assert len(discovers) == RETRIES, site
    # DHCPv6's wait (RETRIES x TIMEOUT s) lies between the first look's discovers and the others.
    assert discovers[FIRST] - discovers[FIRST - 1] >= RETRIES * TIMEOUT, site


def test_dual_stack_site_leases_ipv4_from_the_first_request(tmp_path: Path) -> None:
    """DHCPv4 and the IPv6-only site's RA and DHCPv6 on one link: IPv4 first, as
    before: one udhcpc, no DHCPv6 at all, although dnsmasq's ping check holds its offer
    back for up to 3 s (more than TIMEOUT: the first look waits 4 s)."""
    site = run_site(tmp_path, ["dhcp-range=10.0.2.100,10.0.2.199,255.255.255.0,1h",
                               "dhcp-boot=pxelinux.0", *IPV6_ONLY])
    assert site.status == "init=0", site.console
    assert site.init == ["init: DHCP on eth0"], site.console
    assert site.console.count("udhcpc: started") == 1
    assert "ip='10.0.2.1" in site.lease and "family='6'" not in site.lease
    assert 1 <= len(site.discovers) <= FIRST, site
    assert site.solicits == [], site


def test_dhcpcd_says_what_is_wrong_but_not_its_s390x_vendor_class_complaint(
        tmp_path: Path) -> None:
    """On s390x dhcpcd starts with "dhcp_vendor: No such process" (no "Manufacturer" in
    /proc/cpuinfo for its vendor class), harmless, at every DHCPv6 boot: the console
    leaves it out. Here a dhcpcd that says it first, then is the host's dhcpcd, whose
    config has an option it does not know: that complaint still reaches the console, and
    the event script's lease line comes as it happens, before init goes on."""
    programs = tmp_path / "programs"
    programs.mkdir()
    wrapper = programs / "dhcpcd"
    wrapper.write_text(f'#!/bin/sh\necho "dhcp_vendor: No such process" >&2\n'
                       f'exec {DHCPCD} "$@"\n')
    wrapper.chmod(0o755)
    site = run_site(tmp_path, IPV6_ONLY, dhcp="ipv6", programs=programs,
                    dhcpcd_conf="composer_test_unknown_option\n")
    assert site.status == "init=0", site.console
    assert "family='6'" in site.lease
    lines = site.console.splitlines()
    assert not [line for line in lines if "dhcp_vendor" in line], site.console
    complaint = [i for i, line in enumerate(lines)
                 if "unknown option: composer_test_unknown_option" in line]
    bound = [i for i, line in enumerate(lines) if line.startswith("dhcpcd: BOUND6: eth0 fd77::")]
    assert complaint and bound, site.console
    # dhcpcd's own words when it has stopped; the lease line live, before them.
    assert bound[0] < complaint[0], site.console
