"""The streaming reader against archives written by GNU cpio, bsdtar and composer."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from composer.archive.newc import write_archive
from composer.archive.reader import InitramfsReader, Limits, Record
from composer.errors import InputError
from composer.manifest import Entry, Kind
from hostile.corpus import archive, entry
from hostile.makers import COMPRESSORS, bsdtar_newc, compress, gnu_cpio, sample_tree


def read_all(data: bytes, **options: object) -> tuple[dict[str, tuple[Record, bytes]],
                                                       InitramfsReader]:
    reader = InitramfsReader(io.BytesIO(data), **options)  # type: ignore[arg-type]
    members = {m.record.path: (m.record, m.read()) for m in reader}
    return members, reader


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_tree(tmp_path_factory.mktemp("tree") / "root")


def assert_matches_tree(members: dict[str, tuple[Record, bytes]], root: Path) -> None:
    on_disk = {"/" + str(p.relative_to(root)) for p in root.rglob("*")} | {"/"}
    assert set(members) == on_disk
    contents: dict[int, bytes] = {}
    for path, (record, data) in members.items():
        st = (root / path.lstrip("/")).lstat()
        assert record.mode == st.st_mode, path
        assert record.mtime == int(st.st_mtime), path
        if record.kind == "symlink":
            assert record.target == os.readlink(root / path.lstrip("/"))
        elif record.kind == "file":
            contents[record.ino] = contents.get(record.ino, b"") + data
    # Hard links carry their data once: in total, each inode's content appears once.
    for path, (record, _) in members.items():
        if record.kind == "file":
            assert contents[record.ino] == (root / path.lstrip("/")).read_bytes(), path


@pytest.mark.parametrize("fmt", ["newc", "crc"])
def test_gnu_cpio_archives_read_back_as_the_tree(tree: Path, fmt: str) -> None:
    members, reader = read_all(gnu_cpio(tree, fmt))
    assert_matches_tree(members, tree)
    assert {r.format for r, _ in members.values()} == {fmt}
    assert members["/etc/initctl"][0].kind == "fifo"
    assert members["/bin/sh"][0].target == "busybox"
    assert members["/bin/busybox"][0].permissions == 0o4755
    [segment] = reader.segments
    assert (segment.codec, segment.archives, segment.entries) == ("none", 1, len(members))


@pytest.mark.parametrize(("fmt", "problem"), [("odc", "odc (070707) cpio archive"),
                                              ("bin", "old binary cpio archive")])
def test_formats_the_kernel_refuses_are_named(tree: Path, fmt: str, problem: str) -> None:
    """GNU cpio's default (bin) and odc: the kernel stops at them, so do we, saying why."""
    for data in (gnu_cpio(tree, fmt), gnu_cpio(tree) + compress(gnu_cpio(tree, fmt), "gzip")):
        with pytest.raises(InputError, match=re.escape(problem)) as caught:
            read_all(data)
        assert caught.value.hint == "rebuild it with cpio -H newc"


def test_bsdtar_newc_archives_read_back_as_the_tree(tree: Path) -> None:
    members, _ = read_all(bsdtar_newc(tree))
    assert_matches_tree(members, tree)
    assert members["/etc/motd"][0].name == "./etc/motd"


@pytest.mark.parametrize("codec", sorted(COMPRESSORS))
def test_every_compression_is_detected_and_read(tree: Path, codec: str) -> None:
    plain = gnu_cpio(tree)
    members, reader = read_all(compress(plain, codec))
    assert_matches_tree(members, tree)
    [segment] = reader.segments
    assert segment.codec == codec
    assert segment.size == len(plain)
    assert (segment.caveat is not None) == (codec == "lz4-frame")


@pytest.mark.parametrize("flag,codec", [("-z", "gzip"), ("--zstd", "zstd"), ("-J", "xz"),
                                        ("-j", "bzip2")])
def test_bsdtar_compressed_newc(tree: Path, flag: str, codec: str) -> None:
    members, reader = read_all(bsdtar_newc(tree, flag))
    assert_matches_tree(members, tree)
    assert [s.codec for s in reader.segments] == [codec]


