"""The cache of deflated gzip blocks: a warm build deflates nothing and writes the same
bytes; a change misses exactly the blocks it touches; a damaged entry is never used.

Each test gets its own cache directory (XDG_CACHE_HOME). The data mixes text and random
bytes so that blocks deflate to different sizes, as an initramfs does.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import zlib
from pathlib import Path

import pytest

from composer.archive import pigz
from composer.archive.codec import Codec, Compression
from composer.archive.compress import open_compressor
from composer.cache import deflate, store

BLOCK = pigz.ParallelGzip.BLOCK


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    monkeypatch.setenv("COMPOSER_DEFLATE", "zlib")  # this cache serves the zlib writer
    return home / "composer" / "deflate"


@pytest.fixture
def deflates(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every block zlib really deflates (its length)."""
    done: list[int] = []
    original = pigz.ParallelGzip._deflate

    def counting(self: pigz.ParallelGzip, block: bytes, primer: bytes) -> bytes:
        done.append(len(block))
        return original(self, block, primer)

    monkeypatch.setattr(pigz.ParallelGzip, "_deflate", counting)
    return done


def payload(seed: int = 1, blocks: float = 4.5) -> bytes:
    rng = random.Random(seed)
    parts: list[bytes] = []
    size = 0
    while size < blocks * BLOCK:
        if rng.random() < 0.3:
            part = rng.randbytes(rng.randrange(100, 20_000))
        else:
            part = (f"line {rng.randrange(10**6)} of some shell script\n" * 50).encode()
        parts.append(part)
        size += len(part)
    return b"".join(parts)[: int(blocks * BLOCK)]


def gzip_bytes(data: bytes, level: int = 6, threads: int = 2, pieces: int = 7) -> bytes:
    out = io.BytesIO()
    writer = open_compressor(Compression(Codec.GZIP, level, threads), out)
    step = len(data) // pieces + 1
    for start in range(0, len(data), step):  # writes that don't line up with blocks
        writer.write(data[start:start + step])
    writer.close()
    return out.getvalue()


def uncached(data: bytes, monkeypatch: pytest.MonkeyPatch, level: int = 6) -> bytes:
    with monkeypatch.context() as m:
        m.setenv("COMPOSER_CACHE", "off")
        return gzip_bytes(data, level)


def blocks_of(data: bytes) -> int:
    return -(-len(data) // BLOCK)


def test_a_warm_build_deflates_nothing_and_writes_the_same_bytes(
        cache_dir: Path, deflates: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    data = payload()
    reference = uncached(data, monkeypatch)
    assert len(deflates) == blocks_of(data)
    assert not cache_dir.exists()  # COMPOSER_CACHE=off writes nothing

    deflates.clear()
    cold = gzip_bytes(data)
    assert len(deflates) == blocks_of(data)
    assert len(os.listdir(cache_dir)) == blocks_of(data)

    deflates.clear()
    warm = gzip_bytes(data)
    assert deflates == []
    assert cold == warm == reference
    assert gzip.decompress(warm) == data


def test_a_changed_byte_misses_its_block_and_the_next_one_only(
        cache_dir: Path, deflates: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    data = payload()
    gzip_bytes(data)
    changed = bytearray(data)
    changed[2 * BLOCK + 1000] ^= 0xFF
    changed = bytes(changed)
    deflates.clear()
    out = gzip_bytes(changed)
    # Block 2 holds the change; block 3 is primed with block 2's last 32 KiB, which
    # doesn't hold it (offset 1000), so only block 2 is deflated again.
    assert deflates == [BLOCK]
    assert out == uncached(changed, monkeypatch)
    assert gzip.decompress(out) == changed

    primer_change = bytearray(data)
    primer_change[3 * BLOCK - 10] ^= 0xFF  # in block 2's last 32 KiB: block 3's primer
    deflates.clear()
    out = gzip_bytes(bytes(primer_change))
    assert deflates == [BLOCK, BLOCK]
    assert out == uncached(bytes(primer_change), monkeypatch)


def test_another_level_or_a_longer_tail_is_another_key(
        cache_dir: Path, deflates: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    data = payload()
    gzip_bytes(data, level=6)
    deflates.clear()
    out = gzip_bytes(data, level=9)
    assert len(deflates) == blocks_of(data)
    assert out == uncached(data, monkeypatch, level=9)

    longer = data + b"x"  # the short last block grows by one byte
    reference = uncached(longer, monkeypatch)
    deflates.clear()
    assert gzip_bytes(longer) == reference
    assert deflates == [len(longer) % BLOCK]


@pytest.mark.parametrize("damage", ["flip-payload", "flip-check", "truncate", "empty",
                                    "other-entry", "huge"])
def test_a_damaged_entry_is_a_miss_and_never_used(
        cache_dir: Path, deflates: list[int], monkeypatch: pytest.MonkeyPatch,
        damage: str) -> None:
    data = payload()
    reference = uncached(data, monkeypatch)
    gzip_bytes(data)
    entries = sorted(cache_dir.iterdir())
    for i, entry in enumerate(entries):
        raw = bytearray(entry.read_bytes())
        if damage == "flip-payload":
            raw[-1] ^= 0x01
        elif damage == "flip-check":
            raw[len(store.MAGIC) + store.KEY_SIZE] ^= 0x01
        elif damage == "truncate":
            raw = raw[: len(raw) // 2]
        elif damage == "empty":
            raw = bytearray()
        elif damage == "other-entry":  # a whole, valid entry, but for another key
            raw = bytearray(entries[(i + 1) % len(entries)].read_bytes())
        elif damage == "huge":
            raw += bytes(store.MAX_ENTRY)
        entry.write_bytes(bytes(raw))
    deflates.clear()
    out = gzip_bytes(data)
    assert len(deflates) == blocks_of(data)
    assert out == reference
    # ...and the damaged entries were replaced by good ones: the next build hits.
    deflates.clear()
    assert gzip_bytes(data) == reference
    assert deflates == []


def test_an_unusable_cache_directory_changes_nothing(
        cache_dir: Path, deflates: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir.parent.mkdir(parents=True)
    cache_dir.write_text("a file where the directory should be\n")
    data = payload(blocks=2.5)
    assert gzip_bytes(data) == uncached(data, monkeypatch)
    assert gzip_bytes(data) == uncached(data, monkeypatch)
    assert cache_dir.read_text() == "a file where the directory should be\n"


def test_a_build_adds_at_most_the_limit_and_the_directory_is_pruned_oldest_first(
        cache_dir: Path, deflates: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    data = payload(blocks=5)
    reference = uncached(data, monkeypatch)
    sizes = [len(zlib.compress(data[i:i + BLOCK])) for i in range(0, len(data), BLOCK)]
    monkeypatch.setattr(deflate, "ADD_LIMIT", sum(sizes[:3]) + 10)
    assert gzip_bytes(data) == reference
    stored = len(os.listdir(cache_dir))
    assert 2 <= stored <= 4  # about three blocks' worth, whichever threads finished first

    for n, name in enumerate(sorted(os.listdir(cache_dir))):
        os.utime(cache_dir / name, ns=(n * 10**9, n * 10**9))
    oldest = sorted(os.listdir(cache_dir))[0]
    total = sum(p.stat().st_size for p in cache_dir.iterdir())
    store.prune(cache_dir, total - 1)
    left = os.listdir(cache_dir)
    assert oldest not in left
    assert sum(p.stat().st_size for p in cache_dir.iterdir()) <= (total - 1) * 3 // 4
    store.prune(cache_dir, 10**9)  # under budget: nothing goes
    assert sorted(os.listdir(cache_dir)) == sorted(left)
