"""One curl for a label's files by URL, in the boot script's dry run against a real server.

curl's start costs about 0.3 s of a TCG guest's CPU (its dynamic loader), so the boot
fetches the kernel, the initrd and, with `signatures`, their .sig files with one curl
process (`--next`), yet treats each file as before: its own progress, checks, verdict,
retries and messages. The rendered boot script runs under the host's busybox (and dash)
with Debian's curl from 127.0.0.1 (tests/http_server.py). The host's curl is reached
through a PATH directory whose `curl` notes each start (its PID and URLs) in a log and
then execs the real one: the process count is what the boot itself started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bootscripts import BUSYBOX, rendered, serve
from http_server import HttpServer
from signing import Keys
from testca import TestCA

ROOT = Path(__file__).resolve().parents[2]
FACTS = {"siaddr": "127.0.0.1", "boot_file": "pxelinux.0", "ip": "10.0.2.15",
         "mac": "52:54:00:12:34:56"}
CURL = shutil.which("curl")

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists() or CURL is None,
                                reason="needs busybox and curl")


@dataclass
class Boot:
    returncode: int
    stdout: str
    stderr: str
    curls: list[tuple[int, list[str]]]  # each curl started: its PID and its URLs
    seconds: float


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered(tmp_path_factory.mktemp("rendered") / "root",
                    ROOT / "recipes" / "pxelinux.yaml",
                    "--set", "http_retries=2", "--set", "http_retry_delay=0")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    if not shutil.which("gpg") or not shutil.which("gpgv"):
        pytest.skip("needs gpg and gpgv")
    made = Keys(tmp_path_factory.mktemp("gpg") / "home")
    yield made
    made.close()


@pytest.fixture(scope="module")
def signed_root(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("signed") / "root"
    keyring = keys.export(dest.parent / "keys.gpg")
    return rendered(dest, ROOT / "recipes" / "pxelinux.yaml", "--set", "signatures=require",
                    "--set", f"signing_keys={keyring}", "--set", "http_retries=2",
                    "--set", "http_retry_delay=0", "--allow-path", str(keyring.parent))


@pytest.fixture
def web(tmp_path: Path) -> Iterator[HttpServer]:
    (tmp_path / "www").mkdir()
    with HttpServer(tmp_path / "www") as server:
        yield server


def run(image_root: Path, applets: Path, tftp: Path, *extra: str,
        env: dict[str, str] | None = None, shell: str = BUSYBOX,
        under: tuple[str, ...] = ()) -> Boot:
    """The dry run, with curl's starts noted in tftp/../curl.log (UNDER: a command the
    shell runs under, strace)."""
    noting = tftp.parent / "noting"
    noting.mkdir(exist_ok=True)
    log = tftp.parent / "curl.log"
    log.write_text("")
    wrapper = noting / "curl"
    wrapper.write_text(
        "#!/bin/sh\n"
        "prev=; urls=\n"
        'for a; do [ "$prev" = --url ] && urls="$urls $a"; prev=$a; done\n'
        f'echo "$$$urls" >>{log}\n'
        f'exec {CURL} "$@"\n')
    wrapper.chmod(0o755)
    environment = {"PATH": f"{noting}:{applets}:/usr/bin:/bin", "PXE_VERBOSITY": "2",
                   "PXE_KERNEL_CHECK": "0", "HOME": str(tftp.parent), **FACTS, **(env or {})}
    command = [BUSYBOX, "sh"] if shell == BUSYBOX else [shell]
    began = time.monotonic()
    done = subprocess.run([*under, *command, str(image_root / "sbin" / "pxeboot"), "--dry-run",
                           "--tftp-root", str(tftp), *extra], env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    seconds = time.monotonic() - began
    curls = [(int(line.split()[0]), line.split()[1:]) for line in log.read_text().splitlines()]
    return Boot(done.returncode, done.stdout, done.stderr, curls, seconds)


def label(kernel: str, initrd: str = "") -> dict[str, str]:
    text = f"DEFAULT x\nLABEL x\n KERNEL {kernel}\n" + (f" INITRD {initrd}\n" if initrd else "")
    return {"pxelinux.cfg/default": text}


def ok(boot: Boot) -> Boot:
    assert boot.returncode == 0, boot.stderr
    return boot


@pytest.mark.parametrize("shell", [BUSYBOX, "dash"])
def test_kernel_and_initrd_come_from_one_curl(image_root: Path, applets: Path,
                                              tmp_path: Path, web: HttpServer,
                                              shell: str) -> None:
    if shell == "dash" and not shutil.which("dash"):
        pytest.skip("dash is not installed")
    kernel, initrd = os.urandom(300_000), os.urandom(200_000)
    serve(web.root, {"vmlinuz": kernel, "initrd.img": initrd})
    serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
    work = tmp_path / "work"
    boot = ok(run(image_root, applets, tmp_path / "tftp", "--work-dir", str(work),
                  shell=shell))
    assert [urls for _, urls in boot.curls] == [[web.url("vmlinuz"), web.url("initrd.img")]]
    assert web.requests == ["GET /vmlinuz", "GET /initrd.img"]
    assert (work / "kernel").read_bytes() == kernel
    assert (work / "initrd").read_bytes() == initrd
    # Each file is still its own transfer on the console.
    assert f"pxeboot: curl {web.url('vmlinuz')} (attempt 1 of 2)" in boot.stderr
    assert f"pxeboot: curl {web.url('initrd.img')} (attempt 1 of 2)" in boot.stderr


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_one_curls_files_share_one_ticker_that_naps_without_a_process(
        image_root: Path, applets: Path, tmp_path: Path) -> None:
    """transfer_watch's ticker naps by the shell's `read -t` on a FIFO (no `sleep`
    process per nap), and the initrd's watch takes over the kernel's ticker, paused in
    between, instead of forking its own: both files are slow enough to be looked at
    twice, and every look's signal comes from the same process."""
    kernel, initrd = os.urandom(60_000), os.urandom(40_000)

    def slow(body: bytes) -> list[tuple[float, bytes]]:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        return [(0, head + body[:1000]), (1.3, body[1000:])]

    serve(tmp_path / "www", {})
    with HttpServer(tmp_path / "www", raw={"/vmlinuz": slow(kernel),
                                          "/initrd.img": slow(initrd)}) as web:
        serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
        work, trace = tmp_path / "work", tmp_path / "trace"
        boot = ok(run(image_root, applets, tmp_path / "tftp", "--work-dir", str(work),
                      under=("strace", "-f", "-q", "-qq", "-e", "trace=execve,kill",
                             "-e", "signal=none", "-o", str(trace))))
    assert [urls for _, urls in boot.curls] == [[web.url("vmlinuz"), web.url("initrd.img")]]
    assert (work / "kernel").read_bytes() == kernel
    assert (work / "initrd").read_bytes() == initrd
    lines = trace.read_text().splitlines()
    execs = [line.split('"')[1] for line in lines if " execve(" in line and '"' in line]
    assert not [name for name in execs if name.endswith("/sleep")], execs
    ticks = [line.split()[0] for line in lines if ", SIGUSR1)" in line and " kill(" in line]
    assert len(ticks) >= 4, lines  # two looks at each file at least
    assert len(set(ticks)) == 1, ticks
    assert sum(", SIGSTOP)" in line for line in lines) == 1  # paused once, between them


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.parametrize("shell", [BUSYBOX, "dash"])
def test_only_a_boot_by_url_reads_fetch_url_sh(image_root: Path, applets: Path,
                                               tmp_path: Path, web: HttpServer,
                                               shell: str) -> None:
    """pxeboot.sh reads fetch-url.sh (curl's side, ~8 ms of a TCG guest's CPU with
    ipconfig.sh, spent while udhcpc runs) when a boot first plans or fetches a URL: a
    boot by TFTP alone never opens it, nor ipconfig.sh (a dry run reads no command line);
    one by HTTP opens it once and fetches as before, in one curl."""
    if shell == "dash" and not shutil.which("dash"):
        pytest.skip("dash is not installed")
    kernel, initrd = os.urandom(30_000), os.urandom(20_000)
    serve(web.root, {"vmlinuz": kernel, "initrd.img": initrd})

    def boot(name: str, files: dict[str, str | bytes]) -> tuple[Boot, list[str], Path]:
        tftp, work, trace = (tmp_path / f"{name}.{part}" for part in ("tftp", "work", "trace"))
        serve(tftp, files)
        done = ok(run(image_root, applets, tftp, "--work-dir", str(work), shell=shell,
                      under=("strace", "-f", "-q", "-qq", "-e", "trace=openat",
                             "-e", "signal=none", "-o", str(trace))))
        library = [Path(line.split('"')[1]).name for line in trace.read_text().splitlines()
                   if "/lib/pxeboot/" in line and "ENOENT" not in line]
        return done, library, work

    plain, library, work = boot("tftp", {"vmlinuz": kernel, "initrd.img": initrd,
                                         **label("vmlinuz", "initrd.img")})
    assert plain.stdout.splitlines()[2:4] == ["kernel=vmlinuz", "initrd=initrd.img"]
    assert (work / "kernel").read_bytes() == kernel and plain.curls == []
    assert "fetch.sh" in library and "boot.sh" in library, library
    assert "fetch-url.sh" not in library and "ipconfig.sh" not in library, library

    by_url, library, work = boot("http", label(web.url("vmlinuz"), web.url("initrd.img")))
    assert library.count("fetch-url.sh") == 1, library
    assert "ipconfig.sh" not in library, library
    assert [urls for _, urls in by_url.curls] == [[web.url("vmlinuz"), web.url("initrd.img")]]
    assert (work / "kernel").read_bytes() == kernel
    assert (work / "initrd").read_bytes() == initrd


