"""The mission, for real: recipes/pxelinux.yaml network-booted by the s390 firmware in
qemu-system-s390x, reading a PXELINUX configuration from QEMU's TFTP server and kexec'ing
into a second stage (the same Debian kernel with tests/recipes/stage2.yaml), whose /init
prints its command line. Success is that line on the console, never QEMU's exit code.

Every boot goes through `compose boot`, so these tests prove what users run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from under_test import compose

ROOT = Path(__file__).resolve().parents[2]
MAC = "52:54:00:12:34:56"
MARKER = "STAGE2-CMDLINE<"
pytestmark = [pytest.mark.qemu, pytest.mark.sysroot]


@pytest.fixture(scope="session")
def parts(sysroot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pxelinux.0 and the second stage's kernel and initrds, built once."""
    out = tmp_path_factory.mktemp("parts")
    for args in (
        [ROOT / "recipes/pxelinux.yaml", "-o", "pxelinux.0"],
        [ROOT / "recipes/pxelinux-debug.yaml", "-o", "pxelinux-debug.0"],
        [ROOT / "tests/recipes/stage2.yaml", "--initramfs", "stage2.img"],
    ):
        done = compose(*args, "--sysroot", sysroot, cwd=out)
        assert done.returncode == 0, done.stderr
    extra = out / "extra-tree"
    extra.mkdir()
    (extra / "extra-1").write_text("from the second initrd\n")
    with open(out / "extra.img", "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=b"extra-1\n", stdout=f,
                       cwd=extra, check=True)
    kernel = next((sysroot / "boot").glob("vmlinuz-*"))
    shutil.copy(kernel, out / "vmlinuz")
    return out


def tftp_root(parts: Path, tmp_path: Path, configs: dict[str, str],
              image: str = "pxelinux.0") -> Path:
    root = tmp_path / "tftp"
    (root / "pxelinux.cfg").mkdir(parents=True)
    shutil.copy(parts / image, root / "pxelinux.0")
    for name in ("vmlinuz", "stage2.img", "extra.img"):
        (root / name).symlink_to(parts / name)
    for name, text in configs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def boot(root: Path, expect: str = MARKER, timeout: float = 240) -> tuple[int, str, float]:
    """(exit code, console, seconds from QEMU's start to the marker as compose boot saw it)."""
    done = compose("boot", root / "pxelinux.0", "--tftp", root, "--mac", MAC, "--expect",
                   expect, "--timeout", timeout, "-v", cwd=root, timeout=timeout + 60)
    seen = re.search(r"seen after ([0-9.]+) s", done.stderr)
    return done.returncode, done.stdout, float(seen.group(1)) if seen else float("nan")


def stage2_cmdline(console: str) -> str:
    found = re.search(re.escape(MARKER) + r"(.*)>", console)
    assert found, console[-3000:]
    # syslinux 6's line: BOOT_IMAGE=KERNEL first, initrd= left on it (docs/pxelinux.md).
    words = found.group(1).split(" ")
    assert words[0].startswith("BOOT_IMAGE="), found.group(1)
    return " ".join(word for word in words[1:] if not word.startswith("initrd="))


def report(capsys: pytest.CaptureFixture[str], name: str, seconds: float) -> None:
    with capsys.disabled():
        print(f"\n  [{name}] QEMU start to second-stage marker: {seconds:.1f} s")


def entry(label: str, append: str, initrd: str = "stage2.img", extra: str = "") -> str:
    return (f"LABEL {label}\n  KERNEL vmlinuz\n  INITRD {initrd}\n"
            f"  APPEND console=ttysclp0 {append}\n{extra}")


