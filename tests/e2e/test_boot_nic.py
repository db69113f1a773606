"""The boot card and the reboot time: bootscripts/pxeboot/nic.sh and /init's failure path.

nic.sh runs against directories laid out like sysfs (PXE_SYSFS): /sys/firmware/ipl names
the device the s390 firmware booted from, /sys/class/net/*/device links lead to it.
The whole /init then runs for real as PID 1 of private PID, mount and network namespaces
(`unshare -rnmpf`): two veth cards, DHCP answered (busybox udhcpd, with option 211) on
the second only, no configuration on the TFTP server, on_failure retry. The console must
show DHCP tried on the first card, a lease on the second, the boot failing, the wait of
option 211 and the second round.

Bringing a card up (nic_up: its sysfs flags, `ip` where sysfs refuses) runs in namespaces
of its own; the fresh boot's mounts (one `mount -a` of the image's fstab, one by one when
that fails) run in a PID 1 chrooted where nothing is mounted yet.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, CARD_AND_UDHCPD, applet_links, card_up, rendered_variant

ROOT = Path(__file__).resolve().parents[2]
IPROUTE = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
TFTP_SERVER = Path(__file__).resolve().parents[1] / "tftp_server.py"

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")


def render(variables: dict[str, object], dest: Path) -> Path:
    return rendered_variant(dest, variables)


def fake_sysfs(root: Path, ipl: tuple[str, str] | None, cards: dict[str, str]) -> Path:
    """ROOT laid out like /sys: IPL (type, device) and CARDS name -> CCW device."""
    if ipl is not None:
        (root / "firmware/ipl").mkdir(parents=True)
        (root / "firmware/ipl/ipl_type").write_text(ipl[0] + "\n")
        (root / "firmware/ipl/device").write_text(ipl[1] + "\n")
    (root / "class/net/lo").mkdir(parents=True)
    for n, (name, device) in enumerate(sorted(cards.items())):
        # Subchannel numbers differ from device numbers, as they may on a real machine.
        target = root / f"devices/css0/0.0.000{n}/{device}/virtio{n}"
        target.mkdir(parents=True)
        (root / "bus/ccw/devices").mkdir(parents=True, exist_ok=True)
        (root / "bus/ccw/devices" / device).symlink_to(target.parent)
        (root / "class/net" / name).mkdir()
        (root / "class/net" / name / "device").symlink_to(target)
    return root


def candidates(tmp_path: Path, sysfs: Path, interface: str = "auto") -> list[str]:
    script = (f". {ROOT}/bootscripts/pxeboot/common.sh; . {ROOT}/bootscripts/pxeboot/nic.sh; "
              "nic_candidates")
    done = subprocess.run([BUSYBOX, "sh", "-c", script], capture_output=True, text=True,
                          check=True, env={"PATH": "/usr/bin:/bin", "PXE_SYSFS": str(sysfs),
                                           "PXE_INTERFACE": interface, "PXE_TAG": "init",
                                           "PXE_VERBOSITY": "1"}, cwd=tmp_path)
    return done.stdout.split()


CARDS = {"eth0": "0.0.0001", "eth1": "0.0.0000", "eth2": "0.0.0002"}


def test_the_boot_card_comes_first_then_the_others_in_order(tmp_path: Path) -> None:
    sysfs = fake_sysfs(tmp_path / "sys", ("ccw", "0.0.0000"), CARDS)
    assert candidates(tmp_path, sysfs) == ["eth1", "eth0", "eth2"]


def test_without_a_ccw_ipl_every_card_in_turn(tmp_path: Path) -> None:
    sysfs = fake_sysfs(tmp_path / "sys", ("fcp", "0.0.1234"), CARDS)
    assert candidates(tmp_path, sysfs) == ["eth0", "eth1", "eth2"]
    sysfs = fake_sysfs(tmp_path / "sys2", None, CARDS)
    assert candidates(tmp_path, sysfs) == ["eth0", "eth1", "eth2"]


def test_a_named_interface_is_the_only_one(tmp_path: Path) -> None:
    sysfs = fake_sysfs(tmp_path / "sys", ("ccw", "0.0.0000"), CARDS)
    assert candidates(tmp_path, sysfs, "eth2") == ["eth2"]


def console_until(process: subprocess.Popen[bytes], seen: Callable[[str], bool]) -> str:
    """PROCESS's console (its stdout) until SEEN says so, it ends or 40 s pass; then the
    process and all it started (its session) are killed."""
    assert process.stdout is not None
    console, deadline = "", time.monotonic() + 40
    try:
        while time.monotonic() < deadline and not seen(console):
            ready, _, _ = select.select([process.stdout], [], [], 0.5)
            if ready:
                data = os.read(process.stdout.fileno(), 65536)
                if not data:
                    break
                console += data.decode(errors="replace")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return console


UDHCPD_CONF = """\
start 10.0.2.15
end 10.0.2.15
interface srv0
lease_file /mnt/work/leases
pidfile /mnt/work/udhcpd.pid
siaddr 10.0.2.2
boot_file pxelinux.0
opt subnet 255.255.255.0
opt 211 00000002
"""

# PID 1 of fresh namespaces. /dev/console is a plain file (bound over the real one), so
# init keeps this stdout; the test's directory is bound to /mnt, which init's tmpfs
# mounts on /run and /tmp do not hide.
PID1 = """\
set -e
mount --bind /mnt/work/console /dev/console
{ip} link set lo up
{ip} link add eth0 type veth peer name zz0
{ip} link add eth1 type veth peer name srv0
{ip} link set zz0 up
{ip} link set srv0 up
{ip} addr add 10.0.2.2/24 dev srv0
: > /mnt/work/leases
busybox udhcpd -f /mnt/work/udhcpd.conf >/mnt/work/udhcpd.log 2>&1 &
{python} {tftp_server} /mnt/tftp 10.0.2.2 >/mnt/work/tftp.log 2>&1 </dev/null &
sleep 0.5
set +e
export PATH=/mnt/applets:$PATH
exec busybox sh /mnt/root/init
"""


@pytest.mark.slow
@pytest.mark.skipif(IPROUTE is None, reason="iproute2's ip is needed for veth cards")
def test_dhcp_on_the_next_card_and_option_211_between_attempts(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "-rnmpf", "--mount-proc", "true"], capture_output=True,
                           timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip("no private PID/network namespaces here")
    work, tftp_root = tmp_path / "work", tmp_path / "tftp"
    work.mkdir()
    tftp_root.mkdir()
    render({"modules": [], "on_failure": "retry", "dhcp_timeout": 1, "dhcp_retries": 2,
            "tftp_retry_delay": 0, "interface_wait": 2}, tmp_path / "root")
    applets = applet_links(tmp_path / "applets")
    (work / "udhcpd.conf").write_text(UDHCPD_CONF)
    (work / "console").touch()
    (work / "pid1.sh").write_text(PID1.format(ip=IPROUTE, python=sys.executable,
                                              tftp_server=TFTP_SERVER))
    env = {"PATH": f"{applets}:/usr/sbin:/usr/bin:/sbin:/bin", "PXE_VERBOSITY": "1"}
    process = subprocess.Popen(["unshare", "-rnmpf", "--mount-proc", BUSYBOX, "sh", "-c",
                                f"mount --bind {tmp_path} /mnt && exec {BUSYBOX} sh "
                                "/mnt/work/pid1.sh"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    console = console_until(process, lambda console: console.count("init: DHCP on eth0") == 2)
    first_round = console.split("init: starting over")[0]
    assert first_round.index("init: DHCP on eth0") < first_round.index("init: DHCP on eth1"), \
        console
    assert "no DHCP lease on eth0" in first_round
    assert "lease of 10.0.2.15 obtained" in first_round
    assert "init: boot failed:" in first_round
    assert "no configuration file on TFTP server 10.0.2.2" in first_round
    assert "init: starting over in 2 s (DHCP option 211, reboot time)" in console
    assert console.count("init: DHCP on eth0") == 2, console  # the second round began


@pytest.mark.parametrize("dad", ["False", "True"])
def test_ipv6_dad_is_off_on_the_card_before_it_comes_up_unless_the_recipe_wants_it(
        dad: str) -> None:
    """nic_ipv6_early in a network namespace of its own: with ipv6_dad false the card's
    accept_dad is 0 (its addresses usable at once), with true the kernel's default stays;
    the other card is never touched."""
    script = (f"{IPROUTE} link add v0 type veth peer name v1 && "
              f". {ROOT}/bootscripts/pxeboot/common.sh && . {ROOT}/bootscripts/pxeboot/nic.sh && "
              "nic_ipv6_early v0 && cat /proc/sys/net/ipv6/conf/v0/accept_dad "
              "/proc/sys/net/ipv6/conf/v1/accept_dad")
    done = subprocess.run(["unshare", "-rn", BUSYBOX, "sh", "-c", script], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PXE_IPV6_DAD": dad,
                                          "PXE_TAG": "init", "PXE_VERBOSITY": "1"})
    assert done.returncode == 0, done.stderr
    card, other = done.stdout.split()
    assert card == ("0" if dad == "False" else other)
    assert other != "0"


# nic_up in a user and network namespace of its own, with this namespace's sysfs mounted
# (read-write, or read-only so that the write of the flags is refused). PATH_IP is where
# `ip` may be found: with none, only the sysfs write can bring the card up.
NIC_UP = """\
set -e
mount -t sysfs -o {mode} sysfs /sys
{iproute} link add v0 type veth peer name v1
set +e
. {root}/bootscripts/pxeboot/common.sh
PATH={path_ip}
nic_up {card}
echo "nic_up=$?"
{iproute} -o link show dev v0
"""


def nic_up(tmp_path: Path, mode: str, card: str, with_ip: bool) -> subprocess.CompletedProcess[str]:
    ip_dir = tmp_path / "ip"
    ip_dir.mkdir(parents=True, exist_ok=True)
    if with_ip and not (ip_dir / "ip").exists():
        assert IPROUTE is not None
        (ip_dir / "ip").symlink_to(IPROUTE)
    script = NIC_UP.format(mode=mode, iproute=IPROUTE, root=ROOT, card=card,
                           path_ip=f"{ip_dir}:/nonexistent")
    return subprocess.run(["unshare", "-rnm", BUSYBOX, "sh", "-c", script], capture_output=True,
                          text=True, timeout=30, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                      "PXE_TAG": "init", "PXE_VERBOSITY": "1"})


@pytest.mark.skipif(IPROUTE is None, reason="iproute2's ip is needed for veth cards")
def test_a_card_comes_up_by_its_sysfs_flags_without_ip(tmp_path: Path) -> None:
    """nic_up writes IFF_UP into /sys/class/net/CARD/flags: the card is up although no
    `ip` can be found."""
    done = nic_up(tmp_path, "rw", "v0", with_ip=False)
    assert "nic_up=0" in done.stdout, done.stdout + done.stderr
    assert card_up(done.stdout), done.stdout


@pytest.mark.skipif(IPROUTE is None, reason="iproute2's ip is needed for veth cards")
def test_where_sysfs_refuses_the_write_ip_brings_the_card_up(tmp_path: Path) -> None:
    """A read-only sysfs refuses the flags: nic_up falls back on `ip link set up`, which
    brings the card up (and without `ip` there, nic_up fails instead of claiming it)."""
    done = nic_up(tmp_path, "ro", "v0", with_ip=True)
    assert "nic_up=0" in done.stdout, done.stdout + done.stderr
    assert card_up(done.stdout), done.stdout
    without_ip = nic_up(tmp_path / "none", "ro", "v0", with_ip=False)
    assert "nic_up=0" not in without_ip.stdout, without_ip.stdout
    assert not card_up(without_ip.stdout), without_ip.stdout


@pytest.mark.skipif(IPROUTE is None, reason="iproute2's ip is needed for veth cards")
def test_a_card_that_is_not_there_fails_with_ips_own_words(tmp_path: Path) -> None:
    done = nic_up(tmp_path, "rw", "nosuchcard", with_ip=True)
    assert "nic_up=0" not in done.stdout, done.stdout
    assert 'Cannot find device "nosuchcard"' in done.stderr, done.stderr


# /init as PID 1 of fresh namespaces, chrooted into a root where nothing is mounted yet
# (no /proc/self: the fresh boot's path), the image's files under /image and the host's
# /usr for busybox. A user namespace may mount proc, sysfs and tmpfs but not devtmpfs, so
# the image's one `mount -a` of its fstab fails there, as any failed entry would.
FRESH_PID1 = "set -e\nmount --bind /usr {newroot}/usr\n" + CARD_AND_UDHCPD + """\
sleep 0.3
exec chroot {newroot} /usr/bin/busybox sh /image/init
"""


@pytest.mark.slow
@pytest.mark.skipif(IPROUTE is None, reason="iproute2's ip is needed for veth cards")
@pytest.mark.parametrize("fstab", ["refused", "missing"])
def test_a_fresh_boot_whose_mount_all_fails_mounts_one_by_one(tmp_path: Path,
                                                             fstab: str) -> None:
    """mount_fs's fallback: when `mount -a` of the image's fstab fails (devtmpfs refused)
    or the image has no fstab, the file systems are mounted one by one as before: the
    one refused is reported once, in init's words, and the boot goes on to a lease (sysfs
    is where init finds the card, the lease is recorded under /run)."""
    probe = subprocess.run(["unshare", "-rnmpf", "true"], capture_output=True, timeout=30,
                           check=False)
    if probe.returncode != 0:
        pytest.skip("no private PID/network namespaces here")
    work, newroot = tmp_path / "work", tmp_path / "newroot"
    work.mkdir()
    for directory in ("usr", "dev", "proc", "sys", "run", "tmp"):
        (newroot / directory).mkdir(parents=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        if Path("/" + link).is_symlink():
            (newroot / link).symlink_to(os.readlink("/" + link))
    render({"modules": [], "on_failure": "retry", "retry_delay": 600, "dhcp_timeout": 1,
            "dhcp_retries": 2, "tftp_retry_delay": 0}, newroot / "image")
    if fstab == "missing":
        (newroot / "image/etc/fstab").unlink()
    applet_links(newroot / "applets")
    (work / "udhcpd.conf").write_text(UDHCPD_CONF.replace("/mnt/work", str(work)))
    (work / "pid1.sh").write_text(FRESH_PID1.format(ip=IPROUTE, work=work, newroot=newroot))
    env = {"PATH": "/applets:/usr/sbin:/usr/bin:/sbin:/bin", "PXE_VERBOSITY": "1"}
    process = subprocess.Popen(["unshare", "-rnmpf", BUSYBOX, "sh", str(work / "pid1.sh")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    console = console_until(process, lambda console: "pxeboot: TFTP server" in console)
    warning = "init: warning: cannot mount devtmpfs on /dev; keeping the image's /dev"
    assert console.count(warning) == 1, console
    assert "cannot mount proc" not in console and "cannot mount sysfs" not in console, console
    assert "init: DHCP on eth0" in console, console
    assert "udhcpc: bound: eth0 10.0.2.15/24" in console, console
    assert "pxeboot: TFTP server 10.0.2.2" in console, console
