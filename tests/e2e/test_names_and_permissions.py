"""Names that are not UTF-8 and files the user may not read: issue 14, class 3 (the
self-including ld.so.conf is tests/unit/test_sysroot.py).

Permission cases must run as an unprivileged user, since root reads everything: as
root (CI containers, this machine) the command is run through `setpriv` as nobody,
with a Python and a working directory nobody can reach; they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernelfactory import s390_kernel
from modtree import ModTree, module_elf
from under_test import COMPOSE

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COMPOSER_SYSROOT", None)
    return env


def _unprivileged_python() -> list[str]:
    """A command running composer as nobody: this interpreter if nobody may run it,
    else the system one of the same version, given our site-packages by addsitedir
    (which, unlike PYTHONPATH, runs the editable install's .pth)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    python = next((p for p in (sys.executable, f"/usr/bin/{version}")
                   if _world_runnable(Path(p))), None)
    assert python is not None, f"no {version} that nobody may run"
    dirs = [*site.getsitepackages(), str(ROOT)]
    code = (f"import site, sys, runpy; [site.addsitedir(d) for d in {dirs!r}]; "
            "sys.path.insert(0, " + repr(str(ROOT)) + "); sys.argv[0] = 'compose'; "
            "runpy.run_module('composer', run_name='__main__', alter_sys=True)")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
            python, "-c", code]


def _world_runnable(path: Path) -> bool:
    path = path.resolve()
    return path.exists() and all(p.stat().st_mode & 0o001 for p in path.parents) and \
        bool(path.stat().st_mode & 0o001)


@pytest.fixture()
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged user can enter (pytest's tmp_path is root's own)."""
    path = Path(tempfile.mkdtemp(prefix="composer-perm-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


def run_unprivileged(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = _unprivileged_python() if os.geteuid() == 0 else COMPOSE
    return subprocess.run([*command, *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=120)


def _clean_error(run: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert run.returncode == 2, run.stderr
    text = run.stderr.strip()
    assert text.startswith("compose: error: ") and "\n" not in text, text
    assert "Traceback" not in text and "internal error" not in text, text
    for fragment in fragments:
        assert fragment in text, text


def test_a_source_the_user_may_not_read_is_a_located_input_error(shared_dir: Path) -> None:
    (shared_dir / "vmlinuz").write_bytes(s390_kernel())
    (shared_dir / "secret").write_text("root only\n")
    (shared_dir / "secret").chmod(0)
    (shared_dir / "r.yaml").write_text("files:\n  - {path: /etc/secret, source: secret}\n")
    for path in shared_dir.iterdir():
        if path.name != "secret":
            path.chmod(0o644)
    run = run_unprivileged(["r.yaml", "--kernel", "vmlinuz", "-o", "out.img"], shared_dir)
    _clean_error(run, "secret cannot be read: Permission denied", "r.yaml:2:5")
    assert not (shared_dir / "out.img").exists()


def test_a_recipe_the_user_may_not_read(shared_dir: Path) -> None:
    (shared_dir / "base.yaml").write_text("files: []\n")
    (shared_dir / "base.yaml").chmod(0)
    (shared_dir / "r.yaml").write_text("extends: base.yaml\n")
    (shared_dir / "r.yaml").chmod(0o644)
    run = run_unprivileged(["validate", "r.yaml"], shared_dir)
    _clean_error(run, "base.yaml: recipe cannot be read: Permission denied")


def test_a_sysroot_binary_the_user_may_not_read(shared_dir: Path) -> None:
    (shared_dir / "vmlinuz").write_bytes(s390_kernel())
    (shared_dir / "vmlinuz").chmod(0o644)
    (shared_dir / "sysroot" / "bin").mkdir(parents=True)
    tool = shared_dir / "sysroot" / "bin" / "tool"
    tool.write_bytes(b"\x7fELF" + bytes(60))
    tool.chmod(0o111)  # executable, not readable
    for path in (shared_dir / "sysroot", shared_dir / "sysroot" / "bin"):
        path.chmod(0o755)
    (shared_dir / "r.yaml").write_text("binaries: [tool]\n")
    (shared_dir / "r.yaml").chmod(0o644)
    run = run_unprivileged(["r.yaml", "--sysroot", "sysroot", "--kernel", "vmlinuz",
                            "-o", "out.img"], shared_dir)
    _clean_error(run, "cannot read ", "sysroot/bin/tool: Permission denied")
    tool.chmod(0)
    run = run_unprivileged(["r.yaml", "--sysroot", "sysroot", "--kernel", "vmlinuz",
                            "-o", "out.img"], shared_dir)
    _clean_error(run, "program /bin/tool in the sysroot", "is not executable (mode 0000)")


@pytest.mark.parametrize("option", ["--set", "--cmdline"])
def test_arguments_that_are_not_utf8_are_refused(tmp_path: Path, option: str) -> None:
    (tmp_path / "vmlinuz").write_bytes(s390_kernel())
    (tmp_path / "r.yaml").write_text("variables: {greeting: hi}\n"
                                     'files:\n  - {path: /etc/motd, content: "{{ greeting }}"}\n')
    value = b"greeting=caf\xe9" if option == "--set" else b"console=\xff"
    run = subprocess.run([*map(os.fsencode, COMPOSE), b"r.yaml", b"--kernel", b"vmlinuz",
                          b"-o", b"out.img", option.encode(), value], cwd=tmp_path,
                         env=_env(), capture_output=True, timeout=120)
    stderr = run.stderr.decode(errors="replace")
    assert run.returncode == 2, stderr
    assert stderr.startswith(f"compose: error: {option} ") and "is not UTF-8 text" in stderr
    assert "Traceback" not in stderr and not (tmp_path / "out.img").exists()


def test_a_module_named_in_bytes_that_are_not_utf8_keeps_its_name(tmp_path: Path) -> None:
    """File names in a sysroot are bytes; the image holds the same bytes (the kernel and
    modprobe compare bytes too), whatever the locale thinks of them."""
    if shutil.which("cpio") is None:
        pytest.skip("needs GNU cpio")
    tree = ModTree(tmp_path / "sysroot")
    tree.module("good")
    misc = os.fsencode(tree.directory / "kernel" / "drivers" / "misc")
    with open(misc + b"/caf\xe9.ko", "wb") as f:
        f.write(module_elf(["license=GPL", "depends=", "name=cafe",
                            f"vermagic={tree.release} SMP mod_unload "]))
    (tmp_path / "r.yaml").write_text("modules: [all]\n")
    run = subprocess.run([*COMPOSE, "r.yaml", "--sysroot", "sysroot", "--initramfs",
                          "out.cpio"], cwd=tmp_path, env=_env(), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    names = subprocess.run(["cpio", "-t", "--quiet"], input=(tmp_path / "out.cpio").read_bytes(),
                           capture_output=True, check=True).stdout.split(b"\n")
    assert f"lib/modules/{tree.release}/kernel/drivers/misc/caf".encode() + b"\xe9.ko" in names