def test_under_dash_the_ticker_sleeps_and_a_stall_is_still_stopped(
        image_root: Path, applets: Path, tmp_path: Path) -> None:
    """dash's read has no -t: the ticker's naps fall back to `sleep`, and the looks
    still come (a stalled initrd is stopped by the stall timeout, not waited for)."""
    if not shutil.which("dash"):
        pytest.skip("dash is not installed")
    serve(tmp_path / "www", {"vmlinuz": os.urandom(5000), "initrd.img": os.urandom(5000)})
    with HttpServer(tmp_path / "www", stalls={"/initrd.img"}) as web:
        serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
        boot = run(image_root, applets, tmp_path / "tftp", env={"PXE_FETCH_TIMEOUT": "1"},
                   shell="dash")
    assert boot.returncode == 1
    assert (f"pxeboot: error: cannot fetch initrd '{web.url('initrd.img')}' after 2 "
            "attempts: no data for 1 s") in boot.stderr
    assert "Illegal option" not in boot.stderr
    assert boot.seconds < 30


def test_signatures_come_from_the_same_curl(signed_root: Path, applets: Path,
                                            tmp_path: Path, web: HttpServer,
                                            keys: Keys) -> None:
    serve(web.root, {"vmlinuz": os.urandom(50_000), "initrd.img": os.urandom(9000)})
    for name in ("vmlinuz", "initrd.img"):
        keys.sign(web.root / name)
    serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
    keys.sign(tmp_path / "tftp" / "pxelinux.cfg/default")
    boot = ok(run(signed_root, applets, tmp_path / "tftp"))
    assert [urls for _, urls in boot.curls] == [[
        web.url("vmlinuz"), web.url("vmlinuz.sig"), web.url("initrd.img"),
        web.url("initrd.img.sig")]]
    assert "good signature" in boot.stderr and "warning" not in boot.stderr