def test_early_uncompressed_archive_then_compressed_main_one(tree: Path,
                                                            tmp_path: Path) -> None:
    """The early-microcode layout: a plain cpio, then the compressed main archive."""
    early_root = tmp_path / "early" / "kernel" / "x86" / "microcode"
    early_root.mkdir(parents=True)
    (early_root / "GenuineIntel.bin").write_bytes(b"\x01" * 1000)
    early = gnu_cpio(tmp_path / "early")
    main = compress(gnu_cpio(tree), "xz")
    members, reader = read_all(early + main)
    assert [(s.codec, s.offset) for s in reader.segments] == [("none", 0), ("xz", len(early))]
    assert members["/kernel/x86/microcode/GenuineIntel.bin"][1] == b"\x01" * 1000
    assert members["/bin/busybox"][1] == (tree / "bin" / "busybox").read_bytes()
    assert reader.segments[1].stored_size == len(main)


def test_mixed_segments_with_nul_padding_between_them(tree: Path) -> None:
    plain = gnu_cpio(tree)
    parts = [compress(plain, "gzip"), b"\0" * 3, compress(plain, "zstd"), b"\0" * 512,
             compress(plain, "lz4")]
    _, reader = read_all(b"".join(parts))
    assert [s.codec for s in reader.segments] == ["gzip", "zstd", "lz4"]
    assert [s.offset for s in reader.segments] == [
        0, len(parts[0]) + 3, len(parts[0]) + 3 + len(parts[2]) + 512]
    assert all(s.entries == reader.segments[0].entries for s in reader.segments)


def test_several_archives_inside_one_compressed_stream() -> None:
    first = archive(entry(b"a", data=b"first"))
    second = archive(entry(b"b", data=b"second"))
    members, reader = read_all(compress(first + bytes(8) + second, "gzip"))
    assert members["/a"][1] == b"first" and members["/b"][1] == b"second"
    [segment] = reader.segments
    assert (segment.archives, segment.entries) == (2, 2)
    assert members["/a"][0].archive != members["/b"][0].archive


def test_crc_checksum_is_verified(tree: Path) -> None:
    data = bytearray(gnu_cpio(tree, "crc"))
    at = data.index(b"welcome\n")
    data[at] ^= 0x20
    with pytest.raises(InputError, match="crc checksum mismatch for 'etc/motd"):
        read_all(bytes(data))


def test_xz_with_a_crc64_check_is_flagged_for_the_kernel(tree: Path) -> None:
    xz = subprocess.run(["xz", "-c"], input=gnu_cpio(tree), capture_output=True,
                        check=True).stdout
    _, reader = read_all(xz)
    assert reader.segments[0].caveat is not None
    assert "--check=crc32" in reader.segments[0].caveat


def test_device_nodes_written_by_composer(tmp_path: Path) -> None:
    out = io.BytesIO()
    write_archive([Entry("/dev", Kind.DIR), Entry("/dev/console", Kind.CHAR, major=5, minor=1),
                   Entry("/dev/vda", Kind.BLOCK, mode=0o660, major=254, minor=16)], out)
    members, _ = read_all(out.getvalue())
    console = members["/dev/console"][0]
    assert (console.kind, console.rdev_major, console.rdev_minor) == ("char", 5, 1)
    vda = members["/dev/vda"][0]
    assert (vda.kind, vda.mode, vda.rdev_major, vda.rdev_minor) == (
        "block", stat.S_IFBLK | 0o660, 254, 16)


def test_an_archive_without_trailer_is_read_with_a_note() -> None:
    data = archive(entry(b"a", data=b"x"))[:-len(archive())]
    members, reader = read_all(data)
    assert list(members) == ["/a"]
    assert "TRAILER" in (reader.segments[0].caveat or "")


def test_a_pipe_is_read_without_seeking(tree: Path) -> None:
    producer = subprocess.Popen(COMPRESSORS["zstd"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
    assert producer.stdin is not None and producer.stdout is not None
    producer.stdin.write(gnu_cpio(tree))
    producer.stdin.close()
    with producer.stdout as pipe:
        records = list(InitramfsReader(pipe).records())  # type: ignore[arg-type]
    producer.wait(timeout=30)
    assert len(records) == len(list(tree.rglob("*"))) + 1


def test_decompression_bomb_is_refused_by_ratio() -> None:
    bomb = compress(archive(entry(b"zeros", data=bytes(8 << 20))), "gzip")
    limits = Limits(max_ratio=100, ratio_floor=1 << 20)
    with pytest.raises(InputError, match="expands more than 100 times"):
        read_all(bomb, limits=limits)
    read_all(bomb, limits=Limits(max_ratio=10_000, ratio_floor=1 << 20))
