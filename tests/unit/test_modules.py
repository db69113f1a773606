"""Kernel modules: a synthetic /lib/modules tree made here (the real Debian s390x one is
tests/e2e/test_modules_sysroot.py).

The generated modules.dep is checked the way it will be used: host busybox's modprobe
reads it (tests/modoracle.py).
"""

from __future__ import annotations

import random
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from composer.errors import InputError, ResolveError
from composer.manifest import Kind, Manifest
from composer.resolve.elfsection import elf_section
from composer.resolve.modinfo import read_modinfo
from composer.resolve.modules import ModuleIndex, glob_regex
from modoracle import busybox_root, dep_lines, install, modprobe_show, pyelftools_modinfo
from modtree import RELEASE, ModTree, module_elf

# --- the .modinfo reader -------------------------------------------------------------------


@pytest.mark.parametrize(("elf_class", "byteorder", "machine"),
                         [(64, "big", 22), (64, "little", 62), (32, "big", 22), (32, "little", 3)])
def test_modinfo_agrees_with_readelf_and_pyelftools(tmp_path: Path, elf_class: int,
                                                    byteorder: str, machine: int) -> None:
    entries = ["alias=virtio:d00000001v*", "firmware=a/b.bin", "softdep=pre: crc32c post: x-y",
               "depends=net-failover,failover", "vermagic=6.1.0-99-s390x SMP mod_unload "]
    path = tmp_path / "m.ko"
    path.write_bytes(module_elf(entries, elf_class=elf_class, byteorder=byteorder,
                                machine=machine))
    readelf = subprocess.run(["readelf", "-p", ".modinfo", str(path)], capture_output=True,
                             text=True, check=True).stdout
    assert re.findall(r"\]  (.*)", readelf) == entries
    assert elf_section(path.read_bytes(), b".modinfo") == pyelftools_modinfo(path)
    info = read_modinfo(path, "")
    assert info.depends == ("net_failover", "failover")
    assert (info.softdep_pre, info.softdep_post) == (("crc32c",), ("x_y",))
    assert info.firmware == ("a/b.bin",)
    assert info.aliases == ("virtio:d00000001v*",)
    assert info.release == "6.1.0-99-s390x"


@settings(max_examples=examples(150), deadline=None)
@given(cut=st.integers(0, 400), flips=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 255)),
                                                max_size=4))
def test_damaged_modules_are_a_resolve_error_never_a_crash(cut: int,
                                                          flips: list[tuple[int, int]]) -> None:
    data = bytearray(module_elf(["depends=a,b", "firmware=x.bin"]))
    for at, value in flips:
        if at < len(data):
            data[at] ^= value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.ko"
        path.write_bytes(bytes(data[: len(data) - cut]))
        try:
            read_modinfo(path, "")
        except ResolveError as error:
            assert str(path) in str(error)


# --- the index and selection on a synthetic tree ---------------------------------------------


def net_tree(root: Path, compression: str = "") -> ModTree:
    """virtio-net -> net_failover -> failover, as in Linux 6.1, plus unrelated modules."""
    tree = ModTree(root)
    tree.module("failover", "kernel/net/core", compression=compression)
    tree.module("net_failover", "kernel/drivers/net", depends=["failover"],
                compression=compression)
    tree.module("virtio_net", "kernel/drivers/net", depends=["net_failover"],
                aliases=["virtio:d00000001v*"], compression=compression)
    tree.module("dummy", "kernel/drivers/net")
    tree.module("ext4", "kernel/fs/ext4", depends=["jbd2", "mbcache"])
    tree.module("jbd2", "kernel/fs/jbd2")
    tree.module("mbcache", "kernel/fs")
    tree.module("binfmt_misc", "kernel/fs")
    return tree


def test_virtio_net_brings_its_dependencies_first(tmp_path: Path) -> None:
    net_tree(tmp_path)
    selection = ModuleIndex.load(tmp_path).select(names=["virtio_net"])
    assert selection.load_order() == ["failover", "net_failover", "virtio_net"]
    assert selection.modules_dep().decode() == (
        "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
        "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
        "kernel/net/core/failover.ko\n"
        "kernel/net/core/failover.ko:\n"
    )
    assert "alias virtio:d00000001v* virtio_net\n" in selection.modules_alias().decode()


