"""A site in a box: a network namespace with real servers for a guest on a tap device.

Every boot through QEMU's user network meets QEMU's own toy DHCP and TFTP server; sites
run dnsmasq and a web server, over IPv4, IPv6 or both, sometimes behind a VLAN. The lab
makes that site on this machine and nowhere else: a network namespace holding a bridge
(`br0`) with the guest's tap device (`tap0`) on it, dnsmasq (DHCPv4, DHCPv6, router
advertisements, TFTP, DNS) and nginx, both from Debian, run with configuration files
written here (never the host's /etc/dnsmasq.conf or /etc/nginx, never its services).
QEMU joins by running inside the namespace (`ip netns exec`) with `-netdev tap`. No
address leaves the namespace, and leaving the `with` block kills both servers and
deletes the namespace, the tap and the bridge with it (also after an exception).

Addresses: the servers are 192.168.77.1/24 and fd77::1/64 on the bridge; with a VLAN id
they move to the VLAN's port `vlVID` (192.168.78.1/24, fd78::1/64) and the untagged
network keeps only the IPv4 address the firmware's DHCP needs (or the IPv6 one when
IPv4 is off). With a VLAN the guest's card is not on a tap but on the lab's trunk port
(composer/qemu/trunk.py, `udp_port`): the host kernel needs no 8021q module.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from composer.errors import BuildError, InputError

LAB_PACKAGES = "the lab needs dnsmasq and nginx: apt-get install dnsmasq-base nginx-light"
TAP = "tap0"
TRUNK_PORT = 5555  # in the lab's own namespace: no other program has it
BRIDGE = "br0"
_counter = itertools.count()


@dataclass(frozen=True)
class Subnet:
    """One server-side network: its addresses and the pools dnsmasq hands out."""

    ipv4: str          # the server's address
    ipv6: str
    interface: str     # where the servers listen

    @property
    def ipv4_net(self) -> str:
        return self.ipv4.rsplit(".", 1)[0]

    @property
    def ipv6_net(self) -> str:
        return self.ipv6.rsplit("::", 1)[0] + "::"

    def dhcp4_range(self, tag: str = "") -> str:
        set_tag = f"set:{tag}," if tag else ""
        return f"dhcp-range={set_tag}{self.ipv4_net}.100,{self.ipv4_net}.199,255.255.255.0,1h"

    def dhcp6_range(self, tag: str = "") -> str:
        set_tag = f"set:{tag}," if tag else ""
        return f"dhcp-range={set_tag}{self.ipv6_net}100,{self.ipv6_net}1ff,64,1h"


NATIVE = Subnet("192.168.77.1", "fd77::1", BRIDGE)


def vlan_subnet(vid: int) -> Subnet:
    return Subnet("192.168.78.1", "fd78::1", f"vl{vid}")


@dataclass
class Lab:
    """The namespace and its servers; `with Lab(...) as lab:` brings them up and down.

    DNSMASQ_LINES are what a site writes in its dnsmasq.conf (dhcp-range, dhcp-boot,
    dhcp-option...), or DNSMASQ_CONF a file of them; the lab adds only where dnsmasq
    listens, its TFTP root, pid, lease and log files. HTTP_ROOT (if any) is served by
    nginx on port 80 of the server addresses."""

    tftp_root: Path
    http_root: Path | None = None
    dnsmasq_lines: Sequence[str] = ()
    dnsmasq_conf: Path | None = None
    ipv4: bool = True
    ipv6: bool = True
    vlan: int | None = None
    netns: str = field(default_factory=lambda: f"compose-lab-{os.getpid()}-{next(_counter)}")
    tap: str = TAP
    _scratch: Path | None = field(default=None, repr=False)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def servers(self) -> Subnet:
        """Where dnsmasq's DHCP for the image and nginx answer."""
        return vlan_subnet(self.vlan) if self.vlan is not None else NATIVE

    @property
    def udp_port(self) -> int | None:
        """Where QEMU sends the guest's frames (-netdev socket,udp=127.0.0.1:PORT) when
        the lab has a VLAN; None: the guest's card goes on the tap."""
        return TRUNK_PORT if self.vlan is not None else None

    @property
    def scratch(self) -> Path:
        assert self._scratch is not None, "the lab is not up"
        return self._scratch

    def __enter__(self) -> Lab:
        check_lab_tools()
        if self.vlan is not None and not 1 <= self.vlan <= 4094:
            raise InputError(f"VLAN id {self.vlan} is not 1..4094")
        if not (self.ipv4 or self.ipv6):
            raise InputError("the lab needs IPv4, IPv6 or both")
        sweep_stale_labs()
        self._scratch = Path(tempfile.mkdtemp(prefix="compose-lab-"))
        try:
            self._network()
            self._start_dnsmasq()
            if self.http_root is not None:
                self._start_nginx()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # --- the network -------------------------------------------------------------------

    def ip(self, *args: str) -> None:
        """`ip ARGS` inside the namespace; a failure is the lab's, with ip's message."""
        run(["ip", "-n", self.netns, *args])

    def _network(self) -> None:
        run(["ip", "netns", "add", self.netns])
        self.ip("link", "set", "lo", "up")
        if not self.ipv4:  # IPv6 only: not even loopback's 127.0.0.1
            self.ip("addr", "del", "127.0.0.1/8", "dev", "lo")
        self.ip("link", "add", BRIDGE, "type", "bridge", "forward_delay", "0")
        # The bridge's link-local address usable as soon as it is up (no duplicate
        # address detection: nothing else is on this link but the guest), so that
        # dnsmasq's router advertisements, which go out from it, answer the firmware's
        # first solicitation rather than a second after it.
        run([*self.exec_prefix(), "sysctl", "-q", "-w", f"net.ipv6.conf.{BRIDGE}.accept_dad=0"])
        if self.vlan is None:
            self.ip("tuntap", "add", "dev", self.tap, "mode", "tap")
        else:
            # The trunk (composer/qemu/trunk.py) makes the native tap and the VLAN's.
            self._spawn([*self.exec_prefix(), sys.executable, "-m", "composer.qemu.trunk",
                         str(TRUNK_PORT), self.tap, f"{self.vlan}={self.servers.interface}"],
                        "trunk")
            log = self.scratch / "trunk.stderr"
            wait_for(lambda: "trunk ready" in read(log), "trunk", log, self._processes[-1])
            self.ip("link", "set", self.servers.interface, "up")
        self.ip("link", "set", self.tap, "master", BRIDGE)
        for link in (self.tap, BRIDGE):
            self.ip("link", "set", link, "up")
        # QEMU's s390 firmware (SLOF's IPv6 stack) leaves the servers' neighbour probes
        # unanswered: once the kernel's entry for it needs confirming, replies stop and
        # a slow TFTP transfer fails ("missing 21 responses"). Keep entries usable for
        # 10 minutes, longer than any boot here.
        for setting in ("base_reachable_time_ms=600000", "delay_first_probe_time=600"):
            run([*self.exec_prefix(), "sysctl", "-q", "-w",
                 f"net.ipv6.neigh.{BRIDGE}.{setting}"])
        # The firmware's DHCP is untagged: the native network keeps one family for it.
        for subnet, v4, v6 in self._addressed():
            if v4:
                self.ip("addr", "add", f"{subnet.ipv4}/24", "dev", subnet.interface)
            if v6:
                self.ip("addr", "add", f"{subnet.ipv6}/64", "dev", subnet.interface, "nodad")

    def _addressed(self) -> list[tuple[Subnet, bool, bool]]:
        if self.vlan is None:
            return [(NATIVE, self.ipv4, self.ipv6)]
        return [(NATIVE, self.ipv4, not self.ipv4), (self.servers, self.ipv4, self.ipv6)]

    def exec_prefix(self) -> list[str]:
        """What runs a command (QEMU) inside the namespace."""
        return ["ip", "netns", "exec", self.netns]

    # --- the servers -------------------------------------------------------------------

    def _start_dnsmasq(self) -> None:
        conf = self.scratch / "dnsmasq.conf"
        conf.write_text(dnsmasq_config(self))
        log = self.scratch / "dnsmasq.log"
        self._spawn([*self.exec_prefix(), shutil.which("dnsmasq") or "dnsmasq",
                     f"--conf-file={conf}", "--keep-in-foreground"], "dnsmasq")
        wait_for(lambda: "started, version" in read(log), "dnsmasq", log, self._processes[-1])

    def _start_nginx(self) -> None:
        conf = self.scratch / "nginx.conf"
        conf.write_text(nginx_config(self))
        self._spawn([*self.exec_prefix(), shutil.which("nginx") or "nginx",
                     "-p", str(self.scratch), "-c", str(conf), "-e",
                     str(self.scratch / "nginx.error.log")], "nginx")
        pid = self.scratch / "nginx.pid"
        wait_for(pid.exists, "nginx", self.scratch / "nginx.error.log", self._processes[-1])

    def _spawn(self, command: list[str], name: str) -> None:
        with open(self.scratch / f"{name}.stderr", "wb") as stderr:
            self._processes.append(subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True))

    def close(self) -> None:
        """Stops the servers this lab started and deletes its namespace and files."""
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes.clear()
        remove_namespace(self.netns)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def log(self, name: str) -> str:
        """A server's log so far: dnsmasq.log, nginx.access.log, nginx.error.log."""
        return read(self.scratch / name)