def test_default_config(parts: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    root = tftp_root(parts, tmp_path, {"pxelinux.cfg/default":
                                       "DEFAULT linux\n" + entry("linux", "scenario=default")})
    code, console, seconds = boot(root)
    assert code == 0, console[-3000:]
    assert stage2_cmdline(console) == "console=ttysclp0 scenario=default"
    assert "Kernel panic" not in console
    report(capsys, "default", seconds)


def test_mac_file_with_several_labels_and_a_later_default(
        parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mac_file = "pxelinux.cfg/01-" + MAC.replace(":", "-")
    root = tftp_root(parts, tmp_path, {
        "pxelinux.cfg/default": "DEFAULT linux\n" + entry("linux", "scenario=default"),
        mac_file: (entry("first", "chosen=first") + entry("second", "chosen=second") +
                   "DEFAULT second\n" + entry("third", "chosen=third")),
    })
    code, console, seconds = boot(root)
    assert code == 0, console[-3000:]
    assert stage2_cmdline(console) == "console=ttysclp0 chosen=second"
    report(capsys, "mac+labels", seconds)


def test_hex_ip_file_found_by_shortening(parts: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # QEMU's user network gives 10.0.2.15 = 0A00020F; only the 4-digit prefix exists.
    root = tftp_root(parts, tmp_path, {
        "pxelinux.cfg/default": "DEFAULT linux\n" + entry("linux", "scenario=default"),
        "pxelinux.cfg/0A00": "DEFAULT hex\n" + entry("hex", "scenario=hex"),
    })
    code, console, seconds = boot(root)
    assert code == 0, console[-3000:]
    assert stage2_cmdline(console) == "console=ttysclp0 scenario=hex"
    report(capsys, "hex-ip 0A00", seconds)


def test_include(parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tftp_root(parts, tmp_path, {
        "pxelinux.cfg/default": "INCLUDE pxelinux.cfg/common.cfg\nDEFAULT included\n",
        "pxelinux.cfg/common.cfg": entry("included", "scenario=include"),
    })
    code, console, seconds = boot(root)
    assert code == 0, console[-3000:]
    assert stage2_cmdline(console) == "console=ttysclp0 scenario=include"
    report(capsys, "include", seconds)


def test_ipappend_2_gives_bootif(parts: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = tftp_root(parts, tmp_path, {"pxelinux.cfg/default": "DEFAULT linux\n" + entry(
        "linux", "scenario=ipappend", extra="  IPAPPEND 2\n")})
    code, console, seconds = boot(root)
    assert code == 0, console[-3000:]
    assert stage2_cmdline(console) == ("console=ttysclp0 scenario=ipappend "
                                       "BOOTIF=01-52-54-00-12-34-56")
    report(capsys, "ipappend 2", seconds)


def test_two_initrd_files(parts: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    root = tftp_root(parts, tmp_path, {"pxelinux.cfg/default": "DEFAULT linux\n" + entry(
        "linux", "scenario=initrds", initrd="stage2.img,extra.img")})
    code, console, seconds = boot(root, expect="STAGE2-FILE")
    assert code == 0, console[-3000:]
    assert stage2_cmdline(console) == "console=ttysclp0 scenario=initrds"
    assert "STAGE2-FILE /extra-1" in console
    report(capsys, "two initrds", seconds)


def test_missing_kernel_is_reported_without_a_panic(parts: Path, tmp_path: Path) -> None:
    root = tftp_root(parts, tmp_path, {"pxelinux.cfg/default":
                                       "DEFAULT linux\nLABEL linux\n  KERNEL not-there\n"})
    code, console, _ = boot(root, expect="init: boot failed", timeout=180)
    assert code == 0, console[-3000:]
    assert "kernel 'not-there' not found on TFTP server 10.0.2.2" in console
    assert "Kernel panic" not in console


def test_no_config_on_the_server_is_reported_without_a_panic(parts: Path,
                                                             tmp_path: Path) -> None:
    root = tftp_root(parts, tmp_path, {})
    code, console, _ = boot(root, expect="init: boot failed", timeout=180)
    assert code == 0, console[-3000:]
    assert "no configuration file on TFTP server 10.0.2.2" in console
    assert "pxelinux.cfg/01-52-54-00-12-34-56" in console  # says what it tried
    assert "Kernel panic" not in console


def test_debug_variant_boots(parts: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    root = tftp_root(parts, tmp_path, {"pxelinux.cfg/default": "DEFAULT linux\n" + entry(
        "linux", "scenario=debug")}, image="pxelinux-debug.0")
    code, console, seconds = boot(root)
    assert code == 0, console[-3000:]
    assert stage2_cmdline(console) == "console=ttysclp0 scenario=debug"
    assert "trying config pxelinux.cfg/default" in console  # the verbose boot script
    report(capsys, "debug variant", seconds)


def test_build_and_boot_in_one_step_with_an_entry(parts: Path, sysroot: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`compose RECIPE --boot --entry ...`: the temporary TFTP root and its default file
    come from the entry, the host's kernel and initrd are copied in."""
    done = compose(ROOT / "recipes/pxelinux.yaml", "--sysroot", sysroot, "-o",
                   tmp_path / "pxelinux.0", "--boot", "--entry",
                   f"linux: {parts / 'vmlinuz'} {parts / 'stage2.img'} console=ttysclp0 "
                   "via=entry", "--expect", MARKER, "--timeout", 240, "-v", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert stage2_cmdline(done.stdout) == "console=ttysclp0 via=entry"
    seen = re.search(r"seen after ([0-9.]+) s", done.stderr)
    assert seen
    report(capsys, "--boot --entry", float(seen.group(1)))
