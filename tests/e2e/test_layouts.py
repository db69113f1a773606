"""`compose inspect` and `compose diff` on combined images laid out as other distributions'
tools lay them out, made here from Debian's real s390x kernel and an initramfs composer
built, with the offsets those tools publish:

- Ubuntu's livecd-rootfs (a port of debian-cd's gen-s390-cd-kernel.pl): a zero-filled
  file, the kernel at 0, the initrd at 16 MiB (0x1000000), 0x80010000 at offset 4, the
  command line at 0x10480, 32-bit start and size at 0x1040C/0x10414.
- lorax (generic.ins): the initrd at 32 MiB (0x02000000) and initrd.addrsize, two u64s,
  at 0x00010408.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from under_test import compose


@pytest.fixture(scope="module")
def pieces(sysroot: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """Debian's kernel and an initramfs of the stock recipe."""
    work = tmp_path_factory.mktemp("layouts")
    built = compose("pxelinux", "--sysroot", sysroot, "--initramfs", work / "initrd",
                    "-o", work / "image")
    assert built.returncode == 0, built.stderr
    kernel = next((sysroot / "boot").glob("vmlinuz-*")).read_bytes()
    return kernel, (work / "initrd").read_bytes()


def ubuntu_ikr(kernel: bytes, initrd: bytes, *, high_halves: bytes = bytes(4)) -> bytes:
    offset = 0x1000000
    image = bytearray(((offset + len(initrd)) >> 12) + 1 << 12)
    image[:len(kernel)] = kernel
    image[offset:offset + len(initrd)] = initrd
    image[4:8] = struct.pack("!I", 0x80010000)
    line = b"console=ttysclp0 ---"
    image[0x10480:0x10480 + len(line) + 1] = line + b"\0"
    image[0x1040C:0x10410] = struct.pack("!I", offset)
    image[0x10414:0x10418] = struct.pack("!I", len(initrd))
    image[0x10408:0x1040C] = high_halves  # what a 32-bit writer leaves alone
    image[0x10410:0x10414] = high_halves
    return bytes(image)


def lorax_image(kernel: bytes, initrd: bytes) -> bytes:
    offset = 0x02000000
    image = bytearray(offset + len(initrd))
    image[:len(kernel)] = kernel
    image[offset:] = initrd
    image[0x10408:0x10418] = struct.pack(">QQ", offset, len(initrd))
    return bytes(image)


def inspected(path: Path) -> dict[str, object]:
    result = compose("inspect", "--json", path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_an_ubuntu_image_is_recognised_with_its_32_bit_fields(
        pieces: tuple[bytes, bytes], tmp_path: Path) -> None:
    kernel, initrd = pieces
    ikr = tmp_path / "ubuntu.ikr"
    ikr.write_bytes(ubuntu_ikr(kernel, initrd))
    data = inspected(ikr)
    assert data["layout"] == {"name": "fixed-16m", "field_bits": 32, "used_by":
                              "debian-cd gen-s390-cd-kernel.pl, Ubuntu livecd-rootfs, KIWI"}
    assert data["initramfs"] == {"offset": 0x1000000, "size": len(initrd)}
    assert any(e["path"] == "/init" for e in data["entries"])  # type: ignore[attr-defined]
    text = compose("inspect", ikr).stdout
    assert "layout          fixed-16m" in text and "32-bit fields at 0x1040C/0x10414" in text


def test_32_bit_fields_are_found_behind_high_halves_that_are_not_zero(
        pieces: tuple[bytes, bytes], tmp_path: Path) -> None:
    kernel, initrd = pieces
    ikr = tmp_path / "ubuntu.ikr"
    ikr.write_bytes(ubuntu_ikr(kernel, initrd, high_halves=b"\xde\xad\xbe\xef"))
    data = inspected(ikr)
    assert data["initramfs"] == {"offset": 0x1000000, "size": len(initrd)}
    assert data["layout"]["field_bits"] == 32  # type: ignore[index]


def test_a_lorax_image_is_recognised_and_diff_names_the_layouts(
        pieces: tuple[bytes, bytes], tmp_path: Path) -> None:
    kernel, initrd = pieces
    lorax, ikr = tmp_path / "cdboot.img", tmp_path / "ubuntu.ikr"
    lorax.write_bytes(lorax_image(kernel, initrd))
    ikr.write_bytes(ubuntu_ikr(kernel, initrd))
    data = inspected(lorax)
    assert data["layout"]["name"] == "fixed-32m"  # type: ignore[index]
    assert data["layout"]["field_bits"] == 64  # type: ignore[index]
    assert data["initramfs"] == {"offset": 0x2000000, "size": len(initrd)}
    diff = compose("diff", "--json", lorax, ikr)
    assert diff.returncode == 1, diff.stderr
    result = json.loads(diff.stdout)
    assert not (result["added"] or result["removed"] or result["changed"])
    fields = {c["field"]: (c["a"], c["b"]) for c in result["header"]}
    assert fields["layout"][0].startswith("fixed-32m") and \
        fields["layout"][1].startswith("fixed-16m")


def test_composer_writes_each_layout_and_reads_it_back(
        sysroot: Path, pieces: tuple[bytes, bytes], tmp_path: Path) -> None:
    _, initrd = pieces
    for layout, offset in (("fixed-16m", 0x1000000), ("fixed-32m", 0x2000000)):
        out = tmp_path / f"{layout}.img"
        built = compose("pxelinux", "--sysroot", sysroot, "--layout", layout, "-o", out)
        assert built.returncode == 0, built.stderr
        data = inspected(out)
        assert data["layout"]["name"] == layout  # type: ignore[index]
        assert data["initramfs"] == {"offset": offset, "size": len(initrd)}
        assert out.read_bytes()[offset:] == initrd
