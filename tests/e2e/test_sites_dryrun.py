"""Real sites in the dry run: the IPv6 lookup, the command line's ip=/vlan=/pxeboot.*
parameters (bootscripts/pxeboot/ipconfig.sh) and what wins over DHCP, run by the host's
busybox sh and dash on the scripts `compose render` writes for the image.

Expected values come from dracut.cmdline(7) (ip=, vlan=), RFC 5970 (DHCPv6 option 59) and
syslinux's lookup order without its hex-IP steps, which have no IPv6 form.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, applet_links, rendered, serve
from kernelfactory import s390_kernel

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "pxelinux.yaml"
SHELLS = [s for s in (BUSYBOX, shutil.which("dash")) if s and Path(s).exists()]

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")

V6_FACTS = {
    "family": "6",
    "bootfile_url": "tftp://[fd77::1]/boot/pxelinux.0",
    "ip6": "fd77::50",
    "uuid": "b8945908-d6a6-41a9-611d-74a6ab80b83d",
    "mac": "88:99:AA:BB:CC:DD",
}
KERNEL = s390_kernel()  # the dry run checks the kernel's s390 boot marks
V6_ORDER = [
    "boot/pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d",
    "boot/pxelinux.cfg/01-88-99-aa-bb-cc-dd",
    "boot/pxelinux.cfg/default",
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's scripts as `compose render` writes them (no modules to load), and
    busybox's applets in ROOT/applets (wget and tftp are busybox's, as in the image)."""
    dest = rendered(tmp_path_factory.mktemp("rendered"), RECIPE, "--set", "modules=")
    applet_links(dest / "applets")
    return dest


