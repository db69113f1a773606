"""Servers that answer oddly, in the boot script's dry run, against real local servers.

The rendered boot script runs under the host's busybox (`busybox sh ROOT/sbin/pxeboot
--dry-run --tftp-root DIR`), and fetches URLs with curl, as in the image, from
tests/http_server.py on 127.0.0.1, which answers some paths with raw bytes of its own:
a status line without reason phrase, a chunked body with a bad chunk size, a
Content-Length past 2^62 or past what arrives, headers that trickle, an HTML page or
nothing at all where the kernel should be. What arrived is checked against what was
announced before anything goes on to kexec; every failure is a console line naming
the URL (its password masked) and the documented failure, never a hang.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, rendered, serve
from http_server import HttpServer
from kernelfactory import s390_kernel

ROOT = Path(__file__).resolve().parents[2]
MAC = "52:54:00:12:34:56"
FACTS = {"siaddr": "127.0.0.1", "boot_file": "pxelinux.0", "ip": "10.0.2.15", "mac": MAC}

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered(tmp_path_factory.mktemp("rendered"), ROOT / "recipes" / "pxelinux.yaml",
                    "--set", "http_retries=2", "--set", "http_retry_delay=0")



@pytest.fixture
def tftp(tmp_path: Path) -> Path:
    root = tmp_path / "tftp"
    root.mkdir()
    return root


def raw_server(tmp_path: Path, raw: dict[str, list[tuple[float, bytes]]]) -> HttpServer:
    root = tmp_path / "www"
    root.mkdir(exist_ok=True)
    return HttpServer(root, raw=raw)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[HttpServer]:
    with raw_server(tmp_path, {}) as server:
        yield server


def run(image_root: Path, applets: Path, tftp: Path, facts: dict[str, str],
        env: dict[str, str] | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": f"{applets}:/usr/bin:/bin", "PXE_VERBOSITY": "1", **facts,
                   **(env or {})}
    return subprocess.run([BUSYBOX, "sh", str(image_root / "sbin" / "pxeboot"), "--dry-run",
                           "--tftp-root", str(tftp)], env=environment, capture_output=True,
                          text=True, timeout=timeout, check=False)


def entry(kernel: str, initrd: str = "") -> str:
    return f"DEFAULT x\nLABEL x\n KERNEL {kernel}\n" + (f" INITRD {initrd}\n" if initrd else "")


def answer(head: str, body: bytes = b"") -> list[tuple[float, bytes]]:
    return [(0, head.replace("\n", "\r\n").encode() + b"\r\n" + body)]


KERNEL = s390_kernel()


# --- status lines, bodies -----------------------------------------------------------------

def test_a_404_without_reason_phrase_is_not_there(image_root: Path, applets: Path, tftp: Path,
                                                  tmp_path: Path) -> None:
    """`HTTP/1.1 404` with no reason phrase is an answer: not there, not retried, and the
    configuration search goes on (under the option-209 URL's directory)."""
    bare = answer("HTTP/1.1 404\nContent-Length: 0\n")
    raw = {"/cfg/special": bare, f"/cfg/pxelinux.cfg/01-{MAC.replace(':', '-').lower()}": bare}
    with raw_server(tmp_path, raw) as web:
        serve(web.root, {"vmlinuz": KERNEL, "cfg/pxelinux.cfg/default": entry("../vmlinuz")})
        done = run(image_root, applets, tftp, {**FACTS, "pxeconffile": web.url("cfg/special")})
        assert done.returncode == 0, done.stderr
        assert f"config={web.url('cfg/pxelinux.cfg/default')}" in done.stdout
        assert web.count("cfg/special") == 1
        assert web.count(f"cfg/pxelinux.cfg/01-{MAC.replace(':', '-').lower()}") == 1


@pytest.mark.parametrize("body", [
    b"5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n",
    b"5\r\nhello\r\n-3\r\nabc\r\n0\r\n\r\n",
    b"5\r\nhello\r\nffffffffffffffffffff\r\nabc\r\n",
], ids=["not-hex", "negative", "past-2^64"])
def test_a_chunked_body_with_a_bad_chunk_size_is_a_failure(image_root: Path, applets: Path,
                                                           tftp: Path, tmp_path: Path,
                                                           body: bytes) -> None:
    raw = {"/vmlinuz": answer("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n", body)}
    with raw_server(tmp_path, raw) as web:
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"))})
        done = run(image_root, applets, tftp, FACTS)
        assert done.returncode == 1
        assert f"cannot fetch kernel '{web.url('vmlinuz')}'" in done.stderr
        assert done.stdout == ""


@pytest.mark.parametrize("length", ["9000000000000000000", "99999999999999999999",
                                    "18446744073709551617"])
def test_a_content_length_past_2_62_is_refused(image_root: Path, applets: Path, tftp: Path,
                                               tmp_path: Path, length: str) -> None:
    """2 x SIZE wrapped negative and the download ran on; 1e+20 broke the shell."""
    raw = {"/big.img": [(0, f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n".encode()),
                        *[(0.05, bytes(1 << 16))] * 200]}
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1048576 kB\nMemAvailable: 200000 kB\n")
    with raw_server(tmp_path, raw) as web:
        serve(web.root, {"vmlinuz": KERNEL})
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"), web.url("big.img"))})
        done = run(image_root, applets, tftp, FACTS, env={"PXE_MEMINFO": str(meminfo)})
    assert done.returncode == 1
    assert f"initrd '{web.url('big.img')}'" in done.stderr
    assert "arithmetic" not in done.stderr and "1e+" not in done.stderr
    assert done.stdout == ""


def test_a_body_shorter_than_announced_is_a_failure(image_root: Path, applets: Path,
                                                    tftp: Path, tmp_path: Path) -> None:
    raw = {"/vmlinuz": answer(f"HTTP/1.1 200 OK\nContent-Length: {len(KERNEL) + 10}\n",
                              KERNEL)}
    with raw_server(tmp_path, raw) as web:
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"))})
        done = run(image_root, applets, tftp, FACTS)
        assert done.returncode == 1
        assert f"cannot fetch kernel '{web.url('vmlinuz')}'" in done.stderr
        assert web.count("vmlinuz") == 2  # retried, then given up


def test_headers_that_trickle_are_stopped(image_root: Path, applets: Path, tftp: Path,
                                          tmp_path: Path) -> None:
    """A header line every 0.5 s, forever: the headers must be complete within
    PXE_FETCH_TIMEOUT, whatever trickles in."""
    raw = {"/vmlinuz": [(0, b"HTTP/1.1 200 OK\r\n"),
                        *[(0.5, f"X-Slow-{n}: y\r\n".encode()) for n in range(400)]]}
    with raw_server(tmp_path, raw) as web:
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"))})
        start = time.monotonic()
        done = run(image_root, applets, tftp, FACTS, env={"PXE_FETCH_TIMEOUT": "3"})
        took = time.monotonic() - start
    assert done.returncode == 1
    assert "no complete answer (status and headers) within 3 s" in done.stderr
    assert took < 30


# --- what arrived as the kernel -----------------------------------------------------------

@pytest.mark.parametrize(("body", "problem"), [
    (b"<html><head><title>Error</title></head><body>Server busy</body></html>\n",
     "like an HTML page"),
    (b"", "is empty (0 bytes)"),
], ids=["html", "empty"])
def test_a_200_that_is_no_kernel_is_refused(image_root: Path, applets: Path, tftp: Path,
                                            tmp_path: Path, body: bytes, problem: str) -> None:
    raw = {"/vmlinuz": answer(f"HTTP/1.1 200 OK\nContent-Type: text/html\n"
                              f"Content-Length: {len(body)}\n", body)}
    with raw_server(tmp_path, raw) as web:
        serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"))})
        done = run(image_root, applets, tftp, FACTS)
    assert done.returncode == 1
    assert f"kernel '{web.url('vmlinuz')}' " in done.stderr and problem in done.stderr
    assert done.stdout == ""


# --- what reaches the console and the server ----------------------------------------------

def test_a_password_in_a_url_never_reaches_the_console(image_root: Path, applets: Path,
                                                       tftp: Path, web: HttpServer) -> None:
    serve(web.root, {"vmlinuz": KERNEL})
    kernel = web.url("vmlinuz").replace("://", "://operator:s3cr3t-pw@")
    missing = web.url("gone.img").replace("://", "://operator:s3cr3t-pw@")
    serve(tftp, {"pxelinux.cfg/default": entry(kernel, missing)})
    done = run(image_root, applets, tftp, {**FACTS, "PXE_VERBOSITY": "2"})
    assert done.returncode == 1
    assert "s3cr3t-pw" not in done.stdout + done.stderr
    assert "operator" not in done.stdout + done.stderr
    assert f"initrd '{web.url('gone.img').replace('://', '://***@')}' not found" in done.stderr
    serve(tftp, {"pxelinux.cfg/default": entry(kernel)})
    done = run(image_root, applets, tftp, FACTS)
    assert done.returncode == 0, done.stderr
    assert f"kernel={web.url('vmlinuz').replace('://', '://***@')}" in done.stdout
    assert "s3cr3t-pw" not in done.stdout + done.stderr


@pytest.mark.parametrize("junk", ["\r\nX-Injected: 1", "\n", "\t", "\x7f", "\x1b"])
def test_a_control_character_in_an_option_209_url_never_reaches_a_server(
        image_root: Path, applets: Path, tftp: Path, web: HttpServer, junk: str) -> None:
    done = run(image_root, applets, tftp,
               {**FACTS, "pxeconffile": web.url("cfg") + junk + "/more"})
    assert done.returncode == 1
    assert "control character" in done.stderr
    assert web.requests == []


def test_a_url_with_a_control_character_in_the_config_is_refused(
        image_root: Path, applets: Path, tftp: Path, web: HttpServer) -> None:
    serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz") + "\x1b[2J")})
    done = run(image_root, applets, tftp, FACTS)
    assert done.returncode == 1
    assert "control character" in done.stderr
    assert web.requests == []
    assert "\x1b" not in done.stderr  # shown escaped, never sent to the console as is


def test_ordinary_downloads_still_pass_the_checks(image_root: Path, applets: Path, tftp: Path,
                                                  web: HttpServer) -> None:
    serve(web.root, {"vmlinuz": KERNEL, "a.img": os.urandom(5 << 20)})
    serve(tftp, {"pxelinux.cfg/default": entry(web.url("vmlinuz"), web.url("a.img"))})
    done = run(image_root, applets, tftp, FACTS)
    assert done.returncode == 0, done.stderr
    assert f"initrd={web.url('a.img')}" in done.stdout
