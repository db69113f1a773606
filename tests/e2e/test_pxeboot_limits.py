"""Numbers the shell cannot hold and files that are no kernel, in the boot scripts.

The rendered boot script runs as in test_pxeboot_dryrun.py (`busybox sh ROOT/sbin/pxeboot
--dry-run --tftp-root DIR`), and its library functions are also called directly, under
busybox sh and dash, with the values a hostile server or configuration gives: sizes
past 2^62 and past 2^64, an indent of fifty million columns, a command line longer than
the kernel takes, an HTML error page or nothing at all where the kernel should be.
Every answer must be the documented failure (a console line, exit 1) or a bounded
result: never an arithmetic error, never unbounded output, never a hang.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, rendered, serve
from kernelfactory import s390_kernel

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "pxelinux.yaml"
FACTS = {"siaddr": "192.168.2.3", "bootfile": "boot/pxelinux.0", "ip": "192.168.2.91",
         "mac": "88:99:AA:BB:CC:DD"}
SHELLS = [shell for shell in (BUSYBOX, shutil.which("dash")) if shell and Path(shell).exists()]

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered(tmp_path_factory.mktemp("rendered"), RECIPE)


def dry_run(root: Path, tftp: Path, files: dict[str, str | bytes], *answers: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    serve(tftp, {f"boot/{name}": data for name, data in files.items()})
    args = [arg for answer in answers for arg in ("--answer", answer)]
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PXE_VERBOSITY": "1",
                   **FACTS, **(env or {})}
    return subprocess.run([BUSYBOX, "sh", str(root / "sbin" / "pxeboot"), "--dry-run",
                           "--tftp-root", str(tftp), *args], env=environment,
                          capture_output=True, text=True, timeout=60, check=False)


def library(root: Path, shell: str, code: str, meminfo: Path) -> subprocess.CompletedProcess[str]:
    """CODE run by SHELL after sourcing the library files it needs."""
    lib = root / "lib" / "pxeboot"
    script = f". {lib}/common.sh\n. {lib}/transfer.sh\nPXE_TAG=test PXE_VERBOSITY=1\n{code}\n"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PXE_MEMINFO": str(meminfo),
           "PXE_MEMORY_RESERVE_MB": "32"}
    argv = [shell, "sh"] if shell == BUSYBOX else [shell]
    return subprocess.run([*argv, "-c", script], env=env, capture_output=True, text=True,
                          timeout=30, check=False)


# --- sizes: one capped reading, the memory check past 2^62 --------------------------------

HUGE = ["4611686018427387904", "9000000000000000000", "9223372036854775807",
        "18446744073709551616", "99999999999999999999", "0" * 30 + "9" * 40]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: Path(s).name)
@pytest.mark.parametrize("size", HUGE, ids=lambda s: f"{len(s)}-digits")
def test_the_memory_check_refuses_sizes_past_2_62(root: Path, tmp_path: Path, shell: str,
                                                  size: str) -> None:
    """2 x SIZE wrapped negative in 64-bit arithmetic and passed; awk's 1e+20 broke the
    shell. Every size goes through bytes_of, capped at 1 PiB: refused, with a reason."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1048576 kB\nMemAvailable: 200000 kB\n")
    done = library(root, shell, f'memory_check {size} && echo fits || echo "refused: '
                   '$TRANSFER_ERROR"; memory_check 1000000 && echo small-fits', meminfo)
    assert done.stderr == ""
    assert done.stdout.splitlines()[0].startswith("refused: needs about "), done.stdout
    assert "but only 195.3 MB is available (MemAvailable)" in done.stdout
    assert done.stdout.splitlines()[1] == "small-fits"


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: Path(s).name)
def test_bytes_of_reads_decimal_text_and_caps_it(root: Path, tmp_path: Path, shell: str) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemAvailable: 200000 kB\n")
    code = "; ".join(f'bytes_of "{text}" && echo "$BYTES" || echo no'
                     for text in ("0", "007", "1125899906842624", "1125899906842625",
                                  "99999999999999999999", "1e+20", "-5", "", "12 "))
    done = library(root, shell, code, meminfo)
    assert done.stdout.split() == ["0", "7", "1125899906842624", "1125899906842624",
                                   "1125899906842624", "no", "no", "no", "no"]
    # What a finished download adds stays capped too.
    done = library(root, shell, "transfer_done 99999999999999999999; transfer_done "
                   "99999999999999999999; echo $TRANSFER_HELD", meminfo)
    assert done.stdout.strip() == "1125899906842624"


# --- numbers in the configuration ---------------------------------------------------------

def test_menu_indent_is_bounded(root: Path, tmp_path: Path) -> None:
    """MENU INDENT 50000000 printed 47 MB of blanks; now at most 80 columns, with a warning."""
    config = ("UI menu.c32\nLABEL one\n  MENU INDENT 50000000\n  KERNEL vmlinuz\n"
              "LABEL two\n  MENU INDENT 99999999999999999999\n  KERNEL vmlinuz\n")
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": config, "vmlinuz": s390_kernel()},
                   "?", "1")
    assert done.returncode == 0, done.stderr
    assert len(done.stderr) < 10_000
    assert "MENU INDENT 50000000 is over 80 columns: taken as 80" in done.stderr
    assert "   1) " + " " * 80 + "one" in done.stderr
    assert "1) " + " " * 81 not in done.stderr


@pytest.mark.parametrize("value", ["50000000", "99999999999999999999", "9" * 40])
def test_timeouts_too_big_for_the_shell_are_capped(root: Path, tmp_path: Path,
                                                   value: str) -> None:
    config = (f"PROMPT 1\nTIMEOUT {value}\nTOTALTIMEOUT {value}\nDEFAULT one\n"
              "LABEL one\n  KERNEL vmlinuz\n")
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": config, "vmlinuz": s390_kernel()},
                   "one")
    assert done.returncode == 0, done.stderr
    assert "TIMEOUT" in done.stderr and "taken as 35996" in done.stderr
    assert "arithmetic" not in done.stderr and "out of range" not in done.stderr


# --- the command line against the booted kernel's own limit -------------------------------

def label(append: str, initrd: str = "initrd.img") -> str:
    return f"DEFAULT big\nLABEL big\n  KERNEL vmlinuz\n  INITRD {initrd}\n  APPEND {append}\n"


@pytest.mark.parametrize("length", [200_000, 140_000, 5000])
def test_a_command_line_over_the_kernels_limit_is_refused(root: Path, tmp_path: Path,
                                                          length: int) -> None:
    """Over 128 KiB the line broke awk's environment and booted with no initrd; the limit
    is the downloaded kernel's field at 0x10430 (4096 here): refused, naming the label,
    before any initrd is fetched."""
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": label("x" * length),
                                    "vmlinuz": s390_kernel(max_cmdline=4096),
                                    "initrd.img": b"070701"})
    assert done.returncode == 1
    assert done.stdout == ""
    assert "the command line of label 'big' is" in done.stderr
    assert "kernel 'boot/vmlinuz' accepts at most 4095" in done.stderr
    assert "0x10430" in done.stderr
    assert len(done.stderr) < 5000  # the line itself is not echoed


def test_the_limit_counts_the_terminating_nul(root: Path, tmp_path: Path) -> None:
    """BOOT_IMAGE=vmlinuz (18 bytes) + " initrd=initrd.img" (18) + " " + APPEND: a line
    of 4095 bytes fits a 4096-byte area, 4096 does not."""
    fixed = len("BOOT_IMAGE=vmlinuz") + len(" initrd=initrd.img") + 1
    files: dict[str, str | bytes] = {"vmlinuz": s390_kernel(max_cmdline=4096),
                                     "initrd.img": b"070701"}
    filler = "initrd=initrd.img "
    fits = dry_run(root, tmp_path / "fits", {**files, "pxelinux.cfg/default":
                                             label(filler + "y" * (4095 - fixed - 18))})
    assert fits.returncode == 0, fits.stderr
    assert len(fits.stdout.split("append=", 1)[1].rstrip("\n")) == 4095
    over = dry_run(root, tmp_path / "over", {**files, "pxelinux.cfg/default":
                                             label(filler + "y" * (4096 - fixed - 18))})
    assert over.returncode == 1
    assert "is 4096 bytes" in over.stderr


def test_a_kernel_before_5_16_takes_896_bytes(root: Path, tmp_path: Path) -> None:
    """0 at 0x10430 (kernels before 5.16) means the old 896-byte command line."""
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": label("z" * 900),
                                    "vmlinuz": s390_kernel(max_cmdline=0),
                                    "initrd.img": b"070701"})
    assert done.returncode == 1
    assert "accepts at most 895" in done.stderr


# --- what arrived as the kernel or an initrd ----------------------------------------------

@pytest.mark.parametrize(("kernel", "problem"), [
    (b"", "kernel 'boot/vmlinuz' is empty (0 bytes)"),
    (b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n",
     "is not an s390 kernel image: it starts with '<', like an HTML page"),
    # Seeded: os.urandom's bytes start with '<' once in 256 runs, which is the HTML case.
    (random.Random(80).randbytes(80_000),
     "is not an s390 kernel image (80000 bytes, without the s390 boot marks"),
    (s390_kernel()[:0x10010], "kernel 'boot/vmlinuz' is cut short"),
], ids=["empty", "html", "random", "truncated"])
def test_what_is_no_s390_kernel_is_refused_before_kexec(root: Path, tmp_path: Path,
                                                        kernel: bytes, problem: str) -> None:
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": label("ro"), "vmlinuz": kernel,
                                    "initrd.img": b"070701"})
    assert done.returncode == 1
    assert done.stdout == ""
    assert problem in done.stderr


def test_an_empty_initrd_is_refused(root: Path, tmp_path: Path) -> None:
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": label("ro", "a.img,empty.img"),
                                    "vmlinuz": s390_kernel(), "a.img": b"070701",
                                    "empty.img": b""})
    assert done.returncode == 1
    assert "initrd 'boot/empty.img' is empty (0 bytes)" in done.stderr


def test_a_real_shaped_kernel_boots(root: Path, tmp_path: Path) -> None:
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": label("ro"),
                                    "vmlinuz": s390_kernel(), "initrd.img": b"070701"})
    assert done.returncode == 0, done.stderr
    assert "append=BOOT_IMAGE=vmlinuz ro initrd=initrd.img" in done.stdout


@pytest.mark.parametrize("answer", ["a " + "x" * 100_000, "a " + "x y " * 25_000],
                         ids=["one-long-word", "many-words"])
def test_a_100_kb_answer_takes_linear_time(root: Path, tmp_path: Path, answer: str) -> None:
    """Queued answers were cut from one string with ${X#*newline}: quadratic in ash, 40 s
    for 100 KB. The command line it makes is then refused by the kernel's limit, and
    boot: asks again (nobody answers: DEFAULT boots)."""
    config = "PROMPT 1\nDEFAULT a\nLABEL a\n  KERNEL vmlinuz\n"
    start = time.monotonic()
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": config, "vmlinuz": s390_kernel()},
                   answer)
    assert time.monotonic() - start < 5
    assert "the command line of label 'a' is" in done.stderr
    assert done.returncode == 0, done.stderr
    assert "append=BOOT_IMAGE=vmlinuz\n" in done.stdout


def test_settings_the_shell_cannot_hold_are_not_taken(root: Path, tmp_path: Path) -> None:
    """Some settings can be overridden from the kernel's command line: a value that is no
    number, or too long for the shell's arithmetic, falls back to the default."""
    config = "DEFAULT a\nLABEL a\n  KERNEL vmlinuz\n"
    done = dry_run(root, tmp_path, {"pxelinux.cfg/default": config, "vmlinuz": s390_kernel()},
                   env={"PXE_FETCH_TIMEOUT": "99999999999999999999", "PXE_FAILURE_PROMPT": "x"})
    assert done.returncode == 0, done.stderr
    assert "PXE_FETCH_TIMEOUT='99999999999999999999' is not a number up to 999999: taken " \
           "as 30" in done.stderr
    assert "PXE_FAILURE_PROMPT='x'" in done.stderr
