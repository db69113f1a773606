"""Binary closure against the real Debian s390x sysroot: kexec-tools and busybox-static as
unpacked and as a merged-/usr copy, and busybox's applet table against the host's busybox.
The loader's default directories come from the real ld64.so.1 itself. The tiny-ELF cases
are tests/unit/test_binaries.py."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from composer.manifest import Entry, Kind
from composer.resolve.binaries import BinaryRequest, default_library_dirs, resolve_binaries
from composer.resolve.elf import Arch, read_elf
from composer.resolve.sysroot import Sysroot
from elffactory import symlink
from imageview import ImageView, paths


def loader_default_dirs(ld_so: Path) -> list[str]:
    """The search list compiled into glibc's ld.so (its SYSTEM_DIRS string)."""
    found = re.search(rb"(?:/(?:usr/)?lib[^\0]*/\0){2,}", ld_so.read_bytes())
    assert found is not None
    return [d.decode().rstrip("/") for d in found.group(0).split(b"\0") if d]


def check_loadable(entries: list[Entry], default_dirs: list[str]) -> int:
    """Every ELF in the image: interpreter present, every DT_NEEDED found by the loader."""
    image = ImageView(entries)
    checked = 0
    sonames = {read_elf(e.source).soname for e in entries if e.source and _is_elf(e.source)}
    for entry in entries:
        if entry.kind is not Kind.FILE or entry.source is None or not _is_elf(entry.source):
            continue
        info = read_elf(entry.source)
        assert info.arch.name == "s390x", entry.path
        if info.interp:
            assert image.file(info.interp).source is not None
        for name in info.needed:
            dirs = [*(info.runpath or ()), *default_dirs]
            hits = [image.resolve(f"{d}/{name}") for d in dirs]
            assert any(hits) or name in sonames, f"{entry.path} needs {name}: not in {dirs}"
            checked += 1
    return checked


def _is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def merged_copy(real: Path, root: Path) -> Path:
    """The same packages laid out as a merged-/usr system (/lib -> usr/lib, ...)."""
    for top in ("bin", "sbin", "lib"):
        shutil.copytree(real / top, root / "usr" / top, symlinks=True,
                        ignore=shutil.ignore_patterns("modules"), dirs_exist_ok=True)
        symlink(root / top, f"usr/{top}")
    shutil.copytree(real / "etc", root / "etc", symlinks=True)
    return root


@pytest.mark.sysroot
@pytest.mark.parametrize("layout", ["as-unpacked", "merged-usr"])
def test_real_kexec_and_busybox(sysroot: Path, tmp_path: Path, layout: str) -> None:
    root = sysroot if layout == "as-unpacked" else merged_copy(sysroot, tmp_path)
    real = Sysroot(root)
    entries = resolve_binaries(real, [
        "kexec", BinaryRequest("busybox", applets="all"),
    ], target=Arch.from_name("s390x"))
    image = ImageView(entries)

    kexec = read_elf(image.file(real.find_program("kexec")).source)  # type: ignore[arg-type]
    assert kexec.interp == "/lib/ld64.so.1"
    produced = paths(entries)
    chain = real.lookup(kexec.interp).links
    assert chain  # /lib/ld64.so.1 -> s390x-linux-gnu/ld64.so.1 (and /lib -> usr/lib)
    for link in chain:
        assert produced[link.path].kind is Kind.SYMLINK
        assert produced[link.path].target == link.target
    ld_so = image.file("/lib/ld64.so.1")
    assert ld_so.source is not None and read_elf(ld_so.source).soname == "ld64.so.1"
    assert ld_so.mode & stat.S_IXUSR
    libc = image.file("/lib/s390x-linux-gnu/libc.so.6")
    assert libc.source is not None and read_elf(libc.source).soname == "libc.so.6"

    default_dirs = loader_default_dirs(ld_so.source)
    assert default_dirs[:2] == ["/lib/s390x-linux-gnu", "/usr/lib/s390x-linux-gnu"]
    assert set(default_dirs) <= set(default_library_dirs(Arch.from_name("s390x")))
    assert check_loadable(entries, default_dirs) >= 2

    for applet in ("/bin/sh", "/bin/ls", "/sbin/udhcpc", "/sbin/modprobe", "/sbin/init",
                   "/usr/bin/wget", "/bin/mount", "/sbin/switch_root"):
        assert image.file(applet).source == image.file("/bin/busybox").source, applet
    home = real.find_program("busybox")
    links = [e for e in entries if e.kind is Kind.SYMLINK and e.target == home]
    assert len(links) > 200


