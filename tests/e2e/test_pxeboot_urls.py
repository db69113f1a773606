"""URLs wherever a file name goes, in the boot script's dry run (lpxelinux and petitboot).

The rendered boot script runs under the host's busybox (`busybox sh ROOT/sbin/pxeboot
--dry-run --tftp-root DIR`, busybox applets first on PATH): TFTP names are read from DIR,
URL names are fetched for real by the host's curl (Debian's, as in the image) from
tests/http_server.py (or the FTP server) on 127.0.0.1. The expected names follow
syslinux's lpxelinux (URLs in KERNEL, INITRD, APPEND initrd=, INCLUDE, CONFIG; `::name`
stays TFTP) and petitboot's rules for a URL in DHCP option 209 or 210 (relative names
resolve under it; a leading / or ./ is not absolute).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, rendered, serve
from ftp_server import FtpServer
from http_server import HttpServer

ROOT = Path(__file__).resolve().parents[2]
MAC = "52:54:00:12:34:56"
FACTS = {"siaddr": "127.0.0.1", "boot_file": "pxelinux.0", "ip": "10.0.2.15", "mac": MAC}

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")


@dataclass
class Boot:
    returncode: int
    stdout: str
    stderr: str

    def value(self, key: str) -> str:
        values = [line.split("=", 1)[1] for line in self.stdout.splitlines()
                  if line.startswith(key + "=")]
        assert len(values) == 1, (key, self.stdout, self.stderr)
        return values[0]

    @property
    def initrds(self) -> list[str]:
        return [line[len("initrd="):] for line in self.stdout.splitlines()
                if line.startswith("initrd=")]


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's boot scripts as `compose render` writes them, retries made quick."""
    return rendered(tmp_path_factory.mktemp("rendered"), ROOT / "recipes" / "pxelinux.yaml",
                    "--set", "http_retries=2", "--set", "http_retry_delay=0")



@pytest.fixture
def tftp(tmp_path: Path) -> Path:
    root = tmp_path / "tftp"
    root.mkdir()
    return root


@pytest.fixture
def web(tmp_path: Path) -> Iterator[HttpServer]:
    root = tmp_path / "www"
    root.mkdir()
    with HttpServer(root) as server:
        yield server



def run(image_root: Path, applets: Path, tftp: Path, facts: dict[str, str],
        *extra: str, env: dict[str, str] | None = None) -> Boot:
    # The kernels served here are stand-ins (their names and bytes are what is checked).
    environment = {"PATH": f"{applets}:/usr/bin:/bin", "PXE_VERBOSITY": "1",
                   "PXE_KERNEL_CHECK": "0", **facts, **(env or {})}
    result = subprocess.run([BUSYBOX, "sh", str(image_root / "sbin" / "pxeboot"), "--dry-run",
                             "--tftp-root", str(tftp), *extra], env=environment,
                            capture_output=True, text=True, timeout=60, check=False)
    return Boot(result.returncode, result.stdout, result.stderr)


def ok(boot: Boot) -> Boot:
    assert boot.returncode == 0, boot.stderr
    return boot


def entry(kernel: str, initrd: str = "", append: str = "") -> str:
    text = f"DEFAULT x\nLABEL x\n KERNEL {kernel}\n"
    text += f" INITRD {initrd}\n" if initrd else ""
    return text + (f" APPEND {append}\n" if append else "")


# --- petitboot's URL cases: option 210 and option 209 as URLs --------------------------------


def test_option_210_url_with_a_port_is_the_prefix_of_every_name(
        image_root: Path, applets: Path, tftp: Path, web: HttpServer) -> None:
    """petitboot: option 210 http://host:8080/path/to/ + `kernel ./kernel` is
    .../path/to/kernel and `initrd /initrd` is .../path/to/initrd."""
    prefix = web.url("path/to/")
    serve(web.root, {"path/to/pxelinux.cfg/default": entry("./kernel", "/initrd"),
                     "path/to/kernel": "k", "path/to/initrd": "i"})
    boot = ok(run(image_root, applets, tftp, {**FACTS, "pxepathprefix": prefix}))
    assert boot.value("config") == prefix + "pxelinux.cfg/default"
    assert boot.value("kernel") == prefix + "kernel"
    assert boot.initrds == [prefix + "initrd"]
    # The syslinux lookup order, each candidate under the URL prefix.
    assert web.requests[:3] == ["GET /path/to/pxelinux.cfg/01-52-54-00-12-34-56",
                                "GET /path/to/pxelinux.cfg/0A00020F",
                                "GET /path/to/pxelinux.cfg/0A00020"]
    assert web.requests[-3:] == ["GET /path/to/pxelinux.cfg/default", "GET /path/to/kernel",
                                 "GET /path/to/initrd"]


