"""scripts/fetch-sysroot: the tree it fetches is what the composer needs to build and boot an
s390 network boot image, and it fails with one clear line when it cannot do that."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

FETCH_SYSROOT = Path(__file__).resolve().parents[2] / "scripts" / "fetch-sysroot"
S390_IMAGE_MAGIC = bytes.fromhex("02000018600000500200006860000050")
EM_S390 = 22
PT_INTERP = 3


def kernel_of(sysroot: Path) -> Path:
    kernels = sorted((sysroot / "boot").glob("vmlinuz-*"))
    assert len(kernels) == 1, f"expected one kernel in {sysroot}/boot, found {kernels}"
    return kernels[0]


def kernel_release(image: bytes) -> str:
    """The release from the version string the parm area points at (0x10428)."""
    (pointer,) = struct.unpack_from(">Q", image, 0x10428)
    text = image[pointer:pointer + 256].split(b"\0")[0].decode()
    return text.split()[0]


def elf_facts(path: Path) -> tuple[int, int, int, bool]:
    """(class, data encoding, e_machine, has PT_INTERP) of a big-endian ELF64 file."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", f"{path} is not an ELF file"
    ei_class, ei_data = data[4], data[5]
    (machine,) = struct.unpack_from(">H", data, 18)
    (phoff,) = struct.unpack_from(">Q", data, 32)
    phentsize, phnum = struct.unpack_from(">HH", data, 54)
    types = [struct.unpack_from(">I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return ei_class, ei_data, machine, PT_INTERP in types


@pytest.mark.sysroot
def test_kernel_is_an_s390_boot_image(sysroot: Path) -> None:
    image = kernel_of(sysroot).read_bytes()
    assert len(image) > 0x10480
    assert image[0x08:0x18] == S390_IMAGE_MAGIC
    assert image[0x10008:0x1000E] == b"S390EP"


@pytest.mark.sysroot
def test_modules_match_the_kernel_and_include_virtio_net(sysroot: Path) -> None:
    kernel = kernel_of(sysroot)
    release = kernel_release(kernel.read_bytes())
    assert kernel.name == f"vmlinuz-{release}"
    modules = sysroot / "lib" / "modules" / release / "kernel"
    for module in ("drivers/net/virtio_net.ko", "drivers/net/net_failover.ko",
                   "net/core/failover.ko"):
        assert (modules / module).is_file(), f"{module} missing under {modules}"


@pytest.mark.sysroot
def test_busybox_is_a_static_s390x_binary(sysroot: Path) -> None:
    ei_class, ei_data, machine, interp = elf_facts(sysroot / "bin" / "busybox")
    assert (ei_class, ei_data, machine) == (2, 2, EM_S390)  # ELF64, big-endian, S/390
    assert not interp, "busybox-static should need no dynamic loader"


@pytest.mark.sysroot
def test_kexec_is_s390x_and_its_loader_and_libc_are_there(sysroot: Path) -> None:
    kexec = sysroot / "sbin" / "kexec"
    ei_class, ei_data, machine, interp = elf_facts(kexec)
    assert (ei_class, ei_data, machine) == (2, 2, EM_S390)
    assert interp
    loader = sysroot / "lib" / "ld64.so.1"
    assert loader.is_symlink() and not os.readlink(loader).startswith("/")
    assert loader.resolve().is_file()
    assert (sysroot / "lib" / "s390x-linux-gnu" / "libc.so.6").exists()


@pytest.mark.sysroot
def test_a_second_run_uses_the_cache(sysroot: Path) -> None:
    stamp = (sysroot / ".composer-sysroot.json").read_text()
    start = time.monotonic()
    result = subprocess.run([sys.executable, str(FETCH_SYSROOT)], capture_output=True,
                            text=True, timeout=120, check=True)
    assert time.monotonic() - start < 5
    assert Path(result.stdout.strip()) == sysroot
    assert (sysroot / ".composer-sysroot.json").read_text() == stamp
    packages = json.loads(stamp)["packages"]
    assert {"busybox-static", "kexec-tools", "libc6"} <= packages.keys()
    assert not {"debconf", "perl-base", "initramfs-tools"} & packages.keys()


def run_isolated(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The script with a cache of its own in tmp_path, so nothing shared is touched."""
    environ = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **env}
    return subprocess.run([sys.executable, str(FETCH_SYSROOT), "--dest", str(tmp_path / "sr")],
                          capture_output=True, text=True, timeout=300, env=environ, check=False)


def test_missing_apt_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    result = run_isolated(tmp_path, PATH=str(tmp_path / "bin"))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("fetch-sysroot: error: apt-get not found")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_network_failure_is_one_clear_line(tmp_path: Path) -> None:
    # A proxy on a closed loopback port makes every download fail at once.
    result = run_isolated(tmp_path, http_proxy="http://127.0.0.1:9")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("fetch-sysroot: error: apt-get update failed")
    assert "network" in last
    assert not (tmp_path / "sr").exists()
