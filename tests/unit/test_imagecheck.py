"""The image's self-check, rule by rule, on small real images: ELF files made by
tests/elffactory.py, modules by tests/modtree.py, each tree checked twice, from the
plan's entries and from the archive written of them (the path `inspect --check` reads),
and the two must agree."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from composer.archive.codec import Codec, Compression
from composer.archive.reader import InitramfsReader
from composer.archive.segments import write_initramfs
from composer.build.check import check_build
from composer.errors import RecipeError
from composer.manifest import Entry, Kind, Manifest
from composer.read.imagecheck import Finding, check_image
from composer.read.imagetree import tree_of_archive, tree_of_entries
from composer.recipe import load_recipe
from elffactory import ET_EXEC, make_elf
from modtree import module_elf

LOADER = "/lib/ld64.so.1"
BUSYBOX = make_elf(type=ET_EXEC)  # static: no interpreter, no libraries


def file(path: str, data: bytes, mode: int = 0o755, origin: str = "") -> Entry:
    return Entry(path, Kind.FILE, mode, data=data, origin=origin)


def link(path: str, target: str, origin: str = "") -> Entry:
    return Entry(path, Kind.SYMLINK, target=target, origin=origin)


def base() -> list[Entry]:
    """A bootable image: a shell script /init served by a static busybox."""
    return [file("/init", b"#!/bin/sh\necho hello\n"), file("/bin/busybox", BUSYBOX),
            link("/bin/sh", "busybox")]


def findings(entries: list[Entry], cmdline: str | None = None) -> list[Finding]:
    """The findings from the entries, checked to be the archive's findings too."""
    placed = Manifest(entries).entries()
    direct = check_image(tree_of_entries(placed, cmdline))
    out = io.BytesIO()
    write_initramfs(placed, Compression(Codec.GZIP), out, epoch=0)
    out.seek(0)
    archived = check_image(tree_of_archive(InitramfsReader(out), cmdline, boot_image=True))
    assert [f.message for f in archived] == [f.message for f in direct]
    return direct


def messages(entries: list[Entry], cmdline: str | None = None) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in findings(entries, cmdline)]


def test_a_bootable_image_has_no_findings() -> None:
    assert messages(base()) == []


def test_init_missing() -> None:
    assert messages(base()[1:]) == ["init: /init is not in the image and the kernel needs it"]


def test_without_init_a_root_or_a_supplement_still_boots() -> None:
    """root= makes the kernel mount a root file system instead; an initramfs written
    alone may be loaded after another one that has the init."""
    assert messages(base()[1:], "console=ttysclp0 root=/dev/vda1") == []
    placed = Manifest(base()[1:]).entries()
    assert check_image(tree_of_entries(placed, None, boot_image=False)) == []


def test_init_not_executable() -> None:
    entries = [file("/init", b"#!/bin/sh\n", mode=0o644), *base()[1:]]
    assert messages(entries) == [
        "init: /init is not executable (mode 0644) and the kernel needs it"]


def test_init_a_dangling_symlink() -> None:
    entries = [link("/init", "/sbin/init"), *base()[1:]]
    assert messages(entries) == ["init: /init is a symlink to /sbin/init that leads nowhere "
                                 "and the kernel needs it"]


def test_rdinit_on_the_command_line_is_the_init_checked() -> None:
    entries = [*base()[1:], file("/sbin/init", b"#!/bin/sh\n")]
    assert messages(entries, "console=ttysclp0 rdinit=/sbin/init") == []
    assert messages(entries, "rdinit=/sbin/nope") == [
        "init: /sbin/nope is not in the image and the kernel (rdinit=) needs it"]


def test_the_newcomers_image_lacks_its_shell() -> None:
    """applets replaced by [vi]: busybox stays, /bin/sh goes; every script needs it."""
    entries = [file("/init", b"#!/bin/sh\n"), file("/sbin/pxeboot", b"#!/bin/sh -e\n"),
               file("/bin/busybox", BUSYBOX), link("/bin/vi", "busybox")]
    assert messages(entries) == [
        "interpreter: /bin/sh is not in the image and /init (#!/bin/sh) and /sbin/pxeboot "
        "(#!/bin/sh) need it"]


