"""The cache of module .modinfo and busybox applet tables: faster, never different.

Each test gets its own cache directory (XDG_CACHE_HOME). Files a test has just written
are too fresh to be stored (their ctime is within SETTLED seconds), so the tests that
need stored answers set SETTLED below zero; the one that checks the rule keeps it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from composer.cache import index
from composer.resolve import busybox as busybox_module
from composer.resolve import modules as modules_module
from composer.resolve.busybox import read_applet_table
from composer.resolve.modules import ModuleIndex
from elffactory import TEST_APPLETS, busybox_payload
from modtree import ModTree


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    return home / "composer" / "index"


@pytest.fixture
def settled_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "SETTLED", -60.0)


def tree(root: Path) -> ModTree:
    t = ModTree(root)
    t.module("failover", "kernel/net/core")
    t.module("net_failover", "kernel/drivers/net", depends=["failover"])
    t.module("virtio_net", "kernel/drivers/net", depends=["net_failover"],
             aliases=["virtio:d00000001v*"])
    return t


def no_reading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every .modinfo actually read from a file."""
    read: list[str] = []
    original = modules_module.read_modinfo

    def recording(path: Path, compression: str) -> object:
        read.append(path.name)
        return original(path, compression)

    monkeypatch.setattr(modules_module, "read_modinfo", recording)
    return read


def select(root: Path) -> tuple[list[str], bytes]:
    selection = ModuleIndex.load(root).select(names=["virtio_net"])
    return selection.load_order(), selection.modules_alias()


def test_a_second_resolution_reads_no_module_and_agrees(tmp_path: Path, cache_home: Path,
                                                        settled_now: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path / "root")
    read = no_reading(monkeypatch)
    first = select(tmp_path / "root")
    assert sorted(read) == ["failover.ko", "net_failover.ko", "virtio_net.ko"]
    # one file per directory of modules (kernel/net/core, kernel/drivers/net), and the
    # tree's listing
    assert sorted(p.name.split("-")[0] for p in cache_home.iterdir()) == \
        ["modinfo", "modinfo", "tree"]
    read.clear()
    assert select(tmp_path / "root") == first
    assert read == []


def test_the_tree_is_listed_from_the_cache_until_one_of_its_directories_changes(
        tmp_path: Path, cache_home: Path, settled_now: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    t = tree(tmp_path / "root")
    assert sorted(ModuleIndex.load(tmp_path / "root").modules) == \
        ["failover", "net_failover", "virtio_net"]
    listed: list[str] = []
    original = os.scandir

    def counting(path: str) -> object:
        listed.append(str(path))
        return original(path)

    monkeypatch.setattr(os, "scandir", counting)
    assert sorted(ModuleIndex.load(tmp_path / "root").modules) == \
        ["failover", "net_failover", "virtio_net"]
    assert listed == []
    time.sleep(0.05)  # past the timestamp granularity
    t.module("virtio_blk", "kernel/drivers/block")  # a new directory, deep down
    assert "virtio_blk" in ModuleIndex.load(tmp_path / "root")
    assert listed, "a changed tree is listed again"
    time.sleep(0.05)
    (t.directory / "kernel/net/core/failover.ko").unlink()
    assert "failover" not in ModuleIndex.load(tmp_path / "root")
    time.sleep(0.05)
    os.rename(t.directory / "kernel/drivers/block", t.directory / "kernel/drivers/blk")
    assert ModuleIndex.load(tmp_path / "root").modules["virtio_blk"].relpath == \
        "kernel/drivers/blk/virtio_blk.ko"


def test_a_changed_module_is_read_again(tmp_path: Path, cache_home: Path, settled_now: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    t = tree(tmp_path / "root")
    path = t.directory / "kernel/drivers/net/virtio_net.ko"
    size = path.stat().st_size
    assert b"virtio:d00000001v*" in select(tmp_path / "root")[1]
    time.sleep(0.05)  # past the timestamp granularity: the rewrite gets a new ctime
    t.module("virtio_net", "kernel/drivers/net", depends=["net_failover"],
             aliases=["virtio:d00000002v*"])
    assert path.stat().st_size == size  # only the content tells them apart
    read = no_reading(monkeypatch)
    assert b"virtio:d00000002v*" in select(tmp_path / "root")[1]
    assert read == ["virtio_net.ko"]
    time.sleep(0.05)
    t.module("virtio_net", "kernel/drivers/net", depends=["failover"])
    assert select(tmp_path / "root")[0] == ["failover", "virtio_net"]


def test_a_module_replaced_by_another_file_is_read_again(tmp_path: Path, cache_home: Path,
                                                         settled_now: None) -> None:
    t = tree(tmp_path / "root")
    select(tmp_path / "root")
    other = ModTree(tmp_path / "other")
    other.module("virtio_net", "kernel/drivers/net", depends=[])
    os.replace(other.directory / "kernel/drivers/net/virtio_net.ko",
               t.directory / "kernel/drivers/net/virtio_net.ko")
    assert select(tmp_path / "root")[0] == ["virtio_net"]


def test_fresh_files_are_not_stored(tmp_path: Path, cache_home: Path) -> None:
    """A file written in the last SETTLED seconds could change again within the same
    timestamp tick, unseen: its answer is computed, never stored."""
    tree(tmp_path / "root")
    select(tmp_path / "root")
    assert not cache_home.exists()


def test_a_damaged_cache_file_is_a_miss(tmp_path: Path, cache_home: Path, settled_now: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path / "root")
    first = select(tmp_path / "root")
    stored = sorted(cache_home.iterdir())
    whole = [p.read_bytes() for p in stored]
    flipped = bytearray(whole[0])
    flipped[-3] ^= 0x20  # one letter of a name: still loads, but its CRC-32 differs
    for damage in (b"", b"\x00garbage", whole[0][:-7], bytes(flipped)):
        stored[0].write_bytes(damage)
        read = no_reading(monkeypatch)
        assert select(tmp_path / "root") == first
        assert read  # that directory's modules were read again


def test_other_code_or_cache_off_reads_the_files(tmp_path: Path, cache_home: Path,
                                                 settled_now: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path / "root")
    select(tmp_path / "root")
    monkeypatch.setattr(modules_module, "code_version", lambda *sources: 12345)
    read = no_reading(monkeypatch)
    select(tmp_path / "root")
    assert len(read) == 3
    monkeypatch.setenv("COMPOSER_CACHE", "off")
    read.clear()
    select(tmp_path / "root")
    assert len(read) == 3


def test_busybox_applet_table_from_the_cache(tmp_path: Path, cache_home: Path,
                                             settled_now: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "busybox"
    binary.write_bytes(b"\x7fELF" + bytes(60) + busybox_payload(TEST_APPLETS))
    first = read_applet_table(binary, name="/bin/busybox")
    assert set(first.names) == set(TEST_APPLETS)
    scans: list[bytes] = []
    original = busybox_module._find_names
    monkeypatch.setattr(busybox_module, "_find_names",
                        lambda data: scans.append(data) or original(data))
    assert read_applet_table(binary, name="/bin/busybox") == first
    assert scans == []
    time.sleep(0.05)
    binary.write_bytes(b"\x7fELF" + bytes(60) + busybox_payload({**TEST_APPLETS, "vi": 1}))
    assert "vi" in read_applet_table(binary, name="/bin/busybox").names
    assert len(scans) == 1
