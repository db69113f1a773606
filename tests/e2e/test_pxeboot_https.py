"""HTTPS that verifies, in the boot script's dry run: curl against a CA the image holds.

The image's boot scripts are rendered with `https_ca` naming a CA made by the test
(tests/testca.py), and run under the host's busybox with the host's Debian curl, as
tests/e2e/test_pxeboot_urls.py does. HTTPS servers on 127.0.0.1 present a good
certificate, a self-signed one, an expired one, one for another name and one from an
unknown CA: the first is fetched, each other one is refused, at once and with its reason;
`https_insecure` fetches anyway and warns at every transfer.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, rendered, serve
from http_server import HttpServer
from testca import DAY, Certificate, TestCA, _now, self_signed

ROOT = Path(__file__).resolve().parents[2]
FACTS = {"siaddr": "127.0.0.1", "boot_file": "pxelinux.0", "ip": "10.0.2.15",
         "mac": "52:54:00:12:34:56"}

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="module")
def ca_file(ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "site-ca.pem"
    path.write_bytes(ca.pem)
    return path


def render(dest: Path, *settings: str) -> Path:
    return rendered(dest, ROOT / "recipes" / "pxelinux.yaml", "--set", "http_retries=2",
                    "--set", "http_retry_delay=0", *settings)


@pytest.fixture(scope="module")
def image_root(ca_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("rendered"), "--set", f"https_ca={ca_file}",
                  "--allow-path", str(ca_file.parent))



def run(image_root: Path, applets: Path, tftp: Path) -> subprocess.CompletedProcess[str]:
    # PXE_KERNEL_CHECK=0: the files served are stand-ins, not s390 kernels.
    environment = {"PATH": f"{applets}:/usr/bin:/bin", "PXE_VERBOSITY": "1",
                   "PXE_KERNEL_CHECK": "0", **FACTS}
    return subprocess.run([BUSYBOX, "sh", str(image_root / "sbin" / "pxeboot"), "--dry-run",
                           "--tftp-root", str(tftp)], env=environment, capture_output=True,
                          text=True, timeout=60, check=False)


def entry(kernel: str, initrd: str) -> str:
    return f"DEFAULT x\nLABEL x\n KERNEL {kernel}\n INITRD {initrd}\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The TFTP root (the config) and the web root (kernel, initrd)."""
    serve(tmp_path / "www", {"vmlinuz": "k", "initrd.img": "i"})
    (tmp_path / "tftp").mkdir()
    return tmp_path


def https(site: Path, cert: Certificate) -> HttpServer:
    return HttpServer(site / "www", tls=cert.context(site / "tls"))


def boot_over(site: Path, server: HttpServer, image_root: Path, applets: Path,
              host: str = "127.0.0.1") -> subprocess.CompletedProcess[str]:
    serve(site / "tftp", {"pxelinux.cfg/default": entry(server.url("vmlinuz", host),
                                                        server.url("initrd.img", host))})
    return run(image_root, applets, site / "tftp")


def test_good_certificate_fetches(ca: TestCA, site: Path, image_root: Path,
                                  applets: Path) -> None:
    with https(site, ca.issue(["127.0.0.1"])) as server:
        boot = boot_over(site, server, image_root, applets)
        assert server.requests == ["GET /vmlinuz", "GET /initrd.img"]
    assert boot.returncode == 0, boot.stderr
    assert f"kernel={server.url('vmlinuz')}" in boot.stdout
    assert f"initrd={server.url('initrd.img')}" in boot.stdout
    assert "warning" not in boot.stderr


def test_a_dns_name_is_verified_too(ca: TestCA, site: Path, image_root: Path,
                                    applets: Path) -> None:
    """localhost resolves to 127.0.0.1: the name checked is the one in the URL."""
    with https(site, ca.issue(["localhost"])) as server:
        boot = boot_over(site, server, image_root, applets, host="localhost")
    assert boot.returncode == 0, boot.stderr


def refused(boot: subprocess.CompletedProcess[str], url: str, reason: str) -> None:
    assert boot.returncode == 1
    assert f"cannot fetch kernel '{url}' refused: {reason}" in boot.stderr, boot.stderr
    assert "attempts" not in boot.stderr  # a refusal is final, not retried


@pytest.mark.parametrize(("kind", "reason"), [
    ("self-signed", "self-signed certificate"),
    ("expired", "certificate has expired (this system's clock says "),
    ("not yet valid", "certificate is not yet valid (this system's clock says "),
    ("wrong name", "no alternative certificate subject name matches target host name "
                   "'127.0.0.1'"),
    ("unknown CA", "unable to get local issuer certificate"),
])
def test_bad_certificates_are_refused_with_their_reason(
        ca: TestCA, site: Path, image_root: Path, applets: Path, kind: str,
        reason: str) -> None:
    now = _now()
    cert = {"self-signed": lambda: self_signed(["127.0.0.1"]),
            "expired": lambda: ca.issue(["127.0.0.1"], not_before=now - 30 * DAY,
                                        not_after=now - DAY),
            "not yet valid": lambda: ca.issue(["127.0.0.1"], not_before=now + DAY),
            "wrong name": lambda: ca.issue(["boot.example.org"]),
            "unknown CA": lambda: TestCA("another CA").issue(["127.0.0.1"])}[kind]()
    with https(site, cert) as server:
        boot = boot_over(site, server, image_root, applets)
        assert server.requests == []  # not one request went over the unverified channel
    refused(boot, server.url("vmlinuz"), reason)


def test_https_is_not_redirected_to_http(ca: TestCA, site: Path, image_root: Path,
                                         applets: Path) -> None:
    with HttpServer(site / "www") as plain, \
            HttpServer(site / "www", tls=ca.issue(["127.0.0.1"]).context(site / "tls"),
                       redirects={"/vmlinuz": (302, plain.url("vmlinuz"))}) as server:
        boot = boot_over(site, server, image_root, applets)
        assert plain.requests == []
    refused(boot, server.url("vmlinuz"), "Protocol \"http\" not supported or disabled in "
            "libcurl (an https name is only redirected to https)")


def test_without_a_ca_bundle_https_is_refused(site: Path, applets: Path,
                                              tmp_path: Path) -> None:
    """`compose render` has no sysroot, so no Debian bundle: https cannot be verified."""
    bare = render(tmp_path / "bare")
    assert not (bare / "etc/ssl/certs/ca-certificates.crt").exists()
    with https(site, self_signed(["127.0.0.1"])) as server:
        boot = boot_over(site, server, bare, applets)
    refused(boot, server.url("vmlinuz"), "no CA certificates at "
            "/etc/ssl/certs/ca-certificates.crt in this image")


def test_insecure_opt_out_fetches_and_warns_at_every_transfer(
        site: Path, applets: Path, tmp_path: Path) -> None:
    insecure = render(tmp_path / "insecure", "--set", "https_insecure=true")
    with https(site, self_signed(["127.0.0.1"])) as server:
        boot = boot_over(site, server, insecure, applets)
    assert boot.returncode == 0, boot.stderr
    warnings = [line for line in boot.stderr.splitlines()
                if "certificate not verified (https_insecure is set)" in line]
    assert warnings == [
        f"pxeboot: warning: '{server.url(name)}': certificate not verified (https_insecure "
        "is set): anyone on the path can hand over another file"
        for name in ("vmlinuz", "initrd.img")]