@pytest.mark.sysroot
def test_real_busybox_table_agrees_with_host_busybox(sysroot: Path) -> None:
    """Same version on the host (busybox 1.35 in Debian 12, another build config): every
    applet both builds carry must go to the directory the host's --list-full names."""
    from composer.resolve.busybox import read_applet_table

    host_busybox = shutil.which("busybox")
    if host_busybox is None:
        pytest.skip("no busybox on the host to compare with")
    listing = subprocess.run([host_busybox, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    host = {line.rsplit("/", 1)[-1]: "/" + line for line in listing}
    table = read_applet_table(sysroot / "bin/busybox", name="/bin/busybox")
    ours = {line.rsplit("/", 1)[-1]: "/" + line for line in table.list_full()}
    common = set(host) & set(ours)
    assert len(common) > 200
    assert {n: ours[n] for n in common} == {n: host[n] for n in common}
    assert {"sh", "ls", "udhcpc", "modprobe", "insmod", "ip", "wget", "tftp"} <= set(ours)


def materialize(entries: list[Entry], root: Path) -> None:
    """The entries as files, links and directories under ROOT (modes kept)."""
    for entry in sorted(entries, key=lambda e: e.path):
        path = root / entry.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if entry.kind is Kind.SYMLINK:
            assert entry.target is not None
            path.symlink_to(entry.target)
        elif entry.kind is Kind.DIR:
            path.mkdir(exist_ok=True)
        elif entry.kind is Kind.FILE:
            path.write_bytes(entry.data if entry.data is not None
                             else entry.source.read_bytes())  # type: ignore[union-attr]
            path.chmod(entry.mode)


@pytest.mark.sysroot
def test_real_ld_so_loads_curl_from_the_cache(sysroot: Path, tmp_path: Path) -> None:
    """The image's /etc/ld.so.cache as glibc's own ld.so reads it (qemu-user runs the
    s390x loader over the materialized entries): each of curl's ~30 libraries is found in
    the cache and opened at its first try, where without the cache ld.so tries hundreds
    of directories and hwcaps subdirectories; and curl runs."""
    qemu = shutil.which("qemu-s390x-static") or shutil.which("qemu-s390x")
    if qemu is None:
        pytest.skip("no qemu-s390x(-static) to run the s390x loader")
    entries = resolve_binaries(Sysroot(sysroot), ["curl"], target=Arch.from_name("s390x"))
    materialize(entries, tmp_path)
    curl = Sysroot(sysroot).find_program("curl")

    def run() -> tuple[str, str]:
        done = subprocess.run([qemu, "-L", str(tmp_path), "-E", "LD_DEBUG=libs",
                               str(tmp_path / curl.lstrip("/")), "--version"],
                              capture_output=True, text=True, check=True, timeout=120)
        return done.stdout, done.stderr

    out, debug = run()
    assert out.startswith("curl ") and "OpenSSL/" in out
    wanted = re.findall(r"find library=(\S+) \[0\]; searching", debug)
    tried = re.findall(r"trying file=(\S+)", debug)
    assert len(wanted) >= 20
    assert debug.count("search cache=/etc/ld.so.cache") == len(wanted)
    assert len(tried) == len(wanted)  # one open per library
    assert [t.rsplit("/", 1)[1] for t in tried] == wanted
    (tmp_path / "etc/ld.so.cache").unlink()
    _, debug = run()
    assert len(re.findall(r"trying file=", debug)) > 3 * len(wanted)