def test_option_209_url_is_fetched_and_names_resolve_beside_it(
        image_root: Path, applets: Path, tftp: Path, web: HttpServer) -> None:
    serve(web.root, {"configs/s390x.cfg": entry("vmlinuz", "images/initrd.img"),
                     "configs/vmlinuz": "k", "configs/images/initrd.img": "i"})
    conf = web.url("configs/s390x.cfg")
    boot = ok(run(image_root, applets, tftp, {**FACTS, "pxeconffile": conf}))
    assert boot.value("config") == conf
    assert boot.value("kernel") == web.url("configs/vmlinuz")
    assert boot.initrds == [web.url("configs/images/initrd.img")]
    assert web.requests[0] == "GET /configs/s390x.cfg"  # first, as option 209 is


def test_relative_option_209_under_a_url_prefix(image_root: Path, applets: Path, tftp: Path,
                                                web: HttpServer) -> None:
    serve(web.root, {"s390x/special.cfg": entry("vmlinuz"), "s390x/vmlinuz": "k"})
    boot = ok(run(image_root, applets, tftp, {**FACTS, "pxepathprefix": web.url("s390x/"),
                                              "pxeconffile": "special.cfg"}))
    assert boot.value("config") == web.url("s390x/special.cfg")
    assert boot.value("kernel") == web.url("s390x/vmlinuz")


def test_tftp_names_stay_tftp_under_a_url_prefix(image_root: Path, applets: Path, tftp: Path,
                                                  web: HttpServer) -> None:
    """`::name` skips the prefix (and so the URL): a TFTP name on the TFTP server."""
    serve(web.root, {"p/pxelinux.cfg/default": entry("::boot/vmlinuz", "::boot/a.img,b.img")})
    serve(web.root, {"p/b.img": "b"})
    serve(tftp, {"boot/vmlinuz": "k", "boot/a.img": "a"})
    boot = ok(run(image_root, applets, tftp, {**FACTS, "pxepathprefix": web.url("p/")}))
    assert boot.value("kernel") == "boot/vmlinuz"
    assert boot.initrds == ["boot/a.img", web.url("p/b.img")]


# --- every keyword that takes a name ---------------------------------------------------------


def test_kernel_and_initrds_by_absolute_url_from_a_tftp_config(
        image_root: Path, applets: Path, tftp: Path, web: HttpServer) -> None:
    serve(web.root, {"k/vmlinuz": "k", "i/one.img": "1", "i/two.img": "2"})
    config = entry(web.url("k/vmlinuz"), f"{web.url('i/one.img')},{web.url('i/two.img')}",
                   "console=ttysclp0")
    serve(tftp, {"pxelinux.cfg/default": config})
    boot = ok(run(image_root, applets, tftp, FACTS))
    assert boot.value("config") == "pxelinux.cfg/default"
    assert boot.value("kernel") == web.url("k/vmlinuz")
    assert boot.initrds == [web.url("i/one.img"), web.url("i/two.img")]
    assert boot.value("append") == (f"BOOT_IMAGE={web.url('k/vmlinuz')} console=ttysclp0 "
                                     f"initrd={web.url('i/one.img')},{web.url('i/two.img')}")


def test_linux_keyword_and_initrd_in_append(image_root: Path, applets: Path, tftp: Path,
                                            web: HttpServer) -> None:
    serve(web.root, {"vmlinuz": "k", "a.img": "a"})
    serve(tftp, {"pxelinux.cfg/default":
                 f"DEFAULT x\nLABEL x\n LINUX {web.url('vmlinuz')}\n"
                 f" APPEND ro initrd={web.url('a.img')} quiet\n"})
    boot = ok(run(image_root, applets, tftp, FACTS))
    assert boot.value("kernel") == web.url("vmlinuz")
    assert boot.initrds == [web.url("a.img")]
    assert boot.value("append") == \
        f"BOOT_IMAGE={web.url('vmlinuz')} ro initrd={web.url('a.img')} quiet"


def test_include_and_menu_include_by_url(image_root: Path, applets: Path, tftp: Path,
                                         web: HttpServer) -> None:
    serve(web.root, {"inc/labels.cfg": "LABEL fromurl\n KERNEL vmlinuz\n APPEND via=include\n",
                     "inc/menu.cfg": "LABEL frommenu\n KERNEL vmlinuz\n APPEND via=menu\n"})
    serve(tftp, {"vmlinuz": "k", "pxelinux.cfg/default":
                 f"INCLUDE {web.url('inc/labels.cfg')}\nMENU INCLUDE {web.url('inc/menu.cfg')}\n"
                 "DEFAULT fromurl\n"})
    boot = ok(run(image_root, applets, tftp, FACTS))
    assert boot.value("label") == "fromurl"
    assert boot.value("kernel") == "vmlinuz"  # relative: the TFTP prefix, not the URL's
    assert web.count("inc/labels.cfg") == 1 and web.count("inc/menu.cfg") == 1


