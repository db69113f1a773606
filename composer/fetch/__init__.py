"""Fetch a Debian sysroot for a foreign architecture: `compose sysroot` (and
scripts/fetch-sysroot, its thin wrapper for a checkout).

Every .deb of the closure (composer.fetch.debian) is downloaded by a confined apt
(composer.fetch.apt) and unpacked with `dpkg-deb -x` into a fresh tree that replaces the
sysroot in one rename. `.composer-sysroot.json` at the top of the sysroot records the
architecture, the requested packages and every unpacked name and version; while it
matches the request nothing is downloaded or unpacked again (`refresh` asks apt for newer
versions, and the tree is rebuilt only when one changed).

What the s390x sysroot looks like (Debian 12, linux 6.1.0-50, seen 2026-11):
- /boot/vmlinuz-6.1.0-50-s390x: the s390 "image" format kernel (bytes 0x08..0x17 are the
  PSW/CCW pattern, `S390EP` at 0x10008), plus System.map-* and config-* beside it.
- /lib/modules/6.1.0-50-s390x/kernel/...: plain `.ko` files (not compressed); Debian ships
  modules.builtin, modules.builtin.modinfo and modules.order but *no* modules.dep (depmod
  runs at install time), so dependencies must come from each module's .modinfo.
  virtio_net.ko needs net_failover.ko and failover.ko.
- /bin/busybox: busybox-static, a static s390x ELF (no PT_INTERP), no applet links.
- /sbin/kexec (kexec-tools): dynamic, needs /lib/ld64.so.1, a symlink to
  s390x-linux-gnu/ld64.so.1, and libc.so.6 in /lib/s390x-linux-gnu (libc6).
- bookworm packages are not usr-merged: /bin, /sbin and /lib are real directories.
- bookworm-security no longer carries s390x (LTS), so the s390x kernel comes from the
  bookworm point release and bookworm-updates.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from composer.cache.index import cache_base
from composer.errors import InputError
from composer.fetch.apt import Apt, Progress
from composer.fetch.debian import FetchError, closure
from composer.fetch.dpkgdb import has_database, read_deb, write_database

__all__ = ["FetchError", "cache_root", "default_dest", "default_packages", "fetch"]

STAMP = ".composer-sysroot.json"


def cache_root() -> Path:
    """Where the sysroots and apt's state go: under $XDG_CACHE_HOME or ~/.cache; refused,
    rather than guessed, when there is no home directory."""
    base = cache_base()
    if base is None:
        raise InputError(f"no directory for the sysroot cache: HOME is unset (or relative) "
                         f"and user id {os.getuid()} has no home in the passwd database",
                         hint="set XDG_CACHE_HOME or HOME to an absolute directory")
    return base / "composer"


def default_dest(arch: str) -> Path:
    return cache_root() / f"sysroot-{arch}"


def default_packages(arch: str) -> list[str]:
    """What a PXELINUX image is built from: the kernel, busybox, kexec, curl (the
    HTTP(S)/FTP client, with the CA certificates its HTTPS verifies against), gpgv (the
    signature check), dhcpcd (the DHCPv6 client: busybox-static has no udhcpc6), and
    strace for the debug variant."""
    return [f"linux-image-{arch}", "busybox-static", "kexec-tools", "curl",
            "ca-certificates", "gpgv", "dhcpcd-base", "strace"]


def read_stamp(dest: Path) -> dict[str, object] | None:
    try:
        value = json.loads((dest / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def unpack(debs: list[Path], dest: Path, stamp: dict[str, object]) -> None:
    """Build the new tree beside DEST, then swap it in with renames."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in (*dest.parent.glob(f".{dest.name}.new-*"),
                  *dest.parent.glob(f".{dest.name}.old-*")):
        shutil.rmtree(stale, ignore_errors=True)  # left by a run that was killed
    fresh = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    try:
        for deb in debs:
            result = subprocess.run(["dpkg-deb", "-x", str(deb), str(fresh)],
                                    capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise FetchError(f"dpkg-deb -x {deb.name} failed: {result.stderr.strip()}")
        write_database(fresh, [read_deb(deb) for deb in debs])
        fresh.chmod(0o755)
        (fresh / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
        old = None
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            dest.rename(old / "tree")
        fresh.rename(dest)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh)


def _add_database(apt: Apt, dest: Path, stamp: dict[str, object], progress: Progress) -> None:
    """Give an existing sysroot (a CI cache) its dpkg database without unpacking again:
    the .debs it was made from are still in apt's cache (downloaded again if not)."""
    versions = stamp.get("packages")
    if not isinstance(versions, dict) or not versions:
        return
    if not apt.has_lists():
        apt.update()
    available = apt.available()
    packages = [available[name] for name, version in sorted(versions.items())
                if name in available and available[name].version == version]
    if len(packages) != len(versions):
        return  # the archive moved on: the next --refresh rebuilds the tree, database too
    progress(f"writing the dpkg database of {dest}")
    write_database(dest, [read_deb(deb) for deb in apt.download(packages)])


def fetch(arch: str, dest: Path, requested: list[str], refresh: bool,
          progress: Progress) -> Path:
    """The sysroot at DEST holding REQUESTED and their run-time dependencies."""
    state = cache_root() / f"apt-{arch}"
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = read_stamp(dest)
        wanted = sorted(set(requested))
        if (not refresh and old is not None and old.get("arch") == arch
                and old.get("requested") == wanted):
            if not has_database(dest):  # fetched before the database was written
                _add_database(Apt(state, arch, progress), dest, old, progress)
            return dest
        apt = Apt(state, arch, progress)
        if refresh or not apt.has_lists():
            apt.update()
        packages = closure(wanted, apt.available(), arch)
        versions = {p.name: p.version for p in packages}
        stamp: dict[str, object] = {"arch": arch, "requested": wanted, "packages": versions}
        if old == stamp and dest.is_dir():
            progress("sysroot is up to date")
            return dest
        debs = apt.download(packages)
        progress(f"unpacking {len(debs)} package(s) into {dest}")
        unpack(debs, dest, stamp)
        return dest
