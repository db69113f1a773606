"""/init, the udhcpc event script and the boot script's guest mode, on the host.

The scripts are what `compose render` writes for a recipe that extends
recipes/pxelinux.yaml with the variables of a test: the static scripts, their library
under lib/pxeboot/ and the rendered etc/pxeboot.conf, in one root directory. Syntax of
every shell file is checked with `busybox sh -n`. The network part runs for real in a
private network namespace (`unshare -rnm`): a veth pair, busybox udhcpd as the DHCP
server, tests/tftp_server.py as the TFTP server, and `ROOT/init net`, the udhcpc event
script and `ROOT/sbin/pxeboot` under busybox applets; only kexec is missing, so the boot
stops with its error after every download.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, CARD_AND_UDHCPD, card_up, rendered_variant
from kernelfactory import s390_kernel

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "pxelinux.yaml"
TFTP_SERVER = Path(__file__).resolve().parents[1] / "tftp_server.py"
IPROUTE = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")

VARIANTS: list[dict[str, object]] = [
    {},
    {"interface": "enc1", "modules": ["failover", "net_failover", "virtio_net"],
     "on_failure": "poweroff", "verbosity": 2, "dhcp_timeout": 1, "dhcp_retries": 9,
     "client_arch": "0x0020", "tftp_retries": 5, "tftp_blocksize": 0,
     "state_dir": "/run/it's here", "resolv_conf": "/tmp/resolv $(x).conf"},
]


def render(variables: dict[str, object], dest: Path) -> Path:
    """DEST as `compose render` writes it for recipes/pxelinux.yaml plus VARIABLES (new
    ones, like state_dir, are declared by the variant as a user's recipe would)."""
    return rendered_variant(dest, variables)


SCRIPTS = ["init", "etc/udhcpc/default.script", "sbin/pxeboot", "etc/pxeboot.conf",
           "lib/pxeboot/*.sh"]


@pytest.mark.parametrize("variables", VARIANTS, ids=["defaults", "everything-set"])
def test_rendered_scripts_are_valid_busybox_sh(tmp_path: Path,
                                               variables: dict[str, object]) -> None:
    root = render(variables, tmp_path / "root")
    scripts = [path for pattern in SCRIPTS for path in sorted(root.glob(pattern))]
    assert len(scripts) > len(SCRIPTS)
    for script in scripts:
        assert script.read_text().startswith(("#!/bin/sh\n# ", "# "))
        result = subprocess.run([BUSYBOX, "sh", "-n", str(script)], capture_output=True,
                                text=True, timeout=30, check=False)
        assert result.returncode == 0, (script, result.stderr)
    for entry in SCRIPTS[:3]:
        assert (root / entry).stat().st_mode & 0o111, entry


def test_rendered_values_reach_the_shell_unchanged(tmp_path: Path) -> None:
    """A quote or a $() in a recipe variable is data in the rendered settings."""
    root = render({"interface": "it's $(touch PWNED)", "interface_wait": 0}, tmp_path / "root")
    result = subprocess.run([BUSYBOX, "sh", str(root / "init"), "net"], capture_output=True,
                            text=True, timeout=30, check=False, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert "network interface it's $(touch PWNED) did not appear within 0 s" in result.stderr
    assert not (tmp_path / "PWNED").exists()


def test_init_refuses_to_run_the_whole_boot_unless_pid_1(tmp_path: Path) -> None:
    init = render({}, tmp_path / "root") / "init"
    result = subprocess.run([BUSYBOX, "sh", str(init)], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 2
    assert "only as PID 1" in result.stderr


# --- the real network in a namespace -------------------------------------------------------



@pytest.fixture(scope="module")
def namespace() -> list[str]:
    if IPROUTE is None:
        pytest.skip("iproute2's ip is needed to create a veth pair")
    probe = subprocess.run(["unshare", "-rnm", "true"], capture_output=True, text=True,
                           timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no private network namespace here: {probe.stderr.strip()}")
    return ["unshare", "-rnm", BUSYBOX, "sh"]


UDHCPD_CONF = """\
start 10.0.2.15
end 10.0.2.15
interface srv0
lease_file {work}/leases
pidfile {work}/udhcpd.pid
siaddr 10.0.2.9
boot_file s390x/pxelinux.0
opt subnet 255.255.255.0
opt router 10.0.2.2
opt dns 10.0.2.3
opt domain example.test
opt tftp 10.0.2.2
opt pxeconffile {conffile}
"""

# The namespace's link and servers (udhcpd, the TFTP server), for both runs below.
SERVERS = "set -e\nmount -t sysfs sysfs /sys\n" + CARD_AND_UDHCPD + """\
udhcpd=$!
{python} {tftp_server} {tftp_root} 10.0.2.2 >{work}/tftp.log 2>&1 </dev/null &
tftpd=$!
trap 'kill $udhcpd $tftpd' EXIT
sleep 0.5
set +e
"""

NETWORK = SERVERS + """\
busybox sh {init} net >{work}/init.out 2>&1
echo "init=$?" >{work}/status
ip -4 addr show dev eth0 >{work}/addr
ip -4 route >{work}/route
busybox sh -c '. {state}/dhcp.env; printf "%s\\n" "$pxeconffile" "$tftp" "$boot_file"' \
    >{work}/sourced
strace -f -q -qq -e trace=execve,openat -e signal=none -o {work}/execs \
    busybox sh {pxeboot} >{work}/pxeboot.out 2>&1
echo "pxeboot=$?" >>{work}/status
"""


def test_dhcp_tftp_and_boot_script_in_a_namespace(tmp_path: Path, applets: Path,
                                                   namespace: list[str]) -> None:
    work = tmp_path / "work"
    state = tmp_path / "state"
    tftp_root = tmp_path / "tftp"
    for directory in (work, state, tftp_root / "s390x" / "pxelinux.cfg"):
        directory.mkdir(parents=True)
    hostile = "cfg'$(touch${IFS}PWNED)"
    variables = {"state_dir": str(state), "dhcp_timeout": 1, "dhcp_retries": 3,
                 "tftp_retry_delay": 0, "resolv_conf": str(work / "resolv.conf")}
    root = render(variables, tmp_path / "root")
    init, pxeboot = root / "init", root / "sbin" / "pxeboot"
    (tftp_root / "s390x" / "pxelinux.cfg" / "default").write_text(
        "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n INITRD a.img,b.img\n IPAPPEND 3\n")
    (tftp_root / "s390x" / "vmlinuz").write_bytes(s390_kernel())  # checked before kexec
    (tftp_root / "s390x" / "a.img").write_bytes(b"a" * 100)
    (tftp_root / "s390x" / "b.img").write_bytes(b"b" * 10)
    (work / "udhcpd.conf").write_text(UDHCPD_CONF.format(work=work, conffile=hostile))
    (work / "net.sh").write_text(NETWORK.format(
        ip=IPROUTE, work=work, python=sys.executable, tftp_server=TFTP_SERVER,
        tftp_root=tftp_root, init=init, pxeboot=pxeboot, state=shlex.quote(str(state))))

    env = {"PATH": f"{applets}:/usr/bin:/bin", "PXE_VERBOSITY": "2"}
    subprocess.run([*namespace, str(work / "net.sh")], env=env, cwd=work, timeout=120,
                   check=True, capture_output=True)

    init_out = (work / "init.out").read_text()
    status = (work / "status").read_text().split()
    assert status[0] == "init=0", init_out
    assert "inet 10.0.2.15/24" in (work / "addr").read_text()
    assert "default via 10.0.2.2 dev eth0" in (work / "route").read_text()
    assert (work / "resolv.conf").read_text() == "search example.test\nnameserver 10.0.2.3\n"
    assert (work / "sourced").read_text().splitlines() == [hostile, "10.0.2.2", "s390x/pxelinux.0"]
    assert not list(tmp_path.rglob("PWNED"))

    # The boot script fetched by TFTP in syslinux's order, negotiating the block size.
    requests = [line.split()[1] for line in (work / "tftp.log").read_text().splitlines()
                if line.startswith("RRQ")]
    mac = _mac(state)
    assert requests[:3] == [f"s390x/{hostile}", f"s390x/pxelinux.cfg/01-{mac}",
                            "s390x/pxelinux.cfg/0A00020F"]
    assert requests[-4:] == ["s390x/pxelinux.cfg/default", "s390x/vmlinuz", "s390x/a.img",
                             "s390x/b.img"]
    # Each candidate asked once, in order, by the one job of the config search.
    assert requests[2:-3] == [f"s390x/pxelinux.cfg/{'0A00020F'[:n]}" for n in range(8, 0, -1)] \
        + ["s390x/pxelinux.cfg/default"]
    assert "blksize=1468" in (work / "tftp.log").read_text()
    files = state / "files"
    assert (files / "kernel").read_bytes() == (tftp_root / "s390x" / "vmlinuz").read_bytes()
    assert (files / "initrd").read_bytes() == b"a" * 100 + bytes(3996) + b"b" * 10
    # One stat per file fetched (transfer_watch's look at what arrived), none besides: the
    # size is passed on (FETCH_GOT, the config search's) and where an initrd part begins
    # is counted by boot.sh (under TCG each process costs the boot ~10 ms).
    started = re.findall(r'execve\("[^"]*/([^/"]+)"', (work / "execs").read_text())
    assert started.count("tftp") == 14, started
    assert started.count("stat") == 4, started
    # The config search's count of misses (10 here) is written once at its end, not once
    # a miss (plus the 0 written before it begins).
    traced = (work / "execs").read_text()
    assert len(re.findall(r'openat\([^)]*fetch\.misses", O_WRONLY\|O_CREAT\|O_TRUNC', traced)) == 2

    # kexec is not on the host: the script stops there, after saying what it would boot.
    out = (work / "pxeboot.out").read_text()
    assert status[1] == "pxeboot=1", out
    assert "booting label 'linux'" in out
    assert ("command line: BOOT_IMAGE=vmlinuz initrd=a.img,b.img "
            f"ip=10.0.2.15:10.0.2.2:10.0.2.2:255.255.255.0 BOOTIF=01-{mac}") in out
    assert "kexec -l failed to load kernel s390x/vmlinuz" in out


# `/init boot`: modules (none), the interface, the early boot script, DHCP and the boot,
# as PID 1 runs them, under strace.
INIT_BOOT = SERVERS + """\
strace -f -q -qq -e trace=execve,setpriority -e signal=none -o {work}/execs \
    busybox sh {init} boot >{work}/init.out 2>&1
echo "init=$?" >{work}/status
ls -l {state}/files >{work}/files
"""


def test_init_boot_brings_the_link_up_and_makes_the_fifos_with_few_processes(
        tmp_path: Path, applets: Path, namespace: list[str]) -> None:
    """`/init boot` up to the lease starts only the processes it needs: the interface
    comes up by its sysfs flags (the lease's address and route are the only `ip`
    processes), and the early boot script's lease FIFO and its work FIFOs (the
    ticker's, curl's) are made by one mkfifo; that script runs at nice 19 (one renice),
    so that reading its library leaves the CPU to udhcpc; the boot goes on to the
    download as before (no kexec on the host: it ends there)."""
    work, state, tftp_root = tmp_path / "work", tmp_path / "state", tmp_path / "tftp"
    for directory in (work, tftp_root / "s390x" / "pxelinux.cfg"):
        directory.mkdir(parents=True)
    # dhcp_retries 5: dhcp: auto's first look at IPv4 is 4 of them (4 s), the rest after.
    root = render({"state_dir": str(state), "dhcp_timeout": 1, "dhcp_retries": 5,
                   "tftp_retry_delay": 0, "resolv_conf": str(work / "resolv.conf"),
                   "modules": []}, tmp_path / "root")
    (tftp_root / "s390x" / "pxelinux.cfg" / "default").write_text(
        "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n")
    (tftp_root / "s390x" / "vmlinuz").write_bytes(s390_kernel())
    (work / "udhcpd.conf").write_text(UDHCPD_CONF.format(work=work, conffile="none"))
    (work / "run.sh").write_text(INIT_BOOT.format(
        ip=IPROUTE, work=work, python=sys.executable, tftp_server=TFTP_SERVER,
        tftp_root=tftp_root, init=root / "init", state=shlex.quote(str(state))))
    subprocess.run([*namespace, str(work / "run.sh")], timeout=120, check=True,
                   env={"PATH": f"{applets}:/usr/bin:/bin"}, capture_output=True)

    out = (work / "init.out").read_text()
    assert (work / "status").read_text().split() == ["init=1"], out
    assert "init: DHCP on eth0" in out
    assert "udhcpc: bound: eth0 10.0.2.15/24 router 10.0.2.2, server 10.0.2.2" in out
    assert "pxeboot: TFTP server 10.0.2.2 (from option 66 (tftp))" in out
    assert "kexec -l failed to load kernel s390x/vmlinuz" in out
    assert "init: boot failed: boot script /sbin/pxeboot ended" in out
    started = re.findall(r'execve\("[^"]*/([^/"]+)"', (work / "execs").read_text())
    # One udhcpc: udhcpd's offer comes after its 2 s ARP check, within dhcp: auto's first
    # look at IPv4 (4 s), as a site's late answer does.
    assert started.count("udhcpc") == 1, started
    assert started.count("ip") == 2, started
    assert started.count("mkfifo") == 1, started
    assert started.count("mkdir") == 1, started
    trace = (work / "execs").read_text().splitlines()
    early = [line.split()[0] for line in trace if " execve(" in line and "--after-lease" in line]
    assert len(early) == 1, trace
    lowered = [line for line in trace if " setpriority(PRIO_PROCESS, " in line]
    assert [line.split()[1:] for line in lowered] == [
        ["setpriority(PRIO_PROCESS,", f"{early[0]},", "19)", "=", "0"]], lowered
    fifos = [line.split()[-1] for line in (work / "files").read_text().splitlines()
             if line.startswith("p")]
    assert sorted(fifos) == ["curl.fifo", "ticker.fifo"]


def _mac(state: Path) -> str:
    for line in (state / "dhcp.env").read_text().splitlines():
        if line.startswith("mac="):
            return line[len("mac="):].strip("'").replace(":", "-")
    raise AssertionError("no mac in dhcp.env")


# No interface is up in the fresh namespace: every TFTP request fails at once, as a
# silent server would after busybox tftp's own timeout (about 13 s an attempt).
TFTP_DOWN = """\
busybox sh {pxeboot} >{work}/pxeboot.out 2>&1
echo $? >{work}/status
"""


def test_tftp_failure_is_retried_then_reported(tmp_path: Path, applets: Path,
                                               namespace: list[str]) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "dhcp.env").write_text("interface='lo'\nip='127.0.0.1'\nsiaddr='127.0.0.9'\n"
                                    "boot_file='pxelinux.0'\nmac='02:00:00:00:00:01'\n")
    root = render({"state_dir": str(state), "tftp_retries": 2, "tftp_retry_delay": 0},
                  tmp_path / "root")
    pxeboot = root / "sbin" / "pxeboot"
    (tmp_path / "down.sh").write_text(TFTP_DOWN.format(pxeboot=pxeboot, work=tmp_path))
    subprocess.run([*namespace, str(tmp_path / "down.sh")], timeout=120, check=True,
                   env={"PATH": f"{applets}:/usr/bin:/bin"}, capture_output=True)
    out = (tmp_path / "pxeboot.out").read_text()
    assert (tmp_path / "status").read_text().strip() == "1", out
    assert "cannot fetch config 'pxelinux.cfg/01-02-00-00-00-00-01' from TFTP server " \
           "127.0.0.9 after 2 attempts" in out


# The udhcpc event script alone, as udhcpc runs it: a first lease, then a new one.
LEASES = """\
set -e
{ip} link add eth0 type veth peer name srv0
{ip} link set eth0 up
export PXE_DMI_UUID=/nonexistent PXE_SYSINFO={work}/sysinfo
interface=eth0 ip=10.0.2.15 mask=24 subnet=255.255.255.0 router=10.0.2.2 dns=10.0.2.3 \\
    siaddr=10.0.2.2 boot_file=pxelinux.0 busybox sh {script} bound
cp {state}/dhcp.env {work}/first.env
interface=eth0 ip=10.0.2.16 mask=24 subnet=255.255.255.0 router=10.0.2.4 dns=10.0.2.5 \\
    busybox sh {script} bound
{ip} -4 addr show dev eth0 >{work}/addr
{ip} -4 route >{work}/route
ls -A {state} {work} >{work}/files
"""


def test_event_script_records_each_lease_and_replaces_the_last(
        tmp_path: Path, applets: Path, namespace: list[str]) -> None:
    """The lease's facts (the machine UUID from /proc/sysinfo's VM00 UUID line) land in
    dhcp.env and resolv.conf, with no temporary file left; a second lease replaces the
    first's address and default route."""
    work, state = tmp_path / "work", tmp_path / "state"
    work.mkdir()
    root = render({"state_dir": str(state), "resolv_conf": str(work / "resolv.conf")},
                  tmp_path / "root")
    uuid = "4C8F20E1-9D3B-4E5A-8F60-0123456789AB"
    (work / "sysinfo").write_text("Manufacturer:         QEMU\nVM00 Name:            pxe\n"
                                  f"VM00 UUID:  \t{uuid}\nVM00 CPUs Total:      1\n")
    (work / "net.sh").write_text(LEASES.format(
        ip=IPROUTE, work=work, state=state, script=root / "etc/udhcpc/default.script"))
    done = subprocess.run([*namespace, str(work / "net.sh")], capture_output=True, text=True,
                          env={"PATH": f"{applets}:/usr/bin:/bin"}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert f"uuid='{uuid}'\n" in (work / "first.env").read_text()
    assert "ip='10.0.2.15'\n" in (work / "first.env").read_text()
    env = (state / "dhcp.env").read_text()
    assert "ip='10.0.2.16'\n" in env and f"uuid='{uuid}'\n" in env
    assert (work / "resolv.conf").read_text() == "nameserver 10.0.2.5\n"
    addresses = (work / "addr").read_text()
    assert "inet 10.0.2.16/24" in addresses and "10.0.2.15" not in addresses
    routes = [line.split()[:5] for line in (work / "route").read_text().splitlines()
              if line.startswith("default")]
    assert routes == [["default", "via", "10.0.2.4", "dev", "eth0"]]
    assert ".tmp" not in (work / "files").read_text()


# udhcpc's first event on a card that is down, with no `ip` to be found (PATH empty).
DECONFIG = """\
set -e
mount -t sysfs sysfs /sys
{ip} link add eth0 type veth peer name srv0
set +e
interface=eth0 PATH=/nonexistent {busybox} sh {script} deconfig
echo "deconfig=$?" >{work}/status
{ip} -o link show dev eth0 >{work}/link
"""


def test_deconfig_brings_a_card_that_is_down_up_by_its_sysfs_flags(
        tmp_path: Path, namespace: list[str]) -> None:
    """The event script's deconfig brings the card up as init does (common.sh's nic_up:
    the sysfs flags), so it needs no `ip` process for it."""
    work = tmp_path / "work"
    work.mkdir()
    root = render({"state_dir": str(tmp_path / "state")}, tmp_path / "root")
    (work / "deconfig.sh").write_text(DECONFIG.format(
        ip=IPROUTE, work=work, busybox=BUSYBOX, script=root / "etc/udhcpc/default.script"))
    done = subprocess.run([*namespace, str(work / "deconfig.sh")], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (work / "status").read_text().split() == ["deconfig=0"], done.stderr
    assert card_up((work / "link").read_text()), (work / "link").read_text()


# /init starts the boot script before DHCP: it reads its library, then waits for a word.
AFTER_LEASE = """\
mkfifo {work}/lease.fifo
exec 3<>{work}/lease.fifo
busybox sh {pxeboot} --after-lease {work}/lease.fifo >{work}/out 2>&1 3>&- &
pid=$!
sleep 1
kill -0 $pid && echo waiting >{work}/state
echo {word} >&3
wait $pid
echo "rc=$?" >>{work}/state
"""


@pytest.mark.parametrize("word", ["stop", "go"])
def test_early_boot_script_waits_for_the_lease(tmp_path: Path, applets: Path,
                                               namespace: list[str], word: str) -> None:
    """Started early, the boot script does nothing visible until /init's word: "stop"
    (no lease) ends it quietly, "go" boots from the lease recorded meanwhile."""
    work, state = tmp_path / "work", tmp_path / "state"
    work.mkdir()
    state.mkdir()
    (state / "dhcp.env").write_text("interface='lo'\nip='127.0.0.1'\nsiaddr='127.0.0.9'\n"
                                    "boot_file='pxelinux.0'\n")
    root = render({"state_dir": str(state), "tftp_retries": 1, "tftp_retry_delay": 0},
                  tmp_path / "root")
    (work / "run.sh").write_text(AFTER_LEASE.format(work=work, pxeboot=root / "sbin/pxeboot",
                                                    word=word))
    subprocess.run([*namespace, str(work / "run.sh")], timeout=120, check=True,
                   env={"PATH": f"{applets}:/usr/bin:/bin"}, capture_output=True)
    out = (work / "out").read_text()
    if word == "stop":
        assert (work / "state").read_text() == "waiting\nrc=0\n"
        assert out == ""
    else:
        assert (work / "state").read_text() == "waiting\nrc=1\n"
        assert "pxeboot: TFTP server 127.0.0.9 (from siaddr)" in out
        assert "no configuration file" in out or "cannot fetch config" in out, out


# The boot script in guest mode with a recorded lease, the files it opens traced.
TRACED_BOOT = """\
strace -f -q -qq -e trace=openat -e signal=none -o {work}/opens \
    busybox sh {pxeboot} >{work}/out 2>&1
echo $? >{work}/status
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.parametrize(("cmdline", "server"), [
    ("console=ttysclp0 BOOT_IMAGE=vmlinuz", "127.0.0.9 (from siaddr)"),
    ("console=ttysclp0 pxeboot.server=127.0.0.7", "127.0.0.7 (from pxeboot.server=)"),
], ids=["plain", "pxeboot.server"])
def test_the_boot_reads_ipconfig_sh_only_for_a_pxeboot_parameter(
        tmp_path: Path, applets: Path, namespace: list[str], cmdline: str, server: str) -> None:
    """The lease's facts take pxeboot.config= and pxeboot.server= from the command line
    (ipconfig.sh's parser); pxeboot.sh reads that file only when the command line names
    a pxeboot.* parameter, so a plain boot spends no CPU on it while udhcpc runs."""
    work, state = tmp_path / "work", tmp_path / "state"
    work.mkdir()
    state.mkdir()
    (state / "dhcp.env").write_text("interface='lo'\nip='127.0.0.1'\nsiaddr='127.0.0.9'\n"
                                    "boot_file='pxelinux.0'\n")
    (work / "cmdline").write_text(cmdline + "\n")
    root = render({"state_dir": str(state), "tftp_retries": 1, "tftp_retry_delay": 0},
                  tmp_path / "root")
    (work / "run.sh").write_text(TRACED_BOOT.format(work=work, pxeboot=root / "sbin/pxeboot"))
    subprocess.run([*namespace, str(work / "run.sh")], timeout=120, check=True,
                   env={"PATH": f"{applets}:/usr/bin:/bin", "PXE_CMDLINE": str(work / "cmdline")},
                   capture_output=True)
    out = (work / "out").read_text()
    assert (work / "status").read_text() == "1\n", out  # no TFTP server: no config
    assert f"pxeboot: TFTP server {server}" in out, out
    opened = [Path(line.split('"')[1]).name for line in (work / "opens").read_text().splitlines()
              if "/lib/pxeboot/" in line and "ENOENT" not in line]
    assert "facts.sh" in opened and "fetch-url.sh" not in opened, opened
    assert opened.count("ipconfig.sh") == ("pxeboot." in cmdline), opened


# A TFTP server on the namespace's loopback, and the boot script with a lease of its own.
LOOPBACK_BOOT = """\
{ip} link set lo up
{python} {tftp_server} {tftp_root} 127.0.0.1 >{work}/tftp.log 2>&1 </dev/null &
tftpd=$!
sleep 0.5
busybox sh {pxeboot} >{work}/pxeboot.out 2>&1
echo $? >{work}/status
kill $tftpd
"""


@pytest.mark.parametrize(("kernel", "said"), [
    (b"<html><body>404</body></html>" + bytes(70000),
     "error: kernel 'vmlinuz' is not an s390 kernel image: it starts with '<', like an HTML "
     "page (an error page served as the file?)"),
    (s390_kernel(max_cmdline=64),
     "error: the command line of label 'linux' is 90 bytes, but kernel 'vmlinuz' accepts at "
     "most 63 (its max_command_line_size at 0x10430 is 64, with the NUL): not booted"),
], ids=["not-a-kernel", "command-line-too-long"])
def test_a_kernel_refused_before_its_initrd_ends_the_boot_with_its_own_words(
        tmp_path: Path, applets: Path, namespace: list[str], kernel: bytes, said: str) -> None:
    # The kernel is checked before any initrd is asked for: a refused one ends the boot
    # with its error, once, nothing of the initrd said or fetched.
    state, tftp_root = tmp_path / "state", tmp_path / "tftp"
    (tftp_root / "pxelinux.cfg").mkdir(parents=True)
    state.mkdir()
    (state / "dhcp.env").write_text("interface='lo'\nip='127.0.0.1'\nsiaddr='127.0.0.1'\n"
                                    "boot_file='pxelinux.0'\nmac='02:00:00:00:00:01'\n")
    (tftp_root / "pxelinux.cfg" / "default").write_text(
        "DEFAULT linux\nLABEL linux\n KERNEL vmlinuz\n INITRD big.img,b.img\n"
        " APPEND " + "x" * 50 + "\n")
    (tftp_root / "vmlinuz").write_bytes(kernel)
    (tftp_root / "big.img").write_bytes(b"a" * (6 << 20))  # > PXE_PROGRESS_MIN_MB
    (tftp_root / "b.img").write_bytes(b"b" * 10)
    root = render({"state_dir": str(state), "on_failure": "poweroff"}, tmp_path / "root")
    (tmp_path / "boot.sh").write_text(LOOPBACK_BOOT.format(
        ip=IPROUTE, python=sys.executable, tftp_server=TFTP_SERVER, tftp_root=tftp_root,
        work=tmp_path, pxeboot=root / "sbin" / "pxeboot"))
    subprocess.run([*namespace, str(tmp_path / "boot.sh")], timeout=120, check=True,
                   env={"PATH": f"{applets}:/usr/bin:/bin"}, capture_output=True)
    out = (tmp_path / "pxeboot.out").read_text()
    assert (tmp_path / "status").read_text().strip() == "1", out
    assert out.count(said) == 1, out
    assert "big.img" not in out and "initrd" not in out.split(said)[0].split("booting")[-1], out
    requests = [line.split()[1] for line in (tmp_path / "tftp.log").read_text().splitlines()
                if line.startswith("RRQ")]
    assert requests[-1] == "vmlinuz", requests
