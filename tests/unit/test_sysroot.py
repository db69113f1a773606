"""Sysroot: chroot-like lookups on small trees made here (against the kernel's and on the
real s390x sysroot: tests/e2e/test_sysroot_real.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from composer.errors import InputError, ResolveError
from composer.resolve.sysroot import MAX_LD_SO_CONFS, Sysroot
from elffactory import symlink, write_elf


def tree(root: Path, files: dict[str, str], links: dict[str, str]) -> Sysroot:
    for path, text in files.items():
        host = root / path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(text)
    for path, target in links.items():
        symlink(root / path.lstrip("/"), target)
    return Sysroot(root)


def test_absolute_and_relative_links_stay_in_the_sysroot(tmp_path: Path) -> None:
    root = tmp_path / "root"
    sysroot = tree(
        root,
        {"/usr/lib/libc.so.6": "inside", "/etc/passwd": "sysroot's passwd"},
        {"/lib": "usr/lib", "/lib/libabs.so": "/usr/lib/libc.so.6",
         "/usr/lib/escape": "/../../../etc/passwd", "/usr/lib/climb": "../../../../../etc/passwd"},
    )
    assert sysroot.resolve("/lib/libc.so.6") == "/usr/lib/libc.so.6"
    assert sysroot.readlink_chain("/lib/libabs.so") == [
        ("/lib", "usr/lib"), ("/usr/lib/libabs.so", "/usr/lib/libc.so.6"),
    ]
    # `..` at the root stays at the root, as in a chroot: the sysroot's passwd, never the host's.
    for path in ("/usr/lib/escape", "/lib/climb"):
        assert sysroot.resolve(path) == "/etc/passwd"
        assert sysroot.host(path) == root / "etc/passwd"
        assert sysroot.host(path).read_text() == "sysroot's passwd"


def test_escape_to_an_outside_file_is_not_found(tmp_path: Path) -> None:
    """A relative link that would reach a real file next to the sysroot on the host."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("host file")
    sysroot = tree(tmp_path / "root", {}, {"/lib/libc.so.6": "../../outside/secret"})
    assert (tmp_path / "root/lib/libc.so.6").read_text() == "host file"  # the host follows it
    assert not sysroot.exists("/lib/libc.so.6")
    with pytest.raises(ResolveError) as caught:
        sysroot.host("/lib/libc.so.6")
    message = str(caught.value)
    assert "/lib/libc.so.6 (/outside is missing) does not exist in the sysroot" in message
    assert "via /lib/libc.so.6 -> ../../outside/secret" in message


def test_symlink_loop_is_named_with_its_chain(tmp_path: Path) -> None:
    sysroot = tree(tmp_path, {}, {"/lib/a.so": "b.so", "/lib/b.so": "/lib/a.so"})
    with pytest.raises(ResolveError) as caught:
        sysroot.resolve("/lib/a.so")
    message = str(caught.value)
    assert "too many levels of symbolic links resolving /lib/a.so" in message
    assert "/lib/a.so -> b.so, /lib/b.so -> /lib/a.so" in message
    with pytest.raises(ResolveError, match="too many levels"):
        sysroot.exists("/lib/a.so/x")


def test_dotdot_follows_the_link_first(tmp_path: Path) -> None:
    """/lib/../x with /lib -> usr/lib is /usr/x, as the kernel walks it (not /x)."""
    sysroot = tree(tmp_path, {"/usr/x": "", "/x": ""}, {"/lib": "usr/lib"})
    (tmp_path / "usr/lib").mkdir()
    assert sysroot.resolve("/lib/../x") == "/usr/x"
    assert sysroot.is_dir("/") and sysroot.is_dir("/lib/..")
    assert not sysroot.exists("/x/..")  # ENOTDIR, as in the kernel
    assert sysroot.listdir("/") == ["lib", "usr", "x"]
    assert sysroot.glob("/*/x") == ["/usr/x"]


def test_missing_paths_and_files_used_as_directories(tmp_path: Path) -> None:
    sysroot = tree(tmp_path, {"/bin/busybox": "", "/bin/bash": ""}, {})
    assert not sysroot.exists("/bin/bsybox")
    lookup = sysroot.lookup("/bin/nothing/else", strict=False)
    assert (lookup.found, lookup.canonical) == (False, "/bin/nothing/else")
    with pytest.raises(ResolveError, match="nearest names in /bin: busybox"):
        sysroot.resolve("/bin/busybx")
    with pytest.raises(ResolveError, match="/bin/busybox is a file, not a directory"):
        sysroot.resolve("/bin/busybox/sh")
    assert not sysroot.is_file("/bin/busybox/sh")
    with pytest.raises(InputError, match="not an absolute path"):
        sysroot.resolve("bin/busybox")
    with pytest.raises(InputError, match="is not a directory"):
        Sysroot(tmp_path / "bin/busybox")


