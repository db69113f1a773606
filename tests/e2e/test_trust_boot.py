"""Trust, for real: recipes/pxelinux.yaml built with a test CA and a signing key,
network-booted by the s390 firmware in qemu-system-s390x (`compose boot`).

The PXELINUX config (signed) comes over TFTP; the kernel and initrds over HTTPS from a
host server on 127.0.0.1 that the guest reaches as 10.0.2.2, presenting a certificate
for IP 10.0.2.2 issued by the test's CA, which the image holds as its `https_ca`. The
image requires signatures. Its DEFAULT label names a tampered initrd (one byte changed,
the original's signature beside it): the console must say it is refused, naming the
file, and ONERROR then boots the good label over the same HTTPS server, verified and
signed, into the second stage.

The certificate is valid from 10 minutes ago for an hour only: that the guest accepts it
shows its clock (the s390 TOD clock, which QEMU sets from the host's) is right to within
that window.
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import under_test
from http_server import HttpServer
from signing import Keys
from testca import TestCA, _now

ROOT = Path(__file__).resolve().parents[2]
MAC = "52:54:00:12:34:56"
MARKER = "STAGE2-CMDLINE<"
pytestmark = [pytest.mark.qemu, pytest.mark.sysroot]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    made = Keys(tmp_path_factory.mktemp("gpg") / "home")
    yield made
    made.close()


@pytest.fixture(scope="module")
def parts(sysroot: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, TestCA]:
    out = tmp_path_factory.mktemp("trust-parts")
    ca = TestCA()
    (out / "site-ca.pem").write_bytes(ca.pem)
    keys.export(out / "keys.gpg")
    for args in ([ROOT / "recipes/pxelinux.yaml", "-o", "pxelinux.0",
                  "--set", "https_ca=site-ca.pem", "--set", "signatures=require",
                  "--set", "signing_keys=keys.gpg", "--set", "on_failure=poweroff",
                  "--allow-path", out],
                 [ROOT / "recipes/stage2.yaml", "--initramfs", "stage2.img"]):
        done = under_test.compose(*args, "--sysroot", sysroot, cwd=out, timeout=300)
        assert done.returncode == 0, done.stderr
    shutil.copy(next((sysroot / "boot").glob("vmlinuz-*")), out / "vmlinuz")
    return out, ca


def test_https_and_signatures_a_tampered_initrd_refused_then_a_good_boot(
        parts: tuple[Path, TestCA], keys: Keys, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out, ca = parts
    www, tftp = tmp_path / "www", tmp_path / "tftp"
    www.mkdir()
    (tftp / "pxelinux.cfg").mkdir(parents=True)
    shutil.copy(out / "pxelinux.0", tftp)
    for name in ("vmlinuz", "stage2.img"):
        shutil.copy(out / name, www / name)
        keys.sign(www / name)
    tampered = bytearray((www / "stage2.img").read_bytes())
    tampered[len(tampered) // 2] ^= 0x01
    (www / "tampered.img").write_bytes(bytes(tampered))
    shutil.copy(www / "stage2.img.sig", www / "tampered.img.sig")
    now = _now()
    cert = ca.issue(["10.0.2.2"], not_before=now - datetime.timedelta(minutes=10),
                    not_after=now + datetime.timedelta(hours=1))
    with HttpServer(www, tls=cert.context(tmp_path / "tls")) as web:
        url = {name: web.url(name, host="10.0.2.2")
               for name in ("vmlinuz", "stage2.img", "tampered.img")}
        config = tftp / "pxelinux.cfg" / "default"
        config.write_text(
            "DEFAULT bad\nONERROR good\n"
            f"LABEL bad\n KERNEL {url['vmlinuz']}\n INITRD {url['tampered.img']}\n"
            " APPEND console=ttysclp0 scenario=bad\n"
            f"LABEL good\n KERNEL {url['vmlinuz']}\n INITRD {url['stage2.img']}\n"
            " APPEND console=ttysclp0 scenario=good\n")
        keys.sign(config)
        done = under_test.compose("boot", tftp / "pxelinux.0", "--tftp", tftp, "--mac", MAC,
                                  "--expect", MARKER, "--timeout", 600, "-v", cwd=tftp,
                                  timeout=660)
        requests = list(web.requests)
    console = done.stdout
    assert done.returncode == 0, console[-4000:] + done.stderr
    assert "Kernel panic" not in console
    refusal = (f"pxeboot: error: initrd '{url['tampered.img']}' bad signature (by key "
               f"{keys.site[-16:]}): the file is not what was signed: refused "
               "(signatures: require)")
    assert refusal in console, console[-4000:]
    # Every file over the verified channel, each with its signature; the good boot ran.
    assert requests == ["GET /vmlinuz", "GET /vmlinuz.sig", "GET /tampered.img",
                        "GET /tampered.img.sig", "GET /vmlinuz", "GET /vmlinuz.sig",
                        "GET /stage2.img", "GET /stage2.img.sig"]
    found = console[console.index(MARKER) + len(MARKER):].split(">", 1)[0]
    words = found.split()  # syslinux 6's line: BOOT_IMAGE=..., then APPEND's words
    assert "scenario=good" in words and "scenario=bad" not in words, found
    with capsys.disabled():
        print(f"\n  [trust] {refusal}")
