"""Binary closure: small sysroots made of tiny ELF files (the real Debian s390x one is
tests/e2e/test_binaries_sysroot.py).

Results are checked from the image's side: `ImageView` (tests/imageview.py) follows the
produced symlink entries the way the kernel would inside the unpacked initramfs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from composer.errors import ResolveError
from composer.manifest import Kind
from composer.resolve.binaries import BinaryRequest, resolve_binaries
from composer.resolve.elf import Arch, read_elf
from composer.resolve.sysroot import Sysroot
from elffactory import (
    EM_S390,
    EM_X86_64,
    ET_EXEC,
    TEST_APPLETS,
    busybox_payload,
    symlink,
    write_elf,
)
from imageview import ImageView, paths

S390X: dict[str, Any] = {"elf_class": 64, "byte_order": "big", "machine": EM_S390}
S390_31: dict[str, Any] = {"elf_class": 32, "byte_order": "big", "machine": EM_S390}
X86_64: dict[str, Any] = {"elf_class": 64, "byte_order": "little", "machine": EM_X86_64}
LD = "/lib/ld64.so.1"


def base_sysroot(root: Path, *, merged: bool = False) -> Sysroot:
    """A Debian-like s390x tree: /lib/ld64.so.1 -> s390x-linux-gnu/ld64.so.1 and libc."""
    usr = "usr/" if merged else ""
    if merged:
        for top in ("lib", "bin", "sbin"):
            (root / "usr" / top).mkdir(parents=True)
            symlink(root / top, f"usr/{top}")
    write_elf(root / f"{usr}lib/s390x-linux-gnu/ld64.so.1", soname="ld64.so.1", **S390X)
    symlink(root / f"{usr}lib/ld64.so.1", "s390x-linux-gnu/ld64.so.1")
    write_elf(root / f"{usr}lib/s390x-linux-gnu/libc.so.6", mode=0o644, soname="libc.so.6",
              needed=["ld64.so.1"], interp=LD, **S390X)
    return Sysroot(root)


def program(root: Path, path: str, **fields: Any) -> Path:
    merged_fields: dict[str, Any] = {"interp": LD, "needed": ["libc.so.6"], **S390X}
    merged_fields.update(fields)
    return write_elf(root / path.lstrip("/"), **merged_fields)


@pytest.mark.parametrize("merged", [False, True], ids=["split-usr", "merged-usr"])
def test_interpreter_and_library_chain(tmp_path: Path, merged: bool) -> None:
    sysroot = base_sysroot(tmp_path, merged=merged)
    usr = "usr/" if merged else ""
    program(tmp_path, f"/{usr}sbin/kexec", needed=["libz.so.1", "libc.so.6"])
    write_elf(tmp_path / "usr/lib/s390x-linux-gnu/libz.so.1.2.13", mode=0o644,
              soname="libz.so.1", needed=["libc.so.6"], **S390X)
    symlink(tmp_path / "usr/lib/s390x-linux-gnu/libz.so.1", "libz.so.1.2.13")

    entries = resolve_binaries(sysroot, ["kexec"], target=Arch.from_name("s390x"))
    image = ImageView(entries)
    by_path = paths(entries)
    lib = "/usr/lib" if merged else "/lib"
    assert by_path[f"{lib}/ld64.so.1"].target == "s390x-linux-gnu/ld64.so.1"
    assert by_path[f"{lib}/s390x-linux-gnu/ld64.so.1"].kind is Kind.FILE
    assert by_path["/usr/lib/s390x-linux-gnu/libz.so.1"].target == "libz.so.1.2.13"
    if merged:
        assert by_path["/lib"].target == "usr/lib"
        assert "/usr/sbin/kexec" in by_path  # PATH has /usr/sbin first: no /sbin link needed
    kexec = "/usr/sbin/kexec" if merged else "/sbin/kexec"
    for path in (kexec, LD, "/lib/s390x-linux-gnu/libc.so.6",
                 "/usr/lib/s390x-linux-gnu/libz.so.1"):
        source = image.file(path).source
        assert source is not None and read_elf(source).arch.name == "s390x"
    # permission bits of the source, owned by root, and which request brought it
    assert image.file("/lib/s390x-linux-gnu/libc.so.6").mode == 0o644
    assert image.file(kexec).mode == 0o755
    assert all(e.uid == 0 and e.gid == 0 and e.origin == "binaries: kexec" for e in entries
               if e.path != "/etc/ld.so.cache")  # the cache: tests/unit/test_ldcache.py


def test_wrong_architecture_library_earlier_on_the_path_is_skipped(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    program(tmp_path, "/bin/prog", needed=["libfoo.so.1", "libc.so.6"])
    # Found first along the default dirs, but for the wrong machine, class or byte order.
    write_elf(tmp_path / "lib/s390x-linux-gnu/libfoo.so.1", soname="libfoo.so.1", **X86_64)
    write_elf(tmp_path / "usr/lib/s390x-linux-gnu/libfoo.so.1", soname="libfoo.so.1",
              **S390_31)
    write_elf(tmp_path / "lib64/libfoo.so.1", soname="libfoo.so.1", elf_class=64,
              byte_order="little", machine=EM_S390)
    (tmp_path / "usr/lib64").mkdir()
    (tmp_path / "usr/lib64/libfoo.so.1").write_text("INPUT(-lfoo)\n")  # a linker script
    good = write_elf(tmp_path / "usr/lib/libfoo.so.1", soname="libfoo.so.1", **S390X)

    entries = resolve_binaries(sysroot, ["/bin/prog"])
    assert ImageView(entries).file("/usr/lib/libfoo.so.1").source == good
    assert not any(e.path.endswith("-linux-gnu/libfoo.so.1") or "lib64" in e.path
                   for e in entries)


def test_missing_library_says_where_it_looked(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    program(tmp_path, "/bin/prog", needed=["libfoo.so.1"], runpath="/opt/foo/lib")
    write_elf(tmp_path / "lib/s390x-linux-gnu/libfoo.so.1", **X86_64)
    write_elf(tmp_path / "usr/lib/libfoo.so.2", **S390X)
    with pytest.raises(ResolveError) as caught:
        resolve_binaries(sysroot, ["/bin/prog"])
    message = str(caught.value)
    assert "library libfoo.so.1 needed by /bin/prog (binaries: /bin/prog)" in message
    assert "searched /opt/foo/lib (RUNPATH of /bin/prog), /lib/s390x-linux-gnu" in message
    assert "/usr/lib64, /lib, /usr/lib" in message
    assert "skipped /lib/s390x-linux-gnu/libfoo.so.1 (x86_64)" in message
    assert "nearest names: libfoo.so.2" in message


def test_runpath_with_origin_and_rpath_inheritance(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    # RUNPATH with both spellings of $ORIGIN; the RPATH beside it must be ignored.
    program(tmp_path, "/opt/app/bin/app", needed=["libapp.so", "libc.so.6"],
            runpath="$ORIGIN/../lib:${ORIGIN}/../plugins", rpath="/decoy")
    write_elf(tmp_path / "decoy/libapp.so", **S390X)
    # libapp has only an RPATH; $ORIGIN there is libapp's own directory.
    write_elf(tmp_path / "opt/app/lib/libapp.so", needed=["libdeep.so"],
              rpath="$ORIGIN/private", **S390X)
    write_elf(tmp_path / "opt/app/lib/private/libdeep.so", needed=["libplug.so"], **S390X)
    write_elf(tmp_path / "opt/app/plugins/libplug.so", **S390X)
    with pytest.raises(ResolveError, match=r"library libplug\.so needed by "
                       r"/opt/app/lib/private/libdeep\.so"):
        # RUNPATH applies to the executable's direct needs only, not to libdeep's.
        resolve_binaries(sysroot, ["/opt/app/bin/app"])
    write_elf(tmp_path / "opt/app/lib/private/libplug.so", **S390X)
    image = ImageView(resolve_binaries(sysroot, ["/opt/app/bin/app"]))
    assert image.resolve("/opt/app/lib/libapp.so") is not None
    assert image.resolve("/opt/app/lib/private/libplug.so") is not None  # via libapp's RPATH
    assert image.resolve("/decoy/libapp.so") is None
    assert image.resolve("/opt/app/plugins/libplug.so") is None


def test_rpath_of_the_loader_chain(tmp_path: Path) -> None:
    """Without RUNPATH anywhere, the executable's RPATH serves its libraries' needs too."""
    sysroot = base_sysroot(tmp_path)
    program(tmp_path, "/usr/bin/tool", needed=["libone.so"], rpath="/opt/rp")
    write_elf(tmp_path / "opt/rp/libone.so", needed=["libtwo.so"], **S390X)
    write_elf(tmp_path / "opt/rp/libtwo.so", **S390X)
    image = ImageView(resolve_binaries(sysroot, ["/usr/bin/tool"]))
    assert image.resolve("/opt/rp/libtwo.so") is not None
    # A library with a RUNPATH of its own no longer sees the executable's RPATH.
    write_elf(tmp_path / "opt/rp/libone.so", needed=["libtwo.so"], runpath="/nowhere", **S390X)
    with pytest.raises(ResolveError, match=r"searched /nowhere \(RUNPATH of /opt/rp/libone.so\)"):
        resolve_binaries(Sysroot(tmp_path), ["/usr/bin/tool"])


def test_needed_name_matches_a_loaded_soname(tmp_path: Path) -> None:
    """libc needs the loader by its SONAME; ld.so has it loaded already, no search."""
    write_elf(tmp_path / "opt/rt/ld-rt.so.1", soname="ld-rt.so.1", **S390X)
    write_elf(tmp_path / "opt/rt/libc.so.6", needed=["ld-rt.so.1"], **S390X)
    program(tmp_path, "/bin/prog", interp="/opt/rt/ld-rt.so.1", runpath="/opt/rt")
    entries = paths(resolve_binaries(Sysroot(tmp_path), ["/bin/prog"]))
    assert set(entries) == {"/bin/prog", "/opt/rt/ld-rt.so.1", "/opt/rt/libc.so.6"}


def test_wrong_architecture_binary_is_refused(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    write_elf(tmp_path / "bin/busybox", type=ET_EXEC, **X86_64)
    program(tmp_path, "/sbin/kexec")
    with pytest.raises(ResolveError) as caught:
        resolve_binaries(sysroot, ["busybox"], target=Arch.from_name("s390x"))
    assert "/bin/busybox (binaries: busybox) is built for x86_64, but the image is for " \
           "s390x" in str(caught.value)
    with pytest.raises(ResolveError, match=r"built for x86_64, but the image is for s390x "
                       r"\(the architecture of /sbin/kexec\)"):
        resolve_binaries(sysroot, ["/sbin/kexec", "/bin/busybox"])


def test_escaping_and_looping_library_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    sysroot = base_sysroot(root)
    write_elf(tmp_path / "outside/libesc.so", **S390X)  # a perfect match, outside the root
    symlink(root / "lib/s390x-linux-gnu/libesc.so", "../../../../outside/libesc.so")
    symlink(root / "usr/lib/libesc.so", "/../../outside/libesc.so")
    program(root, "/bin/esc", needed=["libesc.so"])
    with pytest.raises(ResolveError, match=r"library libesc\.so needed by /bin/esc"):
        resolve_binaries(sysroot, ["/bin/esc"])

    symlink(root / "lib/s390x-linux-gnu/libloop.so", "libloop2.so")
    symlink(root / "lib/s390x-linux-gnu/libloop2.so", "/lib/s390x-linux-gnu/libloop.so")
    program(root, "/bin/loop", needed=["libloop.so"])
    with pytest.raises(ResolveError) as caught:
        resolve_binaries(sysroot, ["/bin/loop"])
    assert "too many levels of symbolic links resolving /lib/s390x-linux-gnu/libloop.so" in \
        str(caught.value)
    assert "libloop2.so -> /lib/s390x-linux-gnu/libloop.so" in str(caught.value)


def test_missing_program_names_the_nearest(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    program(tmp_path, "/sbin/kexec")
    with pytest.raises(ResolveError, match=r"program 'kexek' not found.*nearest names: kexec"):
        resolve_binaries(sysroot, ["kexek"])
    with pytest.raises(ResolveError, match=r"/sbin/kexek does not exist.*nearest names in "
                       r"/sbin: kexec"):
        resolve_binaries(sysroot, ["/sbin/kexek"])
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/motd").write_text("hello")
    with pytest.raises(ResolveError, match="neither an ELF program nor a #! script"):
        resolve_binaries(sysroot, ["/etc/motd"])


def test_scripts_bring_their_interpreter(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    program(tmp_path, "/bin/dash")
    symlink(tmp_path / "bin/sh", "dash")
    script = tmp_path / "usr/share/udhcpc/default.script"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh -e\necho bound\n")
    script.chmod(0o750)
    entries = resolve_binaries(sysroot, ["/usr/share/udhcpc/default.script"])
    image = ImageView(entries)
    assert image.file("/usr/share/udhcpc/default.script").mode == 0o750
    assert image.file("/bin/sh").source == tmp_path / "bin/dash"
    assert image.resolve("/lib/s390x-linux-gnu/libc.so.6") is not None
    assert paths(entries)["/bin/dash"].origin == (
        "binaries: /usr/share/udhcpc/default.script "
        "(interpreter of /usr/share/udhcpc/default.script)"
    )


def test_dest_moves_the_program_but_not_its_origin_libraries(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    program(tmp_path, "/usr/sbin/helper")
    entries = paths(resolve_binaries(sysroot, [BinaryRequest("helper", dest="/init")]))
    assert entries["/init"].source == tmp_path / "usr/sbin/helper"
    assert "/usr/sbin/helper" not in entries
    program(tmp_path, "/opt/x/bin/x", runpath="$ORIGIN/../lib")
    with pytest.raises(ResolveError, match=r"\(\$ORIGIN\), so it cannot move to /init"):
        resolve_binaries(sysroot, [BinaryRequest("/opt/x/bin/x", dest="/init")])


@pytest.mark.parametrize("merged", [False, True], ids=["split-usr", "merged-usr"])
def test_busybox_applets_all(tmp_path: Path, merged: bool) -> None:
    sysroot = base_sysroot(tmp_path, merged=merged)
    busybox = write_elf(tmp_path / ("usr/bin/busybox" if merged else "bin/busybox"),
                        type=ET_EXEC, payload=busybox_payload(TEST_APPLETS), **S390X)
    entries = resolve_binaries(sysroot, [BinaryRequest("/bin/busybox", applets="all")])
    image = ImageView(entries)
    prefix = "/usr" if merged else ""
    by_path = paths(entries)
    for name, loc in TEST_APPLETS.items():
        if loc == 0:
            assert image.resolve(f"/{name}") is None  # linuxrc: an initrd's, not ours
            continue
        where = ["/", "/bin", "/sbin", "/usr/bin", "/usr/sbin"][loc]
        path = f"{where}/{name}"
        assert image.file(path).source == busybox, path
        canonical = path if where.startswith("/usr") else prefix + path
        assert by_path[canonical].target == "/bin/busybox"


def test_busybox_named_applets(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    write_elf(tmp_path / "bin/busybox", type=ET_EXEC, payload=busybox_payload(TEST_APPLETS),
              **S390X)
    program(tmp_path, "/bin/dash")
    symlink(tmp_path / "bin/sh", "dash")
    (tmp_path / "init").write_text("#!/bin/sh\nexec sh\n")
    entries = paths(resolve_binaries(sysroot, [
        "/init", BinaryRequest("/bin/busybox", applets=["sh", "udhcpc"]),
    ]))
    assert entries["/bin/sh"].target == "/bin/busybox"  # the applet, not the sysroot's dash
    assert entries["/sbin/udhcpc"].target == "/bin/busybox"
    assert "/bin/dash" not in entries
    with pytest.raises(ResolveError, match=r"has no applet udhcp \(nearest: udhcpc\)"):
        resolve_binaries(sysroot, [BinaryRequest("/bin/busybox", applets=["udhcp"])])


def test_explicit_binary_wins_over_applets_all(tmp_path: Path) -> None:
    sysroot = base_sysroot(tmp_path)
    write_elf(tmp_path / "bin/busybox", type=ET_EXEC, payload=busybox_payload(TEST_APPLETS),
              **S390X)
    program(tmp_path, "/sbin/modprobe")
    entries = paths(resolve_binaries(sysroot, [
        BinaryRequest("/bin/busybox", applets="all"), "/sbin/modprobe",
    ]))
    assert entries["/sbin/modprobe"].kind is Kind.FILE
    with pytest.raises(ResolveError, match="two binaries want /sbin/modprobe"):
        resolve_binaries(sysroot, [
            BinaryRequest("/bin/busybox", applets=["modprobe"]), "/sbin/modprobe",
        ])