def default_dnsmasq_lines(lab: Lab, bootfile: str = "pxelinux.0") -> list[str]:
    """What `compose boot --lab` serves without --dnsmasq-conf: DHCP for each family the
    lab has, the boot file by TFTP."""
    lines = ["dhcp-boot=" + bootfile] if lab.ipv4 else []
    if lab.ipv4:
        lines.append(lab.servers.dhcp4_range())
    if lab.ipv6:
        lines += ["enable-ra", lab.servers.dhcp6_range(),
                  f"dhcp-option=option6:bootfile-url,tftp://[{lab.servers.ipv6}]/{bootfile}"]
    return lines


def dnsmasq_config(lab: Lab) -> str:
    scratch = lab.scratch
    lines = [
        "# written by composer's lab; only this file is read (--conf-file)",
        "user=root", "group=root",  # the TFTP root may be a private temporary directory
        "bind-dynamic", "except-interface=lo",
        *(f"interface={subnet.interface}" for subnet, _, _ in lab._addressed()),
        f"pid-file={scratch / 'dnsmasq.pid'}",
        f"dhcp-leasefile={scratch / 'dnsmasq.leases'}",
        f"log-facility={scratch / 'dnsmasq.log'}",
        "log-dhcp", "log-queries", "no-resolv", "no-hosts", "no-ping",
        "enable-tftp", f"tftp-root={lab.tftp_root.resolve()}",
    ]
    if lab.dnsmasq_conf is not None:
        lines.append(f"conf-file={lab.dnsmasq_conf.resolve()}")
    lines += lab.dnsmasq_lines
    return "\n".join(lines) + "\n"


