"""The same inputs give the same bytes, whatever the environment of the build.

A recipe that takes a kernel, busybox and virtio_net (with its dependencies) from a
copy of the real s390x sysroot, plus files, a template, links, a device and a
directory from the recipe's own directory, is built by the real `compose` under one
change at a time: umask, TZ, locale, working directory, the source files' mtimes, and
their owners. Every image and initramfs must be byte-identical to the reference build.
SOURCE_DATE_EPOCH is the one input that may change the output, and only in the mtimes:
the members read back with the project's reader are otherwise the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from composer.archive.reader import InitramfsReader
from composer.image.s390 import INITRD_SIZE, read_header
from under_test import COMPOSE

# Every test builds the real stock image more than once.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("kernel/drivers/net/virtio_net.ko", "kernel/drivers/net/net_failover.ko",
           "kernel/net/core/failover.ko")

RECIPE = """\
variables:
  interface: eth0
  greeting: "Grüße, Zürich"
kernel:
  image: /boot/vmlinuz-*
  cmdline: "console=ttyS0 ip=dhcp"
  firmware: false
compression: {codec}
binaries:
  - {{name: /bin/busybox, applets: [sh, ip, udhcpc, modprobe, mount]}}
modules:
  - virtio_net
directories:
  - {{path: /proc}}
  - {{path: /var/empty, mode: "0700", uid: 65534, gid: 65534}}
files:
  - {{path: /etc/motd, source: files/motd}}
  - {{path: /etc/blob, source: files/blob, mode: "0600", uid: 1000}}
  - {{path: /etc/hostname, content: "{{{{ interface }}}}-host\\n"}}
templates:
  - {{path: /init, source: init.j2, mode: "0755"}}
symlinks:
  - {{path: /linuxrc, target: /init}}
devices:
  - {{path: /dev/null, type: char, major: 1, minor: 3, mode: "0666"}}
"""

INIT = """\
#!/bin/sh
# {{ greeting }}
for m in {{ composer.modules | join(' ') }}; do modprobe "$m"; done
ip link set {{ interface }} up
udhcpc -i {{ interface }} -q
"""


def make_project(where: Path, sysroot: Path, codec: str) -> Path:
    """The recipe directory and a small copy of the sysroot beside it (so that changing
    owners and mtimes never touches the shared cache)."""
    mini = where / "sysroot"
    (mini / "bin").mkdir(parents=True)
    shutil.copy2(sysroot / "bin" / "busybox", mini / "bin" / "busybox")
    shutil.copytree(sysroot / "boot", mini / "boot")
    release = next((sysroot / "lib" / "modules").iterdir())
    target = mini / "lib" / "modules" / release.name
    target.mkdir(parents=True)
    for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        shutil.copy2(release / name, target / name)
    for module in MODULES:
        (target / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(release / module, target / module)
    project = where / "project"
    (project / "files").mkdir(parents=True)
    (project / "files" / "motd").write_text("welcome\n")
    (project / "files" / "blob").write_bytes(bytes(range(256)) * 64)
    (project / "init.j2").write_text(INIT)
    recipe = project / "recipe.yaml"
    recipe.write_text(RECIPE.format(codec=codec))
    return recipe


def build(recipe: Path, out: Path, *, cwd: Path | None = None,
          env: dict[str, str] | None = None,
          preexec_fn: Callable[[], None] | None = None) -> tuple[Path, Path]:
    """Build image and initramfs into `out`; the recipe path is given relative to cwd."""
    out.mkdir(parents=True, exist_ok=True)
    cwd = cwd or recipe.parent
    base = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "TZ")
            and not k.startswith("LC_") and k != "LANG"}
    base["PYTHONPATH"] = str(ROOT)
    image, initramfs = out / "pxelinux.0", out / "initrd.img"
    done = subprocess.run(
        [*COMPOSE, os.path.relpath(recipe, cwd), "--sysroot",
         os.path.relpath(recipe.parent.parent / "sysroot", cwd), "-o", str(image),
         "--initramfs", str(initramfs)],
        cwd=cwd, env={**base, **(env or {})}, preexec_fn=preexec_fn, capture_output=True,
        text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return image, initramfs


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _every_file(recipe: Path) -> list[Path]:
    top = recipe.parent.parent
    return [p for p in sorted(top.rglob("*")) if not p.is_symlink()]


def _umask() -> None:
    os.umask(0o077)


def change_umask(recipe: Path, tmp: Path) -> dict[str, Any]:
    return {"preexec_fn": _umask}


def change_tz(recipe: Path, tmp: Path) -> dict[str, Any]:
    return {"env": {"TZ": "Pacific/Chatham"}}


def change_locale_c(recipe: Path, tmp: Path) -> dict[str, Any]:
    return {"env": {"LC_ALL": "C", "LANG": "C"}}


def change_locale_utf8(recipe: Path, tmp: Path) -> dict[str, Any]:
    return {"env": {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}}


def change_cwd(recipe: Path, tmp: Path) -> dict[str, Any]:
    elsewhere = tmp / "some" / "other" / "dir"
    elsewhere.mkdir(parents=True)
    return {"cwd": elsewhere}


def change_mtimes(recipe: Path, tmp: Path) -> dict[str, Any]:
    for i, path in enumerate(_every_file(recipe)):
        os.utime(path, (1_234_567_890 + i * 7919, 1_111_111_111 + i * 104_729))
    return {}


def change_owners(recipe: Path, tmp: Path) -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("changing owners to another uid needs root")
    for path in _every_file(recipe):
        os.chown(path, 4242, 4343)
    return {}


VARIATIONS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "umask 077": change_umask,
    "TZ=Pacific/Chatham": change_tz,
    "LC_ALL=C": change_locale_c,
    "LC_ALL=C.UTF-8": change_locale_utf8,
    "working directory": change_cwd,
    "source mtimes": change_mtimes,
    "source owners": change_owners,
}


@pytest.fixture(scope="module")
def reference(sysroot: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Digests of the image and initramfs built the plain way."""
    where = tmp_path_factory.mktemp("reference")
    recipe = make_project(where, sysroot, "gzip")
    image, initramfs = build(recipe, where / "out")
    return digest(image), digest(initramfs)


