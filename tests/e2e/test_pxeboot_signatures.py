"""Signed payloads, in the boot script's dry run: gpgv checks NAME.sig beside each file.

Keys are made by the test with gpg in a temporary GNUPGHOME; the image is rendered with
`signatures` and `signing_keys` (the exported public key), and its boot script runs
under the host's busybox with the host's Debian gpgv, as in the image. Every config
file (INCLUDEs too), kernel and initrd part is checked; under `require` a bad or missing
signature refuses that file with a line naming it, under `warn` it is used after a
warning.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, rendered, serve
from http_server import HttpServer
from signing import Keys
from under_test import compose

ROOT = Path(__file__).resolve().parents[2]
FACTS = {"siaddr": "127.0.0.1", "boot_file": "pxelinux.0", "ip": "10.0.2.15",
         "mac": "52:54:00:12:34:56"}
CONFIG = ("INCLUDE extra.cfg\nDEFAULT x\n"
          "LABEL x\n KERNEL vmlinuz\n INITRD a.img,b.img\n APPEND console=ttysclp0\n")

pytestmark = pytest.mark.skipif(
    not Path(BUSYBOX).exists() or not shutil.which("gpg") or not shutil.which("gpgv"),
    reason="needs busybox, gpg and gpgv")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    made = Keys(tmp_path_factory.mktemp("gpg") / "home")
    yield made
    made.close()



def render(dest: Path, keys: Keys, policy: str) -> Path:
    keyring = keys.export(dest.parent / f"{dest.name}-keys.gpg")
    return rendered(dest, ROOT / "recipes" / "pxelinux.yaml", "--set", f"signatures={policy}",
                    "--set", f"signing_keys={keyring}", "--set", "http_retries=1",
                    "--allow-path", str(keyring.parent))


@pytest.fixture(scope="module")
def require(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("require") / "root", keys, "require")


@pytest.fixture(scope="module")
def warn(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("warn") / "root", keys, "warn")


def run(image_root: Path, applets: Path, tftp: Path) -> subprocess.CompletedProcess[str]:
    # PXE_KERNEL_CHECK=0: the files served are stand-ins, not s390 kernels.
    environment = {"PATH": f"{applets}:/usr/bin:/bin", "PXE_VERBOSITY": "1",
                   "PXE_KERNEL_CHECK": "0", "HOME": str(tftp.parent), **FACTS}
    return subprocess.run([BUSYBOX, "sh", str(image_root / "sbin" / "pxeboot"), "--dry-run",
                           "--tftp-root", str(tftp)], env=environment, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def tftp(tmp_path: Path, keys: Keys) -> Path:
    """A TFTP root where every file is signed by the site's key."""
    root = tmp_path / "tftp"
    serve(root, {"pxelinux.cfg/default": CONFIG, "extra.cfg": "MENU TITLE signed\n",
                 "vmlinuz": b"kernel" * 1000, "a.img": b"a" * 5000, "b.img": b"b" * 300})
    for name in ("pxelinux.cfg/default", "extra.cfg", "vmlinuz", "a.img", "b.img"):
        keys.sign(root / name)
    return root


def tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def refused(boot: subprocess.CompletedProcess[str], line: str) -> None:
    assert boot.returncode == 1, boot.stdout
    assert f"pxeboot: error: {line}: refused (signatures: require)" in boot.stderr, \
        boot.stderr
    assert "kernel=" not in boot.stdout


def test_good_signatures_boot(require: Path, applets: Path, tftp: Path) -> None:
    boot = run(require, applets, tftp)
    assert boot.returncode == 0, boot.stderr
    assert "kernel=vmlinuz" in boot.stdout and "initrd=b.img" in boot.stdout
    assert "signature" not in boot.stderr


@pytest.mark.parametrize(("name", "what"), [("vmlinuz", "kernel"), ("b.img", "initrd"),
                                            ("a.img", "initrd")])
def test_a_tampered_kernel_or_initrd_part_is_refused(
        require: Path, applets: Path, tftp: Path, keys: Keys, name: str, what: str) -> None:
    tamper(tftp / name)
    boot = run(require, applets, tftp)
    refused(boot, f"{what} '{name}' bad signature (by key {keys.site[-16:]}): the file is "
                  "not what was signed")