def test_config_keyword_by_url(image_root: Path, applets: Path, tftp: Path,
                               web: HttpServer) -> None:
    serve(web.root, {"next.cfg": entry(web.url("vmlinuz")), "vmlinuz": "k"})
    serve(tftp, {"pxelinux.cfg/default": f"DEFAULT x\nLABEL x\n CONFIG {web.url('next.cfg')}\n"})
    boot = ok(run(image_root, applets, tftp, FACTS))
    assert boot.value("config") == web.url("next.cfg")
    assert boot.value("kernel") == web.url("vmlinuz")


def test_tftp_url_is_a_tftp_name(image_root: Path, applets: Path, tftp: Path) -> None:
    serve(tftp, {"pxelinux.cfg/default": entry("tftp://127.0.0.1/images/vmlinuz"),
                 "images/vmlinuz": "k"})
    boot = ok(run(image_root, applets, tftp, FACTS))
    assert boot.value("kernel") == "images/vmlinuz"


def test_ftp_url(image_root: Path, applets: Path, tftp: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyftpdlib")
    serve(tmp_path / "ftp", {"vmlinuz": "k", "initrd.img": "i"})
    with FtpServer(tmp_path / "ftp") as ftp:
        serve(tftp, {"pxelinux.cfg/default": entry(ftp.url("vmlinuz"), ftp.url("initrd.img"))})
        boot = ok(run(image_root, applets, tftp, FACTS))
    assert boot.value("kernel") == ftp.url("vmlinuz")
    assert boot.initrds == [ftp.url("initrd.img")]


def test_initrds_from_urls_and_tftp_make_one_padded_file(
        image_root: Path, applets: Path, tftp: Path, web: HttpServer, tmp_path: Path) -> None:
    """Each part is written straight into the one initrd (no second copy), every part but
    the last zero-padded to 4 KiB as syslinux does."""
    serve(web.root, {"a.img": b"a" * 5000, "c.img": b"c" * 7})
    serve(tftp, {"b.img": b"b" * 100, "vmlinuz": "k", "pxelinux.cfg/default":
                 entry("vmlinuz", f"{web.url('a.img')},b.img,{web.url('c.img')}")})
    work = tmp_path / "work"
    ok(run(image_root, applets, tftp, FACTS, "--work-dir", str(work)))
    assert (work / "initrd").read_bytes() == (b"a" * 5000 + bytes(3192) + b"b" * 100 +
                                              bytes(3996) + b"c" * 7)
    assert not (work / "initrd.part").exists()


# --- HTTP behaviour ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307])
def test_redirects_are_followed(image_root: Path, applets: Path, tftp: Path, tmp_path: Path,
                                code: int) -> None:
    serve(tmp_path / "www", {"real/vmlinuz": "k"})
    with HttpServer(tmp_path / "www", redirects={"/old/vmlinuz": (code, "/real/vmlinuz")}) as web:
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("old/vmlinuz"))})
        boot = ok(run(image_root, applets, tftp, FACTS))
        assert web.requests == ["GET /old/vmlinuz", "GET /real/vmlinuz"]
    assert boot.value("kernel") == web.url("old/vmlinuz")


@pytest.mark.parametrize(("hops", "fetched"), [(5, True), (6, False)])
def test_at_most_five_redirects(image_root: Path, applets: Path, tftp: Path, tmp_path: Path,
                                hops: int, fetched: bool) -> None:
    redirects = {f"/r{n}": (302, f"/r{n + 1}") for n in range(hops - 1)}
    redirects[f"/r{hops - 1}"] = (302, "/vmlinuz")
    serve(tmp_path / "www", {"vmlinuz": "k"})
    with HttpServer(tmp_path / "www", redirects=redirects) as web:
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("r0"))})
        boot = run(image_root, applets, tftp, FACTS)
    if fetched:
        assert ok(boot).value("kernel") == web.url("r0")
    else:
        assert boot.returncode == 1
        assert f"cannot fetch kernel '{web.url('r0')}' after more than 5 redirects" in boot.stderr