def test_find_program_along_path(tmp_path: Path) -> None:
    write_elf(tmp_path / "usr/bin/kexec")
    write_elf(tmp_path / "sbin/kexec")
    write_elf(tmp_path / "sbin/modprobe", mode=0o644)  # not executable: execvp skips it
    write_elf(tmp_path / "bin/modprobe")
    symlink(tmp_path / "usr/sbin/ip", "/bin/ip")
    write_elf(tmp_path / "bin/ip")
    sysroot = Sysroot(tmp_path)
    assert sysroot.find_program("kexec") == "/usr/bin/kexec"
    assert sysroot.find_program("modprobe") == "/bin/modprobe"
    assert sysroot.find_program("ip") == "/usr/sbin/ip"  # the PATH name, not the link target
    with pytest.raises(ResolveError) as caught:
        sysroot.find_program("kexce")
    message = str(caught.value)
    assert "program 'kexce' not found" in message
    assert "/usr/sbin, /usr/bin, /sbin, /bin" in message
    assert "nearest names: kexec" in message
    with pytest.raises(InputError, match="bare name"):
        sysroot.find_program("bin/kexec")


def test_ld_so_conf_with_nested_includes(tmp_path: Path) -> None:
    sysroot = tree(
        tmp_path,
        {
            "/etc/ld.so.conf": "# comment\ninclude /etc/ld.so.conf.d/*.conf\n/opt/first/\n",
            "/etc/ld.so.conf.d/a.conf": "/usr/local/lib/s390x-linux-gnu  # multiarch\n"
                                        "include more/*.conf\nhwcap 0 nosegneg\n",
            "/etc/ld.so.conf.d/b.conf": "/x/lib,/y/lib:/z/lib\n",
            "/etc/ld.so.conf.d/.hidden.conf": "/hidden\n",
            "/etc/ld.so.conf.d/notes.txt": "/not/a/conf\n",
            "/etc/ld.so.conf.d/more/c.conf": "/nested/lib\ninclude /etc/ld.so.conf\n",
        },
        {},
    )
    assert sysroot.ld_so_conf_dirs() == [
        "/usr/local/lib/s390x-linux-gnu", "/nested/lib", "/x/lib", "/y/lib", "/z/lib",
        "/opt/first",
    ]


def test_ld_so_conf_missing_falls_back_to_conf_d(tmp_path: Path) -> None:
    sysroot = tree(tmp_path, {"/etc/ld.so.conf.d/s390x.conf": "/lib/s390x-linux-gnu\n"}, {})
    assert sysroot.ld_so_conf_dirs() == ["/lib/s390x-linux-gnu"]
    assert Sysroot(tmp_path / "etc/ld.so.conf.d").ld_so_conf_dirs() == []


def test_a_self_including_ld_so_conf_glob_ends(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "ld.so.conf.d").mkdir(parents=True)
    (etc / "ld.so.conf").write_text("include /etc/ld.so.conf\ninclude /etc/*\n/usr/lib/a\n")
    (etc / "ld.so.conf.d" / "b.conf").write_text("include ../ld.so.conf\n/usr/lib/b\n")
    (etc / "loop.conf").write_text("include /etc/*.conf\ninclude ld.so.conf.d/*.conf\n")
    os.mkfifo(etc / "initctl")  # a FIFO the glob matches: skipped, not waited on
    assert Sysroot(tmp_path).ld_so_conf_dirs() == ["/usr/lib/b", "/usr/lib/a"]


def test_an_ld_so_conf_include_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "ld.so.conf").write_text("include /etc/big.conf\n")
    with open(tmp_path / "etc" / "big.conf", "wb") as f:
        f.truncate(2 << 20)
    with pytest.raises(ResolveError, match=r"big\.conf in the sysroot .* is over 1,048,576"):
        Sysroot(tmp_path).ld_so_conf_dirs()


def test_ld_so_conf_files_including_each_other_by_glob(tmp_path: Path) -> None:
    """Each file includes all the others: the walk nests as deep as there are files
    (far past Python's recursion limit) and still reads each file once, in order."""
    count = 1500
    files = {f"/etc/ld.so.conf.d/{n:04}.conf": f"/lib/{n:04}\ninclude /etc/ld.so.conf.d/*.conf\n"
             for n in range(count)}
    sysroot = tree(tmp_path, {"/etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n", **files},
                   {})
    dirs = sysroot.ld_so_conf_dirs()
    assert dirs[:3] == ["/lib/0000", "/lib/0001", "/lib/0002"]
    assert len(dirs) == MAX_LD_SO_CONFS - 1  # ld.so.conf itself is one of the files read