def test_a_tftp_kernel_leaves_its_url_initrd_and_signature_to_one_curl(
        signed_root: Path, applets: Path, tmp_path: Path, web: HttpServer,
        keys: Keys) -> None:
    tftp = tmp_path / "tftp"
    serve(web.root, {"initrd.img": os.urandom(9000)})
    serve(tftp, {"vmlinuz": os.urandom(5000), **label("vmlinuz", web.url("initrd.img"))})
    for path in (web.root / "initrd.img", tftp / "vmlinuz", tftp / "pxelinux.cfg/default"):
        keys.sign(path)
    boot = ok(run(signed_root, applets, tftp))
    assert [urls for _, urls in boot.curls] == [[web.url("initrd.img"),
                                                 web.url("initrd.img.sig")]]
    assert boot.stdout.splitlines()[2:4] == ["kernel=vmlinuz", f"initrd={web.url('initrd.img')}"]


def test_a_tampered_initrd_in_the_one_curl_is_refused_by_name(
        signed_root: Path, applets: Path, tmp_path: Path, web: HttpServer,
        keys: Keys) -> None:
    serve(web.root, {"vmlinuz": os.urandom(5000), "initrd.img": os.urandom(9000)})
    for name in ("vmlinuz", "initrd.img"):
        keys.sign(web.root / name)
    (web.root / "initrd.img").write_bytes(os.urandom(9000))
    serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
    keys.sign(tmp_path / "tftp" / "pxelinux.cfg/default")
    boot = run(signed_root, applets, tmp_path / "tftp")
    assert boot.returncode == 1
    assert (f"pxeboot: error: initrd '{web.url('initrd.img')}' bad signature (by key "
            f"{keys.site[-16:]}): the file is not what was signed: refused "
            "(signatures: require)") in boot.stderr


