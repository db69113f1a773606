"""`compose inspect --check`: the build's self-check on any image on disk, composer's own
or one GNU cpio packed from the real sysroot's s390x programs, as another tool would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from under_test import compose


def test_the_stock_image_passes_and_the_newcomers_variant_does_not(
        tmp_path: Path, sysroot: Path) -> None:
    good = compose("pxelinux", "--sysroot", sysroot, "-o", "good.0", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    done = compose("inspect", "--check", "good.0", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    assert "good.0: ok" in done.stderr

    (tmp_path / "site.yaml").write_text(
        "extends: pxelinux-minimal\nbinaries: [{name: busybox, applets: [vi]}]\n")
    refused = compose("site.yaml", "--sysroot", sysroot, "-o", "bad.0", cwd=tmp_path)
    assert refused.returncode == 2 and not (tmp_path / "bad.0").exists()
    forced = compose("site.yaml", "--sysroot", sysroot, "-o", "bad.0", "--no-check",
                     cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "compose: warning: the image was not checked (--no-check)" in forced.stderr
    done = compose("inspect", "--check", "bad.0", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "bad.0: interpreter: /bin/sh is not in the image and /init (#!/bin/sh), "
        "/etc/udhcpc/default.script (#!/bin/sh) and /sbin/pxeboot (#!/bin/sh) need it"]
    report = json.loads(compose("inspect", "--check", "--json", "bad.0", cwd=tmp_path).stdout)
    assert report["ok"] is False and report["kind"] == "s390-image"
    assert [(p["rule"], p["path"]) for p in report["problems"]] == [("interpreter", "/bin/sh")]


def _cpio(root: Path, out: Path) -> None:
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-F", str(out)], cwd=root,
                   input="\n".join(names) + "\n", text=True, check=True)


def test_a_foreign_initramfs_missing_the_libraries_of_a_program(
        tmp_path: Path, sysroot: Path) -> None:
    """kexec is dynamic: packed without its loader and libc, the check names them."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "sbin").mkdir()
    shutil.copy(sysroot / "bin/busybox", root / "bin/busybox")
    os.symlink("busybox", root / "bin/sh")
    shutil.copy(sysroot / "sbin/kexec", root / "sbin/kexec")
    (root / "init").write_text("#!/bin/sh\nexec /sbin/kexec -e\n")
    (root / "init").chmod(0o755)
    _cpio(root, tmp_path / "foreign.cpio")
    done = compose("inspect", "--check", "--json", "foreign.cpio", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    problems = {p["path"]: p for p in json.loads(done.stdout)["problems"]}
    assert problems["/lib/ld64.so.1"]["rule"] == "interpreter"
    assert problems["/lib/ld64.so.1"]["needed_by"] == ["/sbin/kexec (its ELF interpreter)"]
    assert problems["libc.so.6"]["rule"] == "library"

    # the same tree with the loader and the libraries kexec names, found as ld.so would
    for name in ("ld64.so.1",):
        (root / "lib").mkdir(exist_ok=True)
        os.symlink(os.readlink(sysroot / "lib" / name), root / "lib" / name)
    multiarch = root / "lib/s390x-linux-gnu"
    multiarch.mkdir()
    for lib in (sysroot / "lib/s390x-linux-gnu").iterdir():
        if lib.name.startswith(("ld64", "libc.so", "libz.so", "liblzma.so", "libzstd.so")):
            shutil.copy(lib, multiarch / lib.name, follow_symlinks=True)
    _cpio(root, tmp_path / "whole.cpio")
    done = compose("inspect", "--check", "whole.cpio", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr
