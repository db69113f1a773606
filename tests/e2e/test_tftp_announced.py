"""TFTP: what arrived against what the server announced (tsize, RFC 2349).

TFTP ends a file at its first short block, so a server that stops early hands over a
shorter file with every sign of success: busybox tftp exits 0. Where the server answered
the tsize option, the boot script's TFTP backend (bootscripts/pxeboot/fetch.sh) reads
busybox's progress meter and refuses a file that did not reach the announced size, as
it refuses an HTTP or FTP body shorter than its Content-Length or SIZE. The library of
the rendered stock image runs under the host's busybox sh and dash, against
tests/tftp_server.py on 127.0.0.1, which announces a lie where NAME.tsize says so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, rendered

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "tests" / "tftp_server.py"
SHELLS = [pytest.param([BUSYBOX, "sh"], id="busybox-sh")]
if shutil.which("dash"):
    SHELLS.append(pytest.param([shutil.which("dash") or "dash"], id="dash"))

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")

FETCH = """
. "$IMAGE/etc/pxeboot.conf"
for lib in common facts url transfer fetch; do . "$IMAGE/lib/pxeboot/$lib.sh"; done
PXE_TFTP_RETRIES=2 PXE_TFTP_RETRY_DELAY=0
fetch_via_tftp "$SERVER" "$NAME" "$WORK/got"
status=$?
echo "status=$status"
echo "error=$FETCH_ERROR"
"""


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered(tmp_path_factory.mktemp("rendered"))



@pytest.fixture
def tftp(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A TFTP root and the server's address as busybox tftp takes it (HOST:PORT)."""
    root = tmp_path / "tftp"
    root.mkdir()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, str(SERVER), str(root), "127.0.0.1", str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield root, f"127.0.0.1:{port}"
    finally:
        server.kill()
        server.wait()


def fetch(shell: list[str], image: Path, applets: Path, server: str, name: str,
          work: Path) -> dict[str, str]:
    work.mkdir(exist_ok=True)
    env = {"PATH": f"{applets}:/usr/bin:/bin", "IMAGE": str(image), "SERVER": server,
           "NAME": name, "WORK": str(work), "HOME": os.environ.get("HOME", "/root")}
    done = subprocess.run([*shell, "-c", FETCH], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    facts = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert "status" in facts, done.stderr
    return facts


@pytest.mark.parametrize("shell", SHELLS)
def test_a_file_that_arrives_as_announced_is_kept(shell: list[str], image: Path,
                                                   applets: Path, tftp: tuple[Path, str],
                                                   tmp_path: Path) -> None:
    root, server = tftp
    content = os.urandom(300_000)
    (root / "vmlinuz").write_bytes(content)
    facts = fetch(shell, image, applets, server, "vmlinuz", tmp_path / "work")
    assert facts["status"] == "0", facts
    assert (tmp_path / "work" / "got").read_bytes() == content


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("announced", [400_000, 300_001, 10**18])
def test_a_file_shorter_than_announced_is_refused(shell: list[str], announced: int,
                                                   image: Path, applets: Path,
                                                   tftp: tuple[Path, str],
                                                   tmp_path: Path) -> None:
    """The server announces more than it sends: the short file is not handed on."""
    root, server = tftp
    (root / "vmlinuz").write_bytes(os.urandom(300_000))
    (root / "vmlinuz.tsize").write_text(str(announced))
    facts = fetch(shell, image, applets, server, "vmlinuz", tmp_path / "work")
    assert facts["status"] == "2", facts
    assert "did not arrive as the server announced it (tsize)" in facts["error"], facts
    assert "after 2 attempts" in facts["error"], facts
    assert not (tmp_path / "work" / "got").exists()