@pytest.mark.parametrize(("trouble", "env", "says"), [
    ({"statuses": {"/initrd.img": 503}}, {}, "server returned error: HTTP/1.1 503"),
    ({"stalls": {"/initrd.img"}}, {"PXE_FETCH_TIMEOUT": "1"}, "no data for 1 s"),
], ids=["503", "stalled"])
def test_a_failing_initrd_is_retried_alone_and_reported_by_name(
        image_root: Path, applets: Path, tmp_path: Path, trouble: dict[str, Any],
        env: dict[str, str], says: str) -> None:
    serve(tmp_path / "www", {"vmlinuz": os.urandom(5000), "initrd.img": os.urandom(5000)})
    with HttpServer(tmp_path / "www", **trouble) as web:
        serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
        boot = run(image_root, applets, tmp_path / "tftp", env=env)
        assert web.count("vmlinuz") == 1 and web.count("initrd.img") == 2
    assert boot.returncode == 1
    assert (f"pxeboot: error: cannot fetch initrd '{web.url('initrd.img')}' after 2 "
            f"attempts: {says}") in boot.stderr
    # The first curl had both files; the retry asks for the one that failed, and no
    # curl is left running.
    assert [urls for _, urls in boot.curls] == [
        [web.url("vmlinuz"), web.url("initrd.img")], [web.url("initrd.img")]]
    for pid, _ in boot.curls:
        assert not Path(f"/proc/{pid}").exists()


def test_a_missing_kernel_fetches_no_initrd(image_root: Path, applets: Path,
                                            tmp_path: Path, web: HttpServer) -> None:
    serve(web.root, {"initrd.img": os.urandom(5000)})
    serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
    boot = run(image_root, applets, tmp_path / "tftp")
    assert boot.returncode == 1
    assert (f"pxeboot: error: kernel '{web.url('vmlinuz')}' not found: server returned "
            "error: HTTP/1.1 404 Not Found") in boot.stderr
    assert web.requests == ["GET /vmlinuz"]  # an answer: not retried, no initrd asked for


def test_a_refused_kernel_ends_the_curl_still_fetching_the_initrd(
        image_root: Path, applets: Path, tmp_path: Path) -> None:
    """The kernel is an error page; the initrd after it never ends (the server stalls):
    the boot says what is wrong with the kernel at once and leaves no curl running."""
    serve(tmp_path / "www", {"vmlinuz": "<html>not here</html>\n" * 10,
                             "initrd.img": os.urandom(5000)})
    with HttpServer(tmp_path / "www", stalls={"/initrd.img"}) as web:
        serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
        work = tmp_path / "work"
        boot = run(image_root, applets, tmp_path / "tftp", "--work-dir", str(work),
                   env={"PXE_KERNEL_CHECK": "1", "PXE_FETCH_TIMEOUT": "60"})
    assert boot.returncode == 1
    assert (f"kernel '{web.url('vmlinuz')}' is not an s390 kernel image: it starts with "
            "'<', like an HTML page") in boot.stderr
    assert boot.seconds < 30  # not the stall timeout
    [(pid, urls)] = boot.curls
    assert urls == [web.url("vmlinuz"), web.url("initrd.img")]
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the curl fetching the initrd still runs"
    assert (work / "initrd").read_bytes() == b""  # nothing of it left behind


def test_each_further_initrd_part_gets_a_curl_after_its_pad(
        image_root: Path, applets: Path, tmp_path: Path, web: HttpServer) -> None:
    """The zero pad before a part is written once the part before it arrived, so a
    second part is a process of its own; the file is laid out as syslinux lays it out."""
    serve(web.root, {"vmlinuz": "k", "a.img": b"a" * 5000, "c.img": b"c" * 7})
    serve(tmp_path / "tftp", label(web.url("vmlinuz"), f"{web.url('a.img')},{web.url('c.img')}"))
    work = tmp_path / "work"
    ok(boot := run(image_root, applets, tmp_path / "tftp", "--work-dir", str(work)))
    assert (work / "initrd").read_bytes() == b"a" * 5000 + bytes(3192) + b"c" * 7
    assert [urls for _, urls in boot.curls] == [[web.url("vmlinuz"), web.url("a.img")],
                                                [web.url("c.img")]]


def test_a_large_initrd_in_the_one_curl_is_watched_as_its_own_transfer(
        image_root: Path, applets: Path, tmp_path: Path, web: HttpServer) -> None:
    """Progress lines name the initrd, and its memory check refuses it by name."""
    serve(web.root, {"vmlinuz": "k", "big.img": os.urandom(6 << 20)})
    serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("big.img")))
    boot = ok(run(image_root, applets, tmp_path / "tftp"))
    assert len(boot.curls) == 1
    lines = [line for line in boot.stderr.splitlines()
             if line.startswith(f"pxeboot: {web.url('big.img')}: ")]
    assert lines and lines[-1].startswith(f"pxeboot: {web.url('big.img')}: 6.0 of 6.0 MB "
                                          "(100%), "), boot.stderr
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  65536 kB\nMemFree:  40000 kB\nMemAvailable:  40000 kB\n")
    boot = run(image_root, applets, tmp_path / "tftp", env={"PXE_MEMINFO": str(meminfo)})
    assert boot.returncode == 1
    assert (f"cannot fetch initrd '{web.url('big.img')}' (6.0 MB): needs about 44.0 MB of "
            "memory") in boot.stderr


@pytest.mark.parametrize("batched", [True, False], ids=["one-curl", "alone"])
def test_conflicting_content_lengths_are_a_failed_transfer_either_way(
        image_root: Path, applets: Path, tmp_path: Path, batched: bool) -> None:
    """curl reads the body by the last Content-Length; the boot checks it against the
    first (curl's -w account in one curl, the headers alone): a server that says two
    sizes is refused, whichever way the file came."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n"
    serve(tmp_path / "www", {"vmlinuz": "k"})
    with HttpServer(tmp_path / "www", raw={"/initrd.img": [(0, head + b"1234567")]}) as web:
        kernel = web.url("vmlinuz") if batched else "vmlinuz"
        serve(tmp_path / "tftp", {"vmlinuz": "k", **label(kernel, web.url("initrd.img"))})
        boot = run(image_root, applets, tmp_path / "tftp")
        assert web.count("initrd.img") == 2
    assert len(boot.curls[0][1]) == (2 if batched else 1)
    assert boot.returncode == 1
    assert (f"cannot fetch initrd '{web.url('initrd.img')}' after 2 attempts: the server "
            "sent more than the 5 bytes it announced") in boot.stderr


def test_an_https_initrd_in_the_one_curl_is_not_redirected_to_http(
        applets: Path, tmp_path: Path) -> None:
    """The redirect rules hold per file: the initrd's redirect to http is refused at once,
    by name, after the kernel came over the same verified curl."""
    ca = TestCA()
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "site-ca.pem").write_bytes(ca.pem)
    root = rendered(tmp_path / "root", ROOT / "recipes" / "pxelinux.yaml",
                    "--set", f"https_ca={tmp_path / 'ca' / 'site-ca.pem'}",
                    "--allow-path", str(tmp_path / "ca"), "--set", "http_retries=2")
    serve(tmp_path / "www", {"vmlinuz": os.urandom(5000), "initrd.img": os.urandom(5000)})
    with HttpServer(tmp_path / "www") as plain, \
            HttpServer(tmp_path / "www", tls=ca.issue(["127.0.0.1"]).context(tmp_path / "tls"),
                       redirects={"/initrd.img": (302, plain.url("initrd.img"))}) as web:
        serve(tmp_path / "tftp", label(web.url("vmlinuz"), web.url("initrd.img")))
        boot = run(root, applets, tmp_path / "tftp")
        assert plain.requests == []
        assert web.requests == ["GET /vmlinuz", "GET /initrd.img"]
    assert boot.returncode == 1
    assert (f"cannot fetch initrd '{web.url('initrd.img')}' refused: Protocol \"http\" not "
            "supported or disabled in libcurl (an https name is only redirected to https)"
            ) in boot.stderr
    assert [urls for _, urls in boot.curls] == [[web.url("vmlinuz"), web.url("initrd.img")]]
