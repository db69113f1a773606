"""The archive stage, read back by independent tools (bsdtar, GNU cpio, gzip, xz, ...)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from under_test import compose

RECIPE = """\
variables:
  motd: welcome
compression: {codec}
directories:
  - {{path: /proc, mode: 0555}}
  - {{path: /home/user, mode: 0700, uid: 1000, gid: 100}}
files:
  - {{path: /etc/motd, content: "{{{{ motd }}}}\\n"}}
  - {{path: /usr/share/data.bin, source: data.bin, mode: 0640, uid: 0, gid: 42}}
  - {{path: /init, source: init.sh, mode: 0755}}
symlinks:
  - {{path: /bin/sh, target: busybox}}
  - {{path: /lib64, target: /usr/lib64}}
devices:
  - {{path: /dev/null, type: char, major: 1, minor: 3, mode: 0666}}
  - {{path: /dev/vda, type: block, major: 254, minor: 0, mode: 0660, gid: 6}}
  - {{path: /run/initctl, type: fifo, mode: 0600}}
"""

DECOMPRESS = {
    "none": None,
    "gzip": ["gzip", "-dc"],
    "xz": ["xz", "-dc"],
    "zstd": ["zstd", "-dcq"],
    "lz4": ["lz4", "-dc"],
    "lzma": ["xz", "--format=lzma", "-dc"],
    "bzip2": ["bzip2", "-dc"],
}


def make_recipe(tmp_path: Path, codec: str = "none") -> Path:
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 3000 + b"tail")
    (tmp_path / "init.sh").write_text("#!/bin/sh\necho hello\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(codec=codec))
    return recipe


def build_initramfs(tmp_path: Path, codec: str = "none", name: str = "initrd",
                    env: dict[str, str] | None = None) -> Path:
    make_recipe(tmp_path, codec)
    done = compose("r.yaml", "--no-check", "--initramfs", name, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    return tmp_path / name


def decompressed(path: Path, codec: str) -> bytes:
    tool = DECOMPRESS[codec]
    if tool is None:
        return path.read_bytes()
    done = subprocess.run([*tool, str(path)], capture_output=True, check=True)
    return done.stdout


def test_bsdtar_listing_matches_the_recipe(tmp_path: Path) -> None:
    initrd = build_initramfs(tmp_path)
    listing = subprocess.run(["bsdtar", "-tvf", str(initrd)], capture_output=True, text=True,
                             check=True).stdout
    rows = {line.split()[-1] if "->" not in line else line.split()[-3]: line.split()
            for line in listing.splitlines()}
    assert rows["dev/null"][0] == "crw-rw-rw-" and rows["dev/null"][4] == "1,3"
    assert rows["dev/vda"][0] == "brw-rw----" and rows["dev/vda"][3] == "6"
    assert rows["dev/vda"][4] == "254,0"
    assert rows["run/initctl"][0] == "prw-------"
    assert rows["bin/sh"][0] == "lrwxrwxrwx" and rows["bin/sh"][-1] == "busybox"
    assert rows["lib64"][-1] == "/usr/lib64"
    assert rows["home/user"][0] == "drwx------" and rows["home/user"][2:4] == ["1000", "100"]
    assert rows["proc"][0] == "dr-xr-xr-x"
    assert rows["init"][0] == "-rwxr-xr-x"
    assert rows["usr/share/data.bin"][0] == "-rw-r-----"
    assert rows["usr/share/data.bin"][2:5] == ["0", "42", str(256 * 3000 + 4)]
    # implied parents and the default console node
    assert rows["usr"][0] == "drwxr-xr-x" and rows["usr/share"][0] == "drwxr-xr-x"
    assert rows["dev/console"][0] == "crw-------" and rows["dev/console"][4] == "5,1"
    # sorted, parents first, no absolute or dot paths
    names = [line.split()[8] for line in listing.splitlines()]
    assert names == sorted(names)
    assert not any(n.startswith(("/", "./")) for n in names)


def test_gnu_cpio_extracts_the_same_bytes(tmp_path: Path) -> None:
    initrd = build_initramfs(tmp_path)
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["cpio", "-id", "--no-absolute-filenames", "--quiet", "-F", str(initrd),
                    "--nonmatching", "dev/*"], cwd=out, check=True, capture_output=True)
    assert (out / "usr/share/data.bin").read_bytes() == (tmp_path / "data.bin").read_bytes()
    assert (out / "etc/motd").read_text() == "welcome\n"
    assert os.readlink(out / "bin/sh") == "busybox"
    listing = subprocess.run(["cpio", "-itv", "--quiet", "-F", str(initrd)],
                             capture_output=True, text=True, check=True).stdout
    assert "TRAILER" not in listing
    assert sum(1 for _ in listing.splitlines()) == 18


@pytest.mark.parametrize("codec", sorted(DECOMPRESS))
def test_each_compression_is_read_by_its_standard_tool(tmp_path: Path, codec: str) -> None:
    plain = build_initramfs(tmp_path, "none", name="plain").read_bytes()
    packed = build_initramfs(tmp_path, codec, name="packed")
    assert decompressed(packed, codec) == plain
    if codec != "none":
        assert packed.stat().st_size < len(plain)


def test_xz_uses_the_crc32_check_the_kernel_needs(tmp_path: Path) -> None:
    packed = build_initramfs(tmp_path, "xz")
    info = subprocess.run(["xz", "--robot", "--list", str(packed)], capture_output=True,
                          text=True, check=True).stdout
    assert "\tCRC32\t" in info


def test_lz4_is_the_legacy_frame(tmp_path: Path) -> None:
    packed = build_initramfs(tmp_path, "lz4")
    assert packed.read_bytes()[:4] == bytes.fromhex("02214c18")


def test_builds_are_byte_identical_when_sources_change_mtime(tmp_path: Path) -> None:
    first = build_initramfs(tmp_path, "gzip", name="one").read_bytes()
    for name in ("data.bin", "init.sh", "r.yaml"):
        os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
    second = build_initramfs(tmp_path, "gzip", name="two").read_bytes()
    assert first == second


def mtime_fields(archive: bytes) -> list[range]:
    """Byte ranges of every header's c_mtime field, found by walking the archive."""
    ranges, offset = [], 0
    while archive[offset : offset + 6] == b"070701":
        size = int(archive[offset + 54 : offset + 62], 16)
        namesize = int(archive[offset + 94 : offset + 102], 16)
        ranges.append(range(offset + 46, offset + 54))
        offset += (110 + namesize + 3) // 4 * 4
        offset += (size + 3) // 4 * 4
    return ranges