def test_a_non_executable_script_needs_nothing() -> None:
    """Library files sourced by the scripts (0644) are not run by the kernel."""
    assert messages([*base(), file("/lib/x.sh", b"#!/bin/bash\n", mode=0o644)]) == []


def test_interpreter_that_is_not_executable() -> None:
    entries = [*base(), file("/bin/awk", b"not a program", mode=0o644),
               file("/bin/script", b"#!/bin/awk -f\n")]
    assert messages(entries) == ["interpreter: /bin/awk is not an executable file and "
                                 "/bin/script (#!/bin/awk) needs it"]


def test_elf_interpreter_missing_and_found_through_links() -> None:
    program = make_elf(type=ET_EXEC, interp=LOADER)
    entries = [*base(), file("/sbin/kexec", program)]
    assert messages(entries) == [
        "interpreter: /lib/ld64.so.1 is not in the image and /sbin/kexec (its ELF "
        "interpreter) needs it"]
    loader = make_elf(soname="ld64.so.1")
    merged_usr = [*entries, link("/lib", "usr/lib"),
                  link("/usr/lib/ld64.so.1", "s390x-linux-gnu/ld64.so.1"),
                  file("/usr/lib/s390x-linux-gnu/ld64.so.1", loader)]
    assert messages(merged_usr) == []


def test_needed_libraries_along_the_default_directories() -> None:
    program = make_elf(type=ET_EXEC, needed=["libc.so.6"])
    entries = [*base(), file("/sbin/kexec", program)]
    assert messages(entries) == [
        "library: libc.so.6 is in none of /lib/s390x-linux-gnu, /usr/lib/s390x-linux-gnu, "
        "/lib64, /usr/lib64, /lib, /usr/lib and /sbin/kexec needs it"]
    libc = file("/lib/s390x-linux-gnu/libc.so.6", make_elf(soname="libc.so.6"), 0o644)
    assert messages([*entries, libc]) == []


def test_a_library_of_another_architecture_does_not_count() -> None:
    program = make_elf(type=ET_EXEC, needed=["libc.so.6"])
    x86 = make_elf(machine=62, byte_order="little", soname="libc.so.6")
    entries = [*base(), file("/sbin/kexec", program), file("/lib/libc.so.6", x86, 0o644)]
    assert [f.missing for f in findings(entries)] == ["libc.so.6"]


def test_libraries_of_libraries_and_runpath_origin() -> None:
    program = make_elf(type=ET_EXEC, needed=["liba.so"], runpath="$ORIGIN/../lib/app")
    liba = make_elf(soname="liba.so", needed=["libb.so"])
    entries = [*base(), file("/opt/bin/app", program),
               file("/opt/lib/app/liba.so", liba, 0o644)]
    assert messages(entries) == [
        "library: libb.so is in none of /lib/s390x-linux-gnu, /usr/lib/s390x-linux-gnu, "
        "/lib64, /usr/lib64, /lib, /usr/lib and /opt/bin/app (through "
        "/opt/lib/app/liba.so) needs it"]
    assert messages([*entries, file("/usr/lib/libb.so", make_elf(), 0o644)]) == []


def test_module_dependencies_from_modules_dep() -> None:
    top = "/lib/modules/6.1.0-50-s390x"
    dep = "kernel/net/virtio_net.ko: kernel/net/net_failover.ko kernel/net/failover.ko\n"
    entries = [*base(), file(f"{top}/kernel/net/virtio_net.ko", module_elf([]), 0o644),
               file(f"{top}/kernel/net/failover.ko", module_elf([]), 0o644),
               file(f"{top}/modules.dep", dep.encode(), 0o644)]
    assert messages(entries) == [
        f"module: {top}/kernel/net/net_failover.ko is not in the image and "
        f"{top}/kernel/net/virtio_net.ko (modules.dep) needs it"]


def test_module_dependencies_from_modinfo_without_modules_dep() -> None:
    top = "/lib/modules/6.1.0-50-s390x"
    entries = [*base(),
               file(f"{top}/virtio_net.ko", module_elf(["depends=net_failover"]), 0o644),
               file(f"{top}/failover.ko", module_elf(["depends="]), 0o644)]
    assert messages(entries) == [
        f"module: module net_failover is not in the image and {top}/virtio_net.ko "
        "(.modinfo depends) needs it"]
    with_it = [*entries, file(f"{top}/net-failover.ko", module_elf([]), 0o644)]
    assert messages(with_it) == []