@pytest.mark.sysroot
@pytest.mark.parametrize("variation", list(VARIATIONS))
def test_the_environment_does_not_change_a_byte(sysroot: Path, tmp_path: Path,
                                               reference: tuple[str, str],
                                               variation: str) -> None:
    recipe = make_project(tmp_path, sysroot, "gzip")
    options = VARIATIONS[variation](recipe, tmp_path)
    image, initramfs = build(recipe, tmp_path / "out", **options)
    assert (digest(image), digest(initramfs)) == reference


@pytest.mark.sysroot
@pytest.mark.parametrize("codec", ["none", "xz", "zstd", "lz4", "lzma", "bzip2"])
def test_every_codec_is_reproducible_under_all_changes_at_once(sysroot: Path, tmp_path: Path,
                                                               codec: str) -> None:
    first = make_project(tmp_path / "a", sysroot, codec)
    second = make_project(tmp_path / "b", sysroot, codec)
    options: dict[str, Any] = {"env": {}}
    for variation in VARIATIONS.values():
        if variation is change_owners and os.geteuid() != 0:
            continue
        found = variation(second, tmp_path / "b")
        options["env"].update(found.pop("env", {}))
        options.update(found)
    expected = build(first, tmp_path / "a" / "out")
    changed = build(second, tmp_path / "b" / "out", **options)
    assert [digest(p) for p in changed] == [digest(p) for p in expected]


def members(image: Path) -> list[tuple[dict[str, Any], bytes]]:
    """The initramfs of a boot image, member by member: every header field and the data."""
    with open(image, "rb") as f:
        header = read_header(f)
        reader = InitramfsReader(f, start=header.initrd_offset, length=header.initrd_size)
        return [(dataclasses.asdict(m.record), m.read()) for m in reader]


@pytest.mark.sysroot
def test_source_date_epoch_changes_only_the_mtimes(sysroot: Path, tmp_path: Path) -> None:
    recipe = make_project(tmp_path, sysroot, "gzip")
    default, _ = build(recipe, tmp_path / "default")
    dated, _ = build(recipe, tmp_path / "dated", env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert digest(default) != digest(dated)
    before, after = members(default), members(dated)
    assert len(before) == len(after) > 20
    assert {fields["mtime"] for fields, _ in before} == {0}
    assert {fields["mtime"] for fields, _ in after} == {1_700_000_000}
    for (old, old_data), (new, new_data) in zip(before, after, strict=True):
        assert {**old, "mtime": None} == {**new, "mtime": None}
        assert old_data == new_data
    assert kernel_part(default) == kernel_part(dated)


def kernel_part(image: Path) -> bytes:
    """The image up to the initrd, with the initrd size field (which follows the
    compressed size) blanked: kernel, padding, command line and initrd offset."""
    with open(image, "rb") as f:
        offset = read_header(f).initrd_offset
        f.seek(0)
        head = bytearray(f.read(offset))
    head[INITRD_SIZE : INITRD_SIZE + 8] = bytes(8)
    return bytes(head)