def test_a_tampered_include_is_refused(require: Path, applets: Path, tftp: Path,
                                       keys: Keys) -> None:
    (tftp / "extra.cfg").write_text("MENU TITLE signed\nALLOWOPTIONS 1\n")
    boot = run(require, applets, tftp)
    refused(boot, f"INCLUDE 'extra.cfg' bad signature (by key {keys.site[-16:]}): the file "
                  "is not what was signed")


def test_a_tampered_config_is_refused(require: Path, applets: Path, tftp: Path,
                                      keys: Keys) -> None:
    tamper(tftp / "pxelinux.cfg/default")
    refused(run(require, applets, tftp), "config 'pxelinux.cfg/default' bad signature (by "
            f"key {keys.site[-16:]}): the file is not what was signed")


def test_a_missing_signature_is_refused(require: Path, applets: Path, tftp: Path) -> None:
    (tftp / "vmlinuz.sig").unlink()
    refused(run(require, applets, tftp),
            f"kernel 'vmlinuz' has no signature: 'vmlinuz.sig' not found under {tftp}")


def test_a_signature_by_another_key_is_refused(require: Path, applets: Path, tftp: Path,
                                               keys: Keys) -> None:
    keys.sign(tftp / "b.img", keys.stranger)
    refused(run(require, applets, tftp),
            f"initrd 'b.img' signed by key {keys.stranger[-16:]}, which is not in the "
            "image's signing_keys")


def test_a_signature_that_is_no_signature_is_refused(require: Path, applets: Path,
                                                     tftp: Path) -> None:
    (tftp / "vmlinuz.sig").write_text("not a signature\n")
    refused(run(require, applets, tftp),
            "kernel 'vmlinuz' has a .sig that is not an OpenPGP signature")


def test_warn_uses_the_file_after_a_warning(warn: Path, applets: Path, tftp: Path,
                                            keys: Keys) -> None:
    tamper(tftp / "vmlinuz")
    (tftp / "b.img.sig").unlink()
    boot = run(warn, applets, tftp)
    assert boot.returncode == 0, boot.stderr
    assert "kernel=vmlinuz" in boot.stdout
    assert (f"pxeboot: warning: 'vmlinuz' bad signature (by key {keys.site[-16:]}): the "
            "file is not what was signed: used anyway (signatures: warn)") in boot.stderr
    assert ("pxeboot: warning: 'b.img' has no signature: 'b.img.sig' not found under "
            f"{tftp}: used anyway (signatures: warn)") in boot.stderr


def test_off_fetches_no_signature(applets: Path, tmp_path: Path) -> None:
    """The stock image checks nothing: no .sig is asked for."""
    plain = tmp_path / "plain"
    assert compose("render", ROOT / "recipes" / "pxelinux.yaml", plain).returncode == 0
    serve(tmp_path / "www", {"vmlinuz": "k"})
    with HttpServer(tmp_path / "www") as web:
        serve(tmp_path / "tftp", {"pxelinux.cfg/default":
                                  f"DEFAULT x\nLABEL x\n KERNEL {web.url('vmlinuz')}\n"})
        boot = run(plain, applets, tmp_path / "tftp")
        assert web.requests == ["GET /vmlinuz"]
    assert boot.returncode == 0, boot.stderr


def test_signatures_over_http_and_an_initrd_refused_whole(
        require: Path, applets: Path, tmp_path: Path, keys: Keys) -> None:
    """Any transport: the .sig comes from beside the file, wherever that is."""
    www = tmp_path / "www"
    serve(www, {"vmlinuz": b"k" * 100, "initrd.img": os.urandom(9000)})
    for name in ("vmlinuz", "initrd.img"):
        keys.sign(www / name)
    with HttpServer(www) as web:
        config = (f"DEFAULT x\nLABEL x\n KERNEL {web.url('vmlinuz')}\n"
                  f" INITRD {web.url('initrd.img')}\n")
        serve(tmp_path / "tftp", {"pxelinux.cfg/default": config})
        keys.sign(tmp_path / "tftp" / "pxelinux.cfg/default")
        boot = run(require, applets, tmp_path / "tftp")
        assert boot.returncode == 0, boot.stderr
        assert web.requests == ["GET /vmlinuz", "GET /vmlinuz.sig", "GET /initrd.img",
                                "GET /initrd.img.sig"]
        tamper(www / "initrd.img")
        boot = run(require, applets, tmp_path / "tftp")
    refused(boot, f"initrd '{web.url('initrd.img')}' bad signature (by key "
            f"{keys.site[-16:]}): the file is not what was signed")
