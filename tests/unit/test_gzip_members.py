"""gzip as members of whole entries, compressed by libdeflate (archive/gzipmembers.py).

What the kernel requires of a series of members (init/initramfs.c): each one must end
between two entries, or it stops with "junk at the end of compressed archive". These
tests split real outputs into their members and read each one alone; they check the
bytes are the same for every thread count, that a huge entry is streamed, that the
member cache serves the same bytes and that the reader shows one segment.
"""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import zlib
from pathlib import Path

import pytest

from composer.archive import gzipmembers, libdeflate
from composer.archive.codec import Codec, Compression
from composer.archive.reader import InitramfsReader
from composer.archive.segments import write_initramfs
from composer.errors import InputError
from composer.manifest import Entry, Kind


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    monkeypatch.delenv("COMPOSER_DEFLATE", raising=False)
    return home / "composer" / "members"


def library() -> libdeflate.Library:
    found = libdeflate.load()
    assert found is not None, "libdeflate.so.0 is missing: apt-get install libdeflate0"
    return found


def entries(seed: int = 3, count: int = 120) -> list[Entry]:
    """Files of text and noise from 10 bytes to 60 KB, 3.6 MB in all (120): several
    members' worth."""
    rng = random.Random(seed)
    out = [Entry("/data", Kind.DIR)]
    for i in range(count):
        size = rng.randrange(10, 60_000)
        text = (f"entry {i} line {rng.randrange(10**6)}\n" * (size // 20 + 1)).encode()
        data = bytes(b if rng.random() < 0.7 else rng.randrange(256)
                     for b in text[:size]) if i % 5 == 0 else text[:size]
        out.append(Entry(f"/data/f{i:03d}", Kind.FILE, data=data))
    out.append(Entry("/data/link", Kind.SYMLINK, target="f000"))
    return out


def build(items: list[Entry], threads: int, level: int = 6) -> bytes:
    out = io.BytesIO()
    write_initramfs(items, Compression(Codec.GZIP, level, threads), out, epoch=0)
    return out.getvalue()


def split_members(data: bytes) -> list[bytes]:
    """The gzip members of `data`, each whole, in order."""
    found = []
    rest = data
    while rest:
        z = zlib.decompressobj(31)
        z.decompress(rest)
        assert z.eof, "a member is cut short"
        found.append(rest[: len(rest) - len(z.unused_data)])
        rest = z.unused_data
    return found


def names(archive: bytes) -> list[str]:
    return [r.name for r in InitramfsReader(io.BytesIO(archive)).records()]


def test_every_member_ends_between_two_entries_and_together_they_hold_the_archive() -> None:
    items = entries()
    image = build(items, threads=2)
    parts = split_members(image)
    assert len(parts) >= 3, "over 3 MB of input makes several members"
    seen: list[str] = []
    for part in parts:
        seen += names(part)  # read alone: a member cut inside an entry raises here
    assert seen == [e.path.lstrip("/") for e in items]
    assert gzip.decompress(image) == subprocess.run(
        ["gzip", "-dc"], input=image, capture_output=True, check=True).stdout
    for part in parts[:-1]:
        assert len(gzip.decompress(part)) >= gzipmembers.MEMBER


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
def test_the_bytes_do_not_depend_on_the_thread_count(threads: int) -> None:
    items = entries(seed=9)
    assert build(items, threads) == build(items, 0)


def test_the_reader_sees_one_gzip_segment_of_several_members() -> None:
    items = entries()
    image = build(items, threads=2)
    reader = InitramfsReader(io.BytesIO(image))
    listed = [r.name for r in reader.records()]
    assert listed == [e.path.lstrip("/") for e in items]
    [segment] = reader.segments
    assert segment.codec is Codec.GZIP
    assert segment.members == len(split_members(image))
    assert segment.stored_size == len(image)
    assert segment.archives == 1 and segment.caveat is None


def test_members_apart_are_segments_apart_and_a_member_cut_inside_an_entry_is_junk() -> None:
    parts = split_members(build(entries(), threads=2))
    padded = parts[0] + b"\0" * 4 + b"".join(parts[1:])
    reader = InitramfsReader(io.BytesIO(padded))
    list(reader.records())
    assert [s.members for s in reader.segments] == [1, len(parts) - 1]
    whole = gzip.decompress(b"".join(parts))
    torn = gzip.compress(whole[:1000], mtime=0) + gzip.compress(whole[1000:], mtime=0)
    with pytest.raises(InputError):
        list(InitramfsReader(io.BytesIO(torn)).records())


def test_an_entry_bigger_than_a_member_may_be_is_streamed_with_bounded_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gzipmembers, "STREAM_AFTER", 300_000)
    rng = random.Random(5)
    big = b"".join(rng.randbytes(64) * rng.randrange(1, 40) for _ in range(3000))
    assert len(big) > 3 * 300_000
    items = [Entry("/a", Kind.FILE, data=b"first\n" * 40_000),
             Entry("/big", Kind.FILE, data=big), Entry("/z", Kind.FILE, data=b"last\n")]
    held: list[int] = []
    original = gzipmembers.GzipMembers.compress

    def watching(self: gzipmembers.GzipMembers, data: bytes, /) -> bytes:
        out = original(self, data)
        held.append(self.buffered)
        return out

    monkeypatch.setattr(gzipmembers.GzipMembers, "compress", watching)
    image = build(items, threads=2)
    assert max(held) <= gzipmembers.STREAM_AFTER + (1 << 20)
    assert [r.name for r in InitramfsReader(io.BytesIO(image)).records()] == ["a", "big", "z"]
    assert gzip.decompress(image).count(big) == 1
    assert build(items, threads=1) == image


def test_a_warm_build_compresses_nothing_and_a_changed_file_misses_its_member_only(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done: list[int] = []
    original = libdeflate.Compressor.gzip

    def counting(self: libdeflate.Compressor, data: bytes) -> bytes:
        done.append(len(data))
        return original(self, data)

    monkeypatch.setattr(libdeflate.Compressor, "gzip", counting)
    items = entries()
    cold = build(items, threads=2)
    assert own_cache.is_dir() and len(done) == len(split_members(cold))
    done.clear()
    assert build(items, threads=2) == cold
    assert done == []
    changed = list(items)
    changed[-5] = Entry(changed[-5].path, Kind.FILE, data=b"changed\n")
    fresh = build(changed, threads=2)
    assert len(done) == 1 and gzip.decompress(fresh).count(b"changed\n") == 1
    for path in own_cache.iterdir():  # damage every entry: misses, same bytes
        blob = bytearray(path.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        path.write_bytes(bytes(blob))
    done.clear()
    assert build(items, threads=2) == cold
    assert len(done) == len(split_members(cold))


def test_without_libdeflate_gzip_is_zlibs_single_member(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    items = entries(count=30)
    monkeypatch.setenv("COMPOSER_DEFLATE", "zlib")
    plain = build(items, threads=2)
    assert len(split_members(plain)) == 1
    monkeypatch.delenv("COMPOSER_DEFLATE")
    library()
    assert gzip.decompress(build(items, threads=2)) == gzip.decompress(plain)


def test_an_empty_stream_is_one_empty_member() -> None:
    encoder = gzipmembers.GzipMembers(library(), 6, 2)
    assert gzip.decompress(encoder.flush()) == b""


@pytest.mark.parametrize("level", [1, 6, 9])
def test_levels_are_libdeflates_and_higher_is_not_larger(level: int) -> None:
    data = b"".join(bytes(e.data or b"") for e in entries(count=40))
    compressor = library().compressor(level)
    try:
        member = compressor.gzip(data)
    finally:
        compressor.close()
    assert gzip.decompress(member) == data
    if level < 9:
        stronger = library().compressor(9)
        assert len(stronger.gzip(data)) <= len(member)
        stronger.close()


@pytest.mark.parametrize("value", ["zlib-ng", "on", "libdeflate2"])
def test_an_unknown_engine_is_refused_before_anything_is_written(
        value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSER_DEFLATE", value)
    with pytest.raises(InputError, match="COMPOSER_DEFLATE"):
        Compression(Codec.GZIP, 6, 2).check()
    Compression(Codec.ZSTD, 3, 2).check()  # only gzip asks


def test_asking_for_libdeflate_where_there_is_none_is_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libdeflate, "_library", lambda: None)
    monkeypatch.setenv("COMPOSER_DEFLATE", "libdeflate")
    with pytest.raises(InputError, match="apt-get install libdeflate0"):
        libdeflate.load()
    monkeypatch.setenv("COMPOSER_DEFLATE", "auto")
    assert libdeflate.load() is None


def test_another_libdeflate_misses_the_member_cache(own_cache: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    items = entries(count=20)
    first = build(items, threads=1)
    stored = set(own_cache.iterdir())
    monkeypatch.setattr(libdeflate.Library, "identity", property(lambda self: "other:1"))
    assert build(items, threads=1) == first
    assert set(own_cache.iterdir()) > stored