def test_a_command_link_that_leads_nowhere() -> None:
    entries = [*base(), link("/sbin/modprobe", "/bin/kmod")]
    assert messages(entries) == [
        "link: /bin/kmod is not in the image and /sbin/modprobe (-> /bin/kmod) needs it"]


def test_a_link_loop_is_a_dead_end() -> None:
    entries = [*base(), link("/bin/a", "b"), link("/bin/b", "a")]
    assert sorted(f.missing for f in findings(entries)) == ["/bin/a", "/bin/b"]


def test_hard_links_share_the_facts_of_the_member_with_data() -> None:
    """GNU cpio and dracut write hard links: the data sits on the last one."""
    from composer.cpio import KIND_BITS

    def member(name: str, data: bytes, ino: int = 5, nlink: int = 2,
               mode: int = 0o755) -> bytes:
        fields = [ino, KIND_BITS[Kind.FILE] | mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0,
                  len(name) + 1, 0]
        head = b"070701" + b"".join(b"%08x" % v for v in fields) + name.encode() + b"\0"
        head += b"\0" * (-len(head) % 4)
        return head + data + b"\0" * (-len(data) % 4)

    script = b"#!/bin/missing\n"
    archive = (member("init", b"") + member("bin/again", script)
               + member("TRAILER!!!", b"", ino=0, nlink=1, mode=0))
    tree = tree_of_archive(InitramfsReader(io.BytesIO(archive)))
    found = check_image(tree)
    assert [f.message for f in found] == [
        "/bin/missing is not in the image and /init (#!/bin/missing) and /bin/again "
        "(#!/bin/missing) need it"]


# --- the build's message: the recipe entry to blame ------------------------------------

def _recipes(tmp_path: Path, variant: str) -> Path:
    (tmp_path / "base.yaml").write_text(textwrap.dedent("""\
        binaries:
          - {name: busybox, applets: [sh, ls]}
        files:
          - {path: /etc/motd, content: hi}
        """))
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(variant))
    return path


def _check(tmp_path: Path, variant: str, entries: list[Entry]) -> str:
    loaded = load_recipe(_recipes(tmp_path, variant))
    with pytest.raises(RecipeError) as caught:
        check_build(Manifest(entries).entries(), None, loaded.replaced, loaded.data,
                    str(loaded.path))
    return str(caught.value)


def test_the_variant_that_replaced_the_applets_is_named(tmp_path: Path) -> None:
    message = _check(tmp_path, """\
        extends: base.yaml
        binaries:
          - {name: busybox, applets: [vi]}
        """, [file("/init", b"#!/bin/sh\n"), file("/bin/busybox", BUSYBOX),
              link("/bin/vi", "busybox")])
    assert message == (f"{tmp_path / 'site.yaml'}:3:5: applets: applets of busybox replaced "
                       "here; /bin/sh is gone and /init (#!/bin/sh) needs it")


def test_the_variant_that_removed_busybox_is_named(tmp_path: Path) -> None:
    message = _check(tmp_path, """\
        extends: base.yaml
        binaries:
          - {name: busybox, remove: true}
        """, [file("/init", b"#!/bin/sh\n")])
    assert message.startswith(f"{tmp_path / 'site.yaml'}:3:5: remove: busybox removed here; "
                              "/bin/sh is gone and /init (#!/bin/sh) needs it")


def test_without_a_variant_to_blame_the_needer_is_named(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("files:\n  - {path: /init, mode: 0755, content: \"#!/bin/sh\\n\"}\n")
    loaded = load_recipe(path)
    entries = [file("/init", b"#!/bin/sh\n", origin=loaded.recipe.files[0].at)]
    with pytest.raises(RecipeError) as caught:
        check_build(entries, None, loaded.replaced, loaded.data, str(path))
    assert str(caught.value) == (f"{path}:2:5: files: /bin/sh is not in the image and "
                                 "/init (#!/bin/sh) needs it")