def test_source_date_epoch_changes_only_mtimes(tmp_path: Path) -> None:
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    zero = build_initramfs(tmp_path, name="zero").read_bytes()
    later = build_initramfs(tmp_path, name="later", env=env).read_bytes()
    assert len(zero) == len(later) and zero != later
    listing = subprocess.run(["bsdtar", "-tvf", str(tmp_path / "later")], capture_output=True,
                             text=True, check=True, env=dict(env, TZ="UTC")).stdout
    assert "Nov 14  2023" in listing
    fields = mtime_fields(later)
    assert len(fields) == 19  # 18 entries and the trailer
    allowed = {i for r in fields for i in r}
    differing = {i for i, (a, b) in enumerate(zip(zero, later, strict=True)) if a != b}
    assert differing and differing <= allowed


def test_precompressed_files_go_into_a_leading_uncompressed_segment(tmp_path: Path) -> None:
    make_recipe(tmp_path, "gzip")
    (tmp_path / "mod.ko.xz").write_bytes(b"\xfd7zXZ\0" + bytes(100))
    text = (tmp_path / "r.yaml").read_text().replace(
        "compression: gzip", "compression: {codec: gzip, precompressed_segment: true}")
    text = text.replace("files:\n", "files:\n  - {path: /lib/modules/x/mod.ko.xz, "
                        "source: mod.ko.xz}\n")
    (tmp_path / "r.yaml").write_text(text)
    done = compose("r.yaml", "--no-check", "--initramfs", "initrd", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = (tmp_path / "initrd").read_bytes()
    assert data.startswith(b"070701")
    trailer = data.index(b"TRAILER!!!")
    rest = data[trailer:].lstrip(b"TRAILER!!!\0")
    assert rest[:2] == b"\x1f\x8b"
    first = subprocess.run(["cpio", "-it", "--quiet"], input=data[: trailer + 16],
                           capture_output=True, check=True).stdout.decode().split()
    assert first == ["lib", "lib/modules", "lib/modules/x", "lib/modules/x/mod.ko.xz"]


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_threaded_gzip_is_the_same_for_any_thread_count(tmp_path: Path, threads: int) -> None:
    plain = build_initramfs(tmp_path, "none", name="plain").read_bytes()
    text = (tmp_path / "r.yaml").read_text().replace(
        "compression: none", f"compression: {{codec: gzip, threads: {threads}}}")
    (tmp_path / "r.yaml").write_text(text)
    done = compose("r.yaml", "--no-check", "--initramfs", "threaded", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    packed = (tmp_path / "threaded").read_bytes()
    assert decompressed(tmp_path / "threaded", "gzip") == plain
    # gzip, no name, mtime 0 (bytes 4..7); OS 255 (unknown: libdeflate) or 3 (zlib's, Unix)
    assert packed[:4] == b"\x1f\x8b\x08\x00" and packed[4:8] == bytes(4)
    assert packed[9] in (3, 255)
    reference = tmp_path / "one-thread"
    (tmp_path / "r.yaml").write_text(text.replace(f"threads: {threads}", "threads: 1"))
    done = compose("r.yaml", "--no-check", "--initramfs", reference.name, cwd=tmp_path)
    assert done.returncode == 0
    assert reference.read_bytes() == packed