def test_entries_are_root_owned_0644_files_from_the_sysroot(tmp_path: Path) -> None:
    tree = net_tree(tmp_path)
    tree.builtin("kernel/drivers/virtio/virtio.ko")
    entries = ModuleIndex.load(tmp_path).select(names=["virtio_net"]).entries()
    by_path = {e.path: e for e in entries}
    base = f"/lib/modules/{RELEASE}"
    assert sorted(by_path) == sorted([
        f"{base}/kernel/net/core/failover.ko", f"{base}/kernel/drivers/net/net_failover.ko",
        f"{base}/kernel/drivers/net/virtio_net.ko", f"{base}/modules.dep",
        f"{base}/modules.alias", f"{base}/modules.builtin"])
    for entry in entries:
        assert (entry.kind, entry.mode, entry.uid, entry.gid) == (Kind.FILE, 0o644, 0, 0)
    ko = by_path[f"{base}/kernel/drivers/net/virtio_net.ko"]
    assert ko.source == tree.directory / "kernel/drivers/net/virtio_net.ko"
    assert by_path[f"{base}/modules.builtin"].source == tree.directory / "modules.builtin"
    assert len(Manifest(entries).entries()) > len(entries)  # parents implied, no conflict


def test_dash_and_underscore_name_the_same_module(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    tree.module("snd-core", "kernel/sound")
    tree.module("snd_pcm", "kernel/sound", depends=["snd-core"])
    tree.module("usb-common", "kernel/drivers/usb")
    index = ModuleIndex.load(tmp_path)
    assert "snd_core" in index and "snd-pcm" in index
    selection = index.select(names=["snd-pcm", "usb_common"])
    assert selection.load_order() == ["snd_core", "snd_pcm", "usb_common"]
    assert "kernel/sound/snd_pcm.ko: kernel/sound/snd-core.ko\n" in selection.modules_dep().decode()


@pytest.mark.parametrize("compression", ["xz", "zst", "gz"])
def test_compressed_modules_are_read_and_kept_compressed(tmp_path: Path,
                                                         compression: str) -> None:
    net_tree(tmp_path, compression)
    selection = ModuleIndex.load(tmp_path).select(names=["virtio-net"])
    assert selection.load_order() == ["failover", "net_failover", "virtio_net"]
    line = next(line for line in selection.modules_dep().decode().splitlines()
                if line.startswith("kernel/drivers/net/virtio_net"))
    assert line == (f"kernel/drivers/net/virtio_net.ko.{compression}: "
                    f"kernel/drivers/net/net_failover.ko.{compression} "
                    f"kernel/net/core/failover.ko.{compression}")
    assert all(e.path.endswith(f".ko.{compression}") for e in selection.entries()
               if "/kernel/" in e.path)


def test_modules_dep_when_present_is_authoritative(tmp_path: Path) -> None:
    """modinfo says virtio_net needs nothing; the sysroot's modules.dep says otherwise."""
    tree = ModTree(tmp_path)
    tree.module("failover", "kernel/net/core")
    tree.module("net_failover", "kernel/drivers/net")
    tree.module("virtio_net", "kernel/drivers/net")
    tree.modules_dep(
        "kernel/net/core/failover.ko:\n"
        "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
        f"/lib/modules/{RELEASE}/kernel/drivers/net/virtio_net.ko: "
        "kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko\n")
    index = ModuleIndex.load(tmp_path)
    assert index.listed_deps is not None
    assert index.select(names=["virtio_net"]).load_order() == [
        "failover", "net_failover", "virtio_net"]
    (tree.directory / "modules.dep").unlink()
    assert ModuleIndex.load(tmp_path).select(names=["virtio_net"]).load_order() == ["virtio_net"]


def test_softdeps_pre_before_post_after_aliases_and_builtins(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    tree.module("libcrc32c", "kernel/lib", softdep="pre: crc32c")
    tree.module("crc32c_generic", "kernel/crypto", aliases=["crypto-crc32c", "crc32c"])
    tree.module("jbd2", "kernel/fs/jbd2", softdep="pre: crypto-md5")  # built in
    tree.module("ext4", "kernel/fs/ext4", depends=["jbd2"],
                softdep="pre: crypto-crc32c nonexistent post: ext4_extra")
    tree.module("ext4_extra", "kernel/fs/ext4")
    tree.builtin("kernel/crypto/md5.ko", aliases=[("md5", "crypto-md5")])
    selection = ModuleIndex.load(tmp_path).select(names=["ext4"])
    order = selection.load_order()
    assert set(order) == {"crc32c_generic", "jbd2", "ext4", "ext4_extra"}
    assert order.index("crc32c_generic") < order.index("ext4") < order.index("ext4_extra")
    assert order.index("jbd2") < order.index("ext4")
    assert [(u.name, u.wanted_by) for u in selection.softdeps_missing] == [
        ("nonexistent", ("ext4",))]
    # softdeps are not hard dependencies: modules.dep keeps only depends=
    assert "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n" in selection.modules_dep().decode()
    without = ModuleIndex.load(tmp_path).select(names=["ext4"], softdeps=False)
    assert without.load_order() == ["jbd2", "ext4"]


def test_soft_order_that_contradicts_hard_dependencies_is_dropped(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    tree.module("base", "kernel/lib", softdep="pre: user")
    tree.module("user", "kernel/lib", depends=["base"])
    assert ModuleIndex.load(tmp_path).select(names=["base"]).load_order() == ["base", "user"]


def test_hard_dependency_cycle_is_an_error_naming_it(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    tree.module("alpha", depends=["beta"])
    tree.module("beta", depends=["gamma"])
    tree.module("gamma", depends=["alpha"])
    with pytest.raises(ResolveError, match=r"cycle: alpha -> beta -> gamma -> alpha"):
        ModuleIndex.load(tmp_path).select(names=["alpha"])


def test_missing_module_names_where_it_looked_and_the_nearest(tmp_path: Path) -> None:
    net_tree(tmp_path)
    index = ModuleIndex.load(tmp_path)
    with pytest.raises(ResolveError) as caught:
        index.select(names=["virtio_net", "virtio-nett", "zzz"])
    message = str(caught.value)
    assert "'virtio-nett' (nearest: virtio_net" in message
    assert "'zzz'" in message
    assert str(tree_dir(tmp_path)) in message
    assert "8 modules there" in message


def test_missing_hard_dependency_is_an_error(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    tree.module("needy", depends=["gone"])
    with pytest.raises(ResolveError, match="needy needs gone"):
        ModuleIndex.load(tmp_path).select(names=["needy"])


def test_builtin_modules_are_satisfied_not_missing(tmp_path: Path) -> None:
    tree = net_tree(tmp_path)
    tree.module("virtio_blk", "kernel/drivers/block", depends=["virtio"])
    tree.builtin("kernel/drivers/virtio/virtio.ko", "kernel/drivers/s390/virtio/virtio_ccw.ko")
    selection = ModuleIndex.load(tmp_path).select(names=["virtio_ccw", "virtio_blk"])
    assert selection.builtin == ("virtio_ccw",)
    assert selection.load_order() == ["virtio_blk"]


def test_a_name_may_be_an_exact_alias(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    tree.module("crc32c_generic", "kernel/crypto", aliases=["crypto-crc32c", "crc32c"])
    tree.module("crc32c_s390", "kernel/arch/s390/crypto", aliases=["crc32c", "pci:v*"])
    tree.builtin("kernel/crypto/md5.ko", aliases=[("md5", "crypto-md5")])
    index = ModuleIndex.load(tmp_path)
    assert index.select(names=["crc32c"]).load_order() == ["crc32c_generic", "crc32c_s390"]
    assert index.select(names=["crypto-md5"]).builtin == ("crypto_md5",)
    with pytest.raises(ResolveError, match="'pci:v1234'"):
        index.select(names=["pci:v1234"])  # wildcard aliases are for modprobe, not recipes
    with pytest.raises(InputError, match="not a directory name"):
        ModuleIndex.load(tmp_path, "../6.1.0-99-s390x")


def test_patterns_use_glob_semantics_under_kernel(tmp_path: Path) -> None:
    net_tree(tmp_path)
    index = ModuleIndex.load(tmp_path)

    def names(pattern: str) -> list[str]:
        return [m.name for m in index.match(pattern)]

    assert names("drivers/net/**") == ["dummy", "net_failover", "virtio_net"]
    assert names("fs/*") == ["binfmt_misc", "mbcache"]  # `*` does not enter fs/ext4
    assert names("fs/**") == ["binfmt_misc", "ext4", "jbd2", "mbcache"]
    assert names("**/virtio*") == ["virtio_net"]
    assert names("fs/ext?/*.ko") == ["ext4"]
    assert names("kernel/net/core/failover.ko") == ["failover"]
    assert names("drivers/net/[dv]*") == ["dummy", "virtio_net"]
    selection = index.select(patterns=["drivers/net/virtio*"])
    assert selection.load_order() == ["failover", "net_failover", "virtio_net"]
    with pytest.raises(ResolveError, match="nearest directories: drivers/net"):
        index.match("drivers/nett/**")
    assert glob_regex("a/**/b").fullmatch("a/b") and glob_regex("a/**/b").fullmatch("a/x/y/b")


def test_all_modules(tmp_path: Path) -> None:
    net_tree(tmp_path)
    selection = ModuleIndex.load(tmp_path).select(all_=True)
    order = selection.load_order()
    assert len(order) == 8
    assert order.index("failover") < order.index("net_failover") < order.index("virtio_net")
    assert order.index("jbd2") < order.index("ext4")


def test_firmware_present_missing_compressed_and_switched_off(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    tree.module("wifi", "kernel/drivers/net", firmware=[
        "vendor/plain.bin", "vendor/packed.bin", "zpacked.bin", "optional.bin", "special.bin"])
    tree.firmware("vendor/plain.bin")
    tree.firmware("vendor/packed.bin", compression="xz")
    tree.firmware("zpacked.bin", compression="zst")
    tree.firmware("special.bin", where=f"lib/firmware/updates/{RELEASE}")
    tree.firmware("special.bin")  # shadowed by the updates directory, as for the kernel
    selection = ModuleIndex.load(tmp_path).select(names=["wifi"])
    assert {f.name: f.path for f in selection.firmware} == {
        "vendor/plain.bin": "/lib/firmware/vendor/plain.bin",
        "vendor/packed.bin": "/lib/firmware/vendor/packed.bin.xz",
        "zpacked.bin": "/lib/firmware/zpacked.bin.zst",
        "special.bin": f"/lib/firmware/updates/{RELEASE}/special.bin",
    }
    assert [(m.name, m.wanted_by) for m in selection.firmware_missing] == [
        ("optional.bin", ("wifi",))]
    with_fw = {e.path for e in selection.entries(with_firmware=True)}
    without = {e.path for e in selection.entries(with_firmware=False)}
    assert with_fw - without == {f.path for f in selection.firmware}


def test_firmware_through_a_symlink_in_the_sysroot(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    tree.module("nic", firmware=["nic/fw.bin"])
    real = tree.firmware("vendor-nic/fw-1.2.bin")
    (tmp_path / "lib/firmware/nic").symlink_to("/lib/firmware/vendor-nic")
    (tmp_path / "lib/firmware/vendor-nic/fw.bin").symlink_to("fw-1.2.bin")
    (firmware,) = ModuleIndex.load(tmp_path).select(names=["nic"]).firmware
    assert (firmware.path, firmware.source) == ("/lib/firmware/nic/fw.bin", real)


def test_release_choice(tmp_path: Path) -> None:
    with pytest.raises(ResolveError, match="has no kernel modules"):
        ModuleIndex.load(tmp_path)
    ModTree(tmp_path, "6.1.0-1-s390x").module("a")
    assert ModuleIndex.load(tmp_path).release == "6.1.0-1-s390x"
    ModTree(tmp_path, "6.1.0-2-s390x").module("a", vermagic="6.1.0-2-s390x")
    with pytest.raises(ResolveError, match=r"2 kernel releases \(6.1.0-1-s390x, 6.1.0-2-s390x\)"):
        ModuleIndex.load(tmp_path)
    assert ModuleIndex.load(tmp_path, "6.1.0-2-s390x").release == "6.1.0-2-s390x"
    with pytest.raises(ResolveError, match=r"releases there: 6\.1\.0-1-s390x, 6\.1\.0-2-s390x"):
        ModuleIndex.load(tmp_path, "6.1.0-3-s390x")


def test_modules_built_for_another_release_are_refused(tmp_path: Path) -> None:
    ModTree(tmp_path).module("stale", vermagic="5.10.0-9-s390x")
    with pytest.raises(ResolveError, match=r"another kernel release.*stale \(5.10.0-9-s390x\)"):
        ModuleIndex.load(tmp_path).select(names=["stale"])


def test_symlinked_module_files_resolve_inside_the_sysroot(tmp_path: Path) -> None:
    tree = ModTree(tmp_path)
    real = tree.directory / tree.module("nvme", "kernel/drivers/nvme")
    weak = tree.directory / "weak-updates"
    weak.mkdir()
    (weak / "vendor.ko").symlink_to(f"/lib/modules/{RELEASE}/kernel/drivers/nvme/nvme.ko")
    (weak / "gone.ko").symlink_to("/lib/modules/none/gone.ko")
    index = ModuleIndex.load(tmp_path)
    assert index.find("vendor").source == real and "gone" not in index


def test_merged_usr_sysroot(tmp_path: Path) -> None:
    tree = ModTree(tmp_path / "usr")  # /usr/lib/modules/<release>, /lib -> usr/lib
    tree.module("dummy")
    (tmp_path / "lib").symlink_to("usr/lib")
    assert ModuleIndex.load(tmp_path).select(names=["dummy"]).load_order() == ["dummy"]


@settings(max_examples=examples(40), deadline=None)
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.sets(st.tuples(st.integers(1, n - 1), st.integers(0, n - 2))))))
def test_modules_dep_lines_load_right_to_left(dag: tuple[int, set[tuple[int, int]]]) -> None:
    """For any DAG: each line lists the transitive dependencies, and loading them from
    the end of the line to its start, then the module, never loads a module before one it
    needs; this is exactly what busybox's do_modprobe() does."""
    count, pairs = dag
    needs = {i: sorted({j for a, j in pairs if a == i and j < i}) for i in range(count)}
    with tempfile.TemporaryDirectory() as tmp:
        tree = ModTree(Path(tmp))
        order = list(range(count))
        random.Random(count).shuffle(order)
        for i in order:
            tree.module(f"m{i}", f"kernel/d{i % 3}", depends=[f"m{j}" for j in needs[i]])
        selection = ModuleIndex.load(Path(tmp)).select(names=[f"m{count - 1}"])
        path_of = {m.relpath: m.name for m in selection.modules}
        for head, deps in dep_lines(selection).items():
            sequence = [path_of[d] for d in reversed(deps)] + [path_of[head]]
            for position, name in enumerate(sequence):
                wanted = {f"m{j}" for j in needs[int(name[1:])]}
                assert wanted <= set(sequence[:position]), (head, deps)
        loaded: set[str] = set()
        for name in selection.load_order():
            assert {f"m{j}" for j in needs[int(name[1:])]} <= loaded
            loaded.add(name)


# --- busybox modprobe reads what we wrote ---------------------------------------------------


def test_busybox_modprobe_follows_generated_modules_dep(tmp_path: Path) -> None:
    tree = net_tree(tmp_path / "sysroot")
    tree.module("virtio_blk", "kernel/drivers/block", depends=["failover", "mbcache"])
    selection = ModuleIndex.load(tmp_path / "sysroot").select(names=["virtio-net", "ext4",
                                                                     "virtio_blk"])
    root = busybox_root(tmp_path)
    install(selection, root)
    assert modprobe_show(root, "virtio-net") == [
        "kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
        "kernel/drivers/net/virtio_net.ko"]
    shown = modprobe_show(root, "ext4")
    assert shown[-1] == "kernel/fs/ext4/ext4.ko" and len(shown) == 3
    # modules.alias: a device alias resolves to the driver, as mdev/udev coldplug asks
    assert modprobe_show(root, "virtio:d00000001v00001AF4")[-1] == (
        "kernel/drivers/net/virtio_net.ko")


def tree_dir(root: Path) -> Path:
    return root / "lib" / "modules" / RELEASE