def dry_run(root: Path, tftp: Path, facts: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = f"{root / 'applets'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    env = {"PATH": path, "PXE_VERBOSITY": "2", **facts}
    return subprocess.run([BUSYBOX, "sh", str(root / "sbin/pxeboot"), "--dry-run",
                           "--tftp-root", str(tftp)], env=env, capture_output=True, text=True,
                          timeout=30, check=False)


def value(stdout: str, key: str) -> str:
    found = [line.split("=", 1)[1] for line in stdout.splitlines() if line.startswith(key + "=")]
    assert len(found) == 1, stdout
    return found[0]


@pytest.mark.parametrize("first", range(len(V6_ORDER)), ids=["uuid", "01-mac", "default"])
def test_ipv6_lookup_order_relative_to_the_bootfile_url(root: Path, tmp_path: Path,
                                                        first: int) -> None:
    serve(tmp_path, {"boot/vmlinuz": KERNEL})
    for name in V6_ORDER[first:]:
        serve(tmp_path, {name: f"DEFAULT x\nLABEL x\nKERNEL vmlinuz\nAPPEND from={name}\n"})
    done = dry_run(root, tmp_path, V6_FACTS)
    assert done.returncode == 0, done.stderr
    assert value(done.stdout, "config") == V6_ORDER[first]
    assert value(done.stdout, "kernel") == "boot/vmlinuz"
    assert "TFTP server [fd77::1] (from DHCPv6 option 59 (bootfile-url))" in done.stderr


def test_ipv6_lookup_has_no_hex_ip_step(root: Path, tmp_path: Path) -> None:
    done = dry_run(root, tmp_path, V6_FACTS)
    assert done.returncode == 1
    tried = [line.split("trying config ", 1)[1] for line in done.stderr.splitlines()
             if "trying config " in line]
    assert tried == V6_ORDER, done.stderr
    assert "error: no configuration file under tftp://[fd77::1]/boot/" in done.stderr


def test_v6_host_path_names_another_tftp_server(root: Path, tmp_path: Path) -> None:
    config = "DEFAULT x\nLABEL x\nKERNEL [fd77::2]::other/vmlinuz\nINITRD ::top.img\n"
    serve(tmp_path, {"boot/pxelinux.cfg/default": config, "other/vmlinuz": KERNEL,
                     "top.img": "i"})
    done = dry_run(root, tmp_path, V6_FACTS)
    assert done.returncode == 0, done.stderr
    assert value(done.stdout, "kernel") == "[fd77::2]::other/vmlinuz"
    assert value(done.stdout, "initrd") == "top.img"


def test_config_label_directory_on_an_ipv6_server(root: Path, tmp_path: Path) -> None:
    """CONFIG file dir: the new prefix is dir's path on the same [v6] server."""
    serve(tmp_path, {"boot/pxelinux.cfg/default": "DEFAULT c\nLABEL c\n  CONFIG two.cfg boot2/\n",
                     "boot/two.cfg": "DEFAULT x\nLABEL x\n  KERNEL vmlinuz\n",
                     "boot/boot2/vmlinuz": KERNEL})
    done = dry_run(root, tmp_path, V6_FACTS)
    assert done.returncode == 0, done.stderr
    assert value(done.stdout, "kernel") == "boot/boot2/vmlinuz"


class Http6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def test_http_over_ipv6_from_an_http_bootfile_url(root: Path, tmp_path: Path) -> None:
    www = tmp_path / "www"
    serve(www, {"boot/pxelinux.cfg/default":
                "DEFAULT x\nLABEL x\nKERNEL vmlinuz\nAPPEND v6=yes\n",
                "boot/vmlinuz": KERNEL})
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(www))
    with Http6Server(("::1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://[::1]:{server.server_address[1]}/boot/"
        try:
            done = dry_run(root, tmp_path, {**V6_FACTS, "bootfile_url":
                                            base + "pxelinux.0"})
        finally:
            server.shutdown()
    assert done.returncode == 0, done.stderr
    assert value(done.stdout, "config") == base + "pxelinux.cfg/default"
    assert value(done.stdout, "kernel") == base + "vmlinuz"
    assert value(done.stdout, "append") == "BOOT_IMAGE=vmlinuz v6=yes"


def test_pxeboot_config_and_server_win_over_dhcp(root: Path, tmp_path: Path) -> None:
    serve(tmp_path, {"dhcp.cfg": "DEFAULT x\nLABEL x\nKERNEL k\nAPPEND from=dhcp\n",
                     "mine.cfg": "DEFAULT x\nLABEL x\nKERNEL k\nAPPEND from=cmdline\n",
                     "k": KERNEL})
    facts = {"siaddr": "10.0.2.2", "ip": "10.0.2.15", "pxeconffile": "dhcp.cfg",
             "pxeboot_config": "mine.cfg", "pxeboot_server": "[fd77::9]"}
    done = dry_run(root, tmp_path, facts)
    assert done.returncode == 0, done.stderr
    assert value(done.stdout, "append") == "BOOT_IMAGE=k from=cmdline"
    assert "TFTP server [fd77::9] (from pxeboot.server=)" in done.stderr


def test_pxeboot_config_url_names_the_server_without_dhcp(root: Path, tmp_path: Path) -> None:
    facts = {"ip": "192.168.77.50", "pxeboot_config": "http://boot.lab/site.cfg"}
    done = dry_run(root, tmp_path, facts)
    assert "TFTP server boot.lab (from pxeboot.config='s URL)" in done.stderr
    assert "path prefix 'http://boot.lab/' (from option 209 (pxeconffile) as a URL)" \
        in done.stderr


# --- ip=, vlan=, pxeboot.* (ipconfig.sh) ---------------------------------------------------

def parse(root: Path, shell: str, cmdline: str) -> tuple[int, dict[str, str], str]:
    program = (f'set -f; PXE_VERBOSITY=1 PXE_TAG=t; . "{root}/lib/pxeboot/common.sh"; '
               f'. "{root}/lib/pxeboot/ipconfig.sh"; '
               'if ipconfig_parse "$1"; then ipconfig_show; else echo "$IPC_ERROR"; exit 1; fi')
    args = [shell, "sh", "-c", program, "sh", cmdline] if shell == BUSYBOX else \
        [shell, "-c", program, "sh", cmdline]
    done = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    found = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line
                 and line.startswith("IPC_"))
    return done.returncode, {k: v for k, v in found.items() if v}, done.stdout + done.stderr


GOOD = {
    "ip=dhcp": {"IPC_MODE": "dhcp"},
    "ip=dhcp6": {"IPC_MODE": "dhcp6"},
    "ip=eth1:dhcp6": {"IPC_MODE": "dhcp6", "IPC_IFACE": "eth1"},
    "console=ttysclp0 ip=192.168.77.50::192.168.77.1:255.255.255.0:guest:eth0:none:"
    "192.168.77.1 quiet": {
        "IPC_MODE": "static", "IPC_FAMILY": "4", "IPC_ADDR": "192.168.77.50",
        "IPC_GW": "192.168.77.1", "IPC_BITS": "24", "IPC_NETMASK": "255.255.255.0",
        "IPC_HOSTNAME": "guest", "IPC_IFACE": "eth0", "IPC_DNS": "192.168.77.1"},
    "ip=10.1.2.3:10.1.2.1::255.255.240.0:::off": {
        "IPC_MODE": "static", "IPC_FAMILY": "4", "IPC_ADDR": "10.1.2.3",
        "IPC_SERVER": "10.1.2.1", "IPC_BITS": "20", "IPC_NETMASK": "255.255.240.0"},
    "ip=[fd77::50]:[fd77::1]:[fd77::1]:64::eth0:none:[fd77::53]:[fd77::54]": {
        "IPC_MODE": "static", "IPC_FAMILY": "6", "IPC_ADDR": "fd77::50",
        "IPC_SERVER": "fd77::1", "IPC_GW": "fd77::1", "IPC_BITS": "64", "IPC_IFACE": "eth0",
        "IPC_DNS": "fd77::53 fd77::54"},
    "ip=10.0.0.2:::8::eth0:none:9000": {
        "IPC_MODE": "static", "IPC_FAMILY": "4", "IPC_ADDR": "10.0.0.2", "IPC_BITS": "8",
        "IPC_IFACE": "eth0", "IPC_MTU": "9000"},
    "vlan=eth0.10:eth0": {"IPC_VLAN_NAME": "eth0.10", "IPC_VLAN_PARENT": "eth0",
                          "IPC_VLAN_ID": "10"},
    "vlan=vlan0042:enc1 ip=vlan0042:dhcp": {
        "IPC_VLAN_NAME": "vlan0042", "IPC_VLAN_PARENT": "enc1", "IPC_VLAN_ID": "42",
        "IPC_MODE": "dhcp", "IPC_IFACE": "vlan0042"},
    "vlan=vlan7:eth0": {"IPC_VLAN_NAME": "vlan7", "IPC_VLAN_PARENT": "eth0",
                        "IPC_VLAN_ID": "7"},
    "pxeboot.config=http://boot.lab/site.cfg pxeboot.server=fd77::1 "
    "pxeboot.dns=192.168.77.1,fd77::1": {
        "IPC_CONFIG": "http://boot.lab/site.cfg", "IPC_BOOT_SERVER": "[fd77::1]",
        "IPC_DNS": "192.168.77.1 fd77::1", "IPC_PXE_DNS": "192.168.77.1 fd77::1"},
    "pxeboot.server=[fd77::1] ip=10.0.0.2:::24::eth0:none:10.0.0.53 pxeboot.dns=10.0.0.9": {
        "IPC_BOOT_SERVER": "[fd77::1]", "IPC_MODE": "static", "IPC_FAMILY": "4",
        "IPC_ADDR": "10.0.0.2", "IPC_BITS": "24", "IPC_IFACE": "eth0",
        "IPC_DNS": "10.0.0.9", "IPC_PXE_DNS": "10.0.0.9"},
    "console=ttysclp0 BOOT_IMAGE=x": {},
}

BAD = {
    "ip=off": "leaves no network to boot from",
    "ip=eth0:static": "'static' is not dhcp or dhcp6",
    "ip=10.0.0.2:::24": "has 4 fields; a static address takes",
    "ip=10.0.0.256:::24::eth0:none": "client address '10.0.0.256' is not an IPv4 or IPv6",
    "ip=10.0.0.2::10.0.0.1:255.0.255.0::eth0:none": "'255.0.255.0' is not a netmask",
    "ip=10.0.0.2::10.0.0.1:33::eth0:none": "'33' is not a netmask or prefix length for IPv4",
    "ip=10.0.0.2::[fd77::1]:24::eth0:none": "'fd77::1' is not an IPv4 address like the client's",
    "ip=[fd77::50:::64::eth0:none": "a '[' without its ']'",
    "ip=[fd77::50]::[fd77::1]:129::eth0:none": "'129' is not a netmask or prefix length for IPv6",
    "ip=[fd77:::50]:::64::eth0:none": "client address 'fd77:::50' is not",
    "ip=10.0.0.2:::::eth0:none": "gives no netmask",
    "ip=10.0.0.2:::24:bad/host:eth0:none": "'bad/host' is not a host name",
    "ip=10.0.0.2:::24::eth0:sometimes": "'sometimes' is not none, dhcp or dhcp6",
    "ip=10.0.0.2:::24::eth0:none:dns.lab": "name server 'dns.lab' is not an address",
    "vlan=eth0.10": "not NAME:PARENT",
    "vlan=foo:eth0": "the name 'foo' gives no VLAN id 1..4094",
    "vlan=eth0.4095:eth0": "the name 'eth0.4095' gives no VLAN id",
    "vlan=vlan0:eth0": "the name 'vlan0' gives no VLAN id",
    "vlan=eth0.10:": "'' is not an interface name",
    "vlan=eth0.10:eth0 ip=eth1:dhcp": "ip= names interface eth1 but vlan= makes eth0.10",
    "pxeboot.config=": "pxeboot.config= names no file",
    "pxeboot.server=a/b": "pxeboot.server=a/b: not a host name or address",
    "pxeboot.dns=10.0.0.1,nameserver": "'nameserver' is not an IPv4 or IPv6 address",
}


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: Path(s).name)
@pytest.mark.parametrize("cmdline", GOOD, ids=range(len(GOOD)))
def test_command_line_parameters(root: Path, shell: str, cmdline: str) -> None:
    code, found, output = parse(root, shell, cmdline)
    assert code == 0, output
    assert found == GOOD[cmdline]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: Path(s).name)
@pytest.mark.parametrize("cmdline", BAD, ids=range(len(BAD)))
def test_malformed_parameters_say_what_is_wrong(root: Path, shell: str, cmdline: str) -> None:
    code, _, output = parse(root, shell, cmdline)
    assert code == 1
    assert BAD[cmdline] in output, output


def test_init_reports_a_malformed_parameter_and_fails(root: Path, tmp_path: Path) -> None:
    """/init (here `/init net`, as from the image's shell) stops before any network
    change with the parameter and the reason; as PID 1 on_failure follows."""
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("console=ttysclp0 vlan=eth0.10:eth0 ip=10.0.0.2:::33::eth0.10:none\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PXE_CMDLINE": str(cmdline),
           "PXE_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run([BUSYBOX, "sh", str(root / "init"), "net"], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert ("init: net failed: bad boot parameter: ip=10.0.0.2:::33::eth0.10:none: '33' is "
            "not a netmask or prefix length for IPv4") in done.stderr
    assert not (tmp_path / "state").exists()