def test_404_kernel_is_reported_with_its_url(image_root: Path, applets: Path, tftp: Path,
                                              web: HttpServer) -> None:
    serve(tftp, {"pxelinux.cfg/default": entry(web.url("gone/vmlinuz"))})
    boot = run(image_root, applets, tftp, FACTS)
    assert boot.returncode == 1
    assert (f"kernel '{web.url('gone/vmlinuz')}' not found: server returned error: "
            "HTTP/1.1 404 Not Found") in boot.stderr
    assert web.count("gone/vmlinuz") == 1  # an answer is not retried


def test_404_include_is_skipped_with_a_warning(image_root: Path, applets: Path, tftp: Path,
                                                web: HttpServer) -> None:
    serve(tftp, {"vmlinuz": "k", "pxelinux.cfg/default":
                 f"INCLUDE {web.url('missing.cfg')}\n" + entry("vmlinuz")})
    boot = ok(run(image_root, applets, tftp, FACTS))
    assert f"INCLUDE '{web.url('missing.cfg')}' not found" in boot.stderr


def test_refused_connection_is_retried_then_reported(image_root: Path, applets: Path,
                                                     tftp: Path, web: HttpServer) -> None:
    url = web.url("vmlinuz")
    web.stop()  # nothing listens on the port any more
    serve(tftp, {"pxelinux.cfg/default": entry(url)})
    boot = run(image_root, applets, tftp, FACTS)
    assert boot.returncode == 1
    assert f"cannot fetch kernel '{url}' after 2 attempts: can't connect to remote host" \
           in boot.stderr
    assert f"Failed to connect to 127.0.0.1 port {url.split(':')[2].split('/')[0]}" \
        in boot.stderr  # curl's own words


def test_a_stalled_transfer_times_out(image_root: Path, applets: Path, tftp: Path,
                                      tmp_path: Path) -> None:
    serve(tmp_path / "www", {"vmlinuz": "k"})
    with HttpServer(tmp_path / "www", stalls={"/vmlinuz"}) as web:
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"))})
        boot = run(image_root, applets, tftp, FACTS, env={"PXE_FETCH_TIMEOUT": "1"})
        assert web.count("vmlinuz") == 2
    assert boot.returncode == 1
    assert f"cannot fetch kernel '{web.url('vmlinuz')}' after 2 attempts: no data for 1 s" \
           in boot.stderr


def test_server_errors_are_retried(image_root: Path, applets: Path, tftp: Path,
                                   tmp_path: Path) -> None:
    with HttpServer(tmp_path, statuses={"/vmlinuz": 503}) as web:
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"))})
        boot = run(image_root, applets, tftp, FACTS)
        assert web.count("vmlinuz") == 2
    assert "after 2 attempts: server returned error: HTTP/1.1 503" in boot.stderr


# --- installer-sized files -----------------------------------------------------------------


def test_too_big_for_memory_is_refused_before_the_download(
        image_root: Path, applets: Path, tftp: Path, web: HttpServer, tmp_path: Path) -> None:
    serve(web.root, {"vmlinuz": "k", "big.img": bytes(8 << 20)})
    serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"), web.url("big.img"))})
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  65536 kB\nMemFree:  40000 kB\nMemAvailable:  40000 kB\n")
    boot = run(image_root, applets, tftp, FACTS, env={"PXE_MEMINFO": str(meminfo)})
    assert boot.returncode == 1
    assert (f"cannot fetch initrd '{web.url('big.img')}' (8.0 MB): needs about 48.0 MB of "
            "memory") in boot.stderr
    assert "but only 39.0 MB is available (MemAvailable)" in boot.stderr


def test_progress_lines_for_a_large_transfer(image_root: Path, applets: Path, tftp: Path,
                                             web: HttpServer) -> None:
    serve(web.root, {"vmlinuz": "k", "big.img": os.urandom(6 << 20)})
    serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"), web.url("big.img"))})
    boot = ok(run(image_root, applets, tftp, FACTS))
    lines = [line for line in boot.stderr.splitlines()
             if line.startswith(f"pxeboot: {web.url('big.img')}: ")]
    assert lines, boot.stderr
    assert lines[-1].startswith(f"pxeboot: {web.url('big.img')}: 6.0 of 6.0 MB (100%), ")
    assert lines[-1].endswith(" MB/s")
    assert not any("vmlinuz:" in line for line in boot.stderr.splitlines())  # small: silent


def test_bad_url_is_a_clear_error(image_root: Path, applets: Path, tftp: Path) -> None:
    serve(tftp, {"pxelinux.cfg/default": entry("gopher://127.0.0.1/vmlinuz")})
    boot = run(image_root, applets, tftp, FACTS)
    assert boot.returncode == 1
    assert "'gopher://127.0.0.1/vmlinuz' has scheme 'gopher', not one of tftp, http, https, " \
           "ftp" in boot.stderr