def nginx_config(lab: Lab) -> str:
    assert lab.http_root is not None
    scratch = lab.scratch
    listen = []
    for subnet, v4, v6 in lab._addressed():
        if subnet == lab.servers:
            listen += [f"listen {subnet.ipv4}:80;"] if v4 else []
            listen += [f"listen [{subnet.ipv6}]:80;"] if v6 else []
    temp = " ".join(f"{kind}_temp_path {scratch / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""# written by composer's lab; the host's /etc/nginx is not read
daemon off;
user root;
worker_processes 1;
pid {scratch / 'nginx.pid'};
error_log {scratch / 'nginx.error.log'} info;
events {{ worker_connections 64; }}
http {{
    default_type application/octet-stream;
    access_log {scratch / 'nginx.access.log'};
    {temp}
    sendfile on;
    server {{
        {' '.join(listen)}
        root {lab.http_root.resolve()};
    }}
}}
"""


def remove_namespace(name: str) -> None:
    """Ends what still runs in the namespace NAME (a QEMU, a server the lab started),
    then deletes it: a deleted namespace's processes would otherwise live on."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True,
                          check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def sweep_stale_labs() -> None:
    """Deletes the namespaces of labs whose process is gone (killed before it could
    clean up): compose-lab-PID-N with no process PID."""
    for path in Path("/run/netns").glob("compose-lab-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path("/proc", pid).exists():
            remove_namespace(path.name)


def check_lab_tools() -> None:
    if os.geteuid() != 0:
        raise InputError("the lab makes a network namespace and a tap device: run as root")
    missing = [tool for tool in ("ip", "dnsmasq", "nginx") if shutil.which(tool) is None]
    if missing:
        raise BuildError(f"{' and '.join(missing)} not found", hint=LAB_PACKAGES)


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"lab: {' '.join(command)} failed: {done.stderr.strip()}")


def read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def wait_for(ready: object, name: str, log: Path, process: subprocess.Popen[bytes],
             timeout: float = 10.0) -> None:
    assert callable(ready)
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            stderr = read(log.parent / f"{name}.stderr").strip()
            raise BuildError(f"lab: {name} did not start: "
                             f"{stderr or read(log).strip()[-600:] or 'no message'}")
        time.sleep(0.05)
