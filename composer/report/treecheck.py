"""`compose check TREE`: a TFTP/HTTP tree checked before any guest boots from it.

Each pxelinux.cfg file is read by the image's own boot script in its dry run
(`sh ROOT/sbin/pxeboot --dry-run --tftp-root TREE` from the image's files, with
PXE_DRY_ENTRIES=1 for one `entry=` line per LABEL as the script resolves it), so the
PXELINUX rules have one definition. This module only judges what the script reports:
every label's kernel and initrds are in the tree (or answer, with --online), the command
line fits the kernel's own maximum (0x10430 of that kernel), the initrds fit the guest's
memory, and a config that QEMU's firmware reads itself (no s390 image is the boot file
beside it) stays within the firmware's limits (pc-bios/s390-ccw/netmain.c: a 2048-byte
cfgbuf, NUL included; MAX_PXELINUX_ENTRIES 16; APPEND copied with strncpy into an
ARCH_COMMAND_LINE_SIZE of 896).
"""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.errors import ComposerError, InputError
from composer.image.s390 import looks_like_boot_image, read_kernel

FIRMWARE_CONFIG_MAX = 2048 - 1  # cfgbuf[2048], the last byte for the NUL
FIRMWARE_ENTRIES_MAX = 16  # MAX_PXELINUX_ENTRIES
FIRMWARE_APPEND_MAX = 896 - 1  # strncpy(0x10480, append, ARCH_COMMAND_LINE_SIZE)
SEPARATOR = "\x1f"
SCHEMA = "composer.check/1"


@dataclass(frozen=True)
class Problem:
    config: str
    label: str
    check: str  # missing, not-kernel, cmdline, memory, firmware-size, ... dry-run
    message: str

    def line(self) -> str:
        where = f"{self.config}: label '{self.label}'" if self.label else self.config
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Label:
    name: str
    type: str
    kernel: str
    initrds: tuple[str, ...]
    append: str  # the command line the kernel gets from the boot script
    raw_append: str = ""  # APPEND as written (what QEMU's firmware copies)


@dataclass
class DryRun:
    config: str
    labels: list[Label] = field(default_factory=list)
    chosen: str = ""
    returncode: int = 0
    errors: list[str] = field(default_factory=list)


def find_configs(tree: Path) -> list[str]:
    """Every file in a directory named pxelinux.cfg, relative to TREE, sorted."""
    found = []
    for directory, _, names in os.walk(tree):
        if Path(directory).name != "pxelinux.cfg":
            continue
        for name in names:
            path = Path(directory) / name
            if path.is_file():
                found.append(path.relative_to(tree).as_posix())
    return sorted(found)


@contextmanager
def script_root(image: Path) -> Iterator[Path]:
    """The image's files, unpacked into a temporary directory, for its boot script."""
    import tempfile

    from composer.read.extract import extract_file

    with tempfile.TemporaryDirectory(prefix="compose-check-") as scratch:
        root = Path(scratch)
        extract_file(image, root, privileged=False)
        if not (root / "sbin/pxeboot").is_file():
            raise InputError(f"{image} has no /sbin/pxeboot: not a composer PXELINUX image",
                             hint="give --image the pxelinux.0 that serves this tree")
        library = root / "lib/pxeboot/boot.sh"
        if "boot_report_entries" not in library.read_text(errors="replace"):
            raise InputError(f"the boot script of {image} cannot list its labels in a dry "
                             "run (PXE_DRY_ENTRIES)", hint="rebuild the image with this "
                             "composer, or give --image a newer one")
        yield root


def dry_run(root: Path, tree: Path, config: str, *, mac: str, ip: str) -> DryRun:
    """The boot script's dry run of CONFIG (found through DHCP option 209, relative to
    the prefix that holds its pxelinux.cfg directory)."""
    prefix = config.rsplit("pxelinux.cfg/", 1)[0]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PXE_VERBOSITY": "1",
           "PXE_DRY_ENTRIES": "1", "siaddr": "10.0.2.2", "boot_file": f"{prefix}pxelinux.0",
           "pxeconffile": config[len(prefix):], "ip": ip, "subnet": "255.255.255.0",
           "router": "10.0.2.2", "mac": mac}
    try:
        result = subprocess.run(["sh", str(root / "sbin/pxeboot"), "--dry-run",
                                 "--tftp-root", str(tree)], env=env, capture_output=True,
                                text=True, timeout=120, check=False,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return DryRun(config, returncode=124, errors=["the dry run took over 120 s"])
    run = DryRun(config, returncode=result.returncode)
    for line in result.stdout.splitlines():
        if line.startswith("entry="):
            fields = line[len("entry="):].split(SEPARATOR)
            fields += [""] * (6 - len(fields))
            run.labels.append(Label(fields[0], fields[1], fields[2],
                                    tuple(i for i in fields[3].split(",") if i), fields[4],
                                    fields[5]))
        elif line.startswith("label="):
            run.chosen = line[len("label="):]
    for line in result.stderr.splitlines():
        if "booting label '" in line and not run.chosen:
            run.chosen = line.split("booting label '", 1)[1].split("'", 1)[0]
        if ": error: " in line:
            run.errors.append(line.split(": error: ", 1)[1])
    return run


def _answers(url: str) -> str | None:
    """None when URL answers 2xx to HEAD, else why not."""
    try:
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=10) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        return f"answers HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return f"does not answer ({getattr(error, 'reason', error)})"
    return None if 200 <= status < 300 else f"answers HTTP {status}"


def _file_problem(tree: Path, name: str, what: str, online: bool) -> tuple[str, int] | None:
    """('why it is missing', 0) or ('', size); None for a URL left unchecked."""
    if "://" in name:
        if not online:
            return None
        why = _answers(name)
        return (f"{what} {name} {why}", 0) if why else ("", 0)
    path = tree / name.lstrip("/")
    if not path.is_file():
        return (f"{what} '{name}' is not in the tree", 0)
    return ("", path.stat().st_size)


def check_label(tree: Path, config: str, label: Label, *, online: bool,
                memory_mb: int | None) -> list[Problem]:
    if label.type not in ("kernel", "linux"):
        return []
    problems = []
    found = _file_problem(tree, label.kernel, "kernel", online)
    if found is not None and found[0]:
        problems.append(Problem(config, label.name, "missing", found[0]))
    elif found is not None:
        try:
            header = read_kernel(tree / label.kernel.lstrip("/"))
        except ComposerError as error:
            text = str(error).replace(str(tree / label.kernel.lstrip("/")), f"'{label.kernel}'")
            problems.append(Problem(config, label.name, "not-kernel", text))
        else:
            length = len(label.append.encode())
            if length + 1 > header.max_cmdline:
                problems.append(Problem(
                    config, label.name, "cmdline",
                    f"the command line is {length} bytes; kernel '{label.kernel}' takes at "
                    f"most {header.max_cmdline - 1} (0x10430: {header.max_cmdline} with the "
                    "NUL)"))
    total = 0
    for initrd in label.initrds:
        got = _file_problem(tree, initrd, "initrd", online)
        if got is not None and got[0]:
            problems.append(Problem(config, label.name, "missing", got[0]))
        elif got is not None:
            total += got[1]
    if memory_mb is not None and total > memory_mb << 20:
        problems.append(Problem(config, label.name, "memory",
                                f"the initrds take {total:,} bytes, more than the guest's "
                                f"{memory_mb} MiB of memory"))
    return problems


def firmware_reads(tree: Path, config: str) -> bool:
    """Whether QEMU's firmware would read CONFIG itself: no s390 image is the boot file
    (PREFIX/pxelinux.0) beside its pxelinux.cfg directory."""
    prefix = config.rsplit("pxelinux.cfg/", 1)[0]
    boot = tree / prefix / "pxelinux.0"
    try:
        with open(boot, "rb") as f:
            return not looks_like_boot_image(f.read(0x10010))
    except OSError:
        return True


def check_firmware(tree: Path, run: DryRun) -> list[Problem]:
    problems = []
    size = (tree / run.config).stat().st_size
    if size > FIRMWARE_CONFIG_MAX:
        problems.append(Problem(run.config, "", "firmware-size",
                                f"{size} bytes; QEMU's firmware, which reads this config "
                                f"itself (no s390 image beside it), loads at most "
                                f"{FIRMWARE_CONFIG_MAX}"))
    if len(run.labels) > FIRMWARE_ENTRIES_MAX:
        problems.append(Problem(run.config, "", "firmware-entries",
                                f"{len(run.labels)} labels; QEMU's firmware reads the first "
                                f"{FIRMWARE_ENTRIES_MAX} only"))
    for label in run.labels:
        if len(label.raw_append.encode()) > FIRMWARE_APPEND_MAX:
            problems.append(Problem(run.config, label.name, "firmware-append",
                                    f"APPEND is {len(label.raw_append.encode())} bytes; QEMU's "
                                    f"firmware copies at most {FIRMWARE_APPEND_MAX}"))
    return problems


def check_config(tree: Path, run: DryRun, *, online: bool,
                 memory_mb: int | None) -> list[Problem]:
    problems = []
    for label in run.labels:
        problems += check_label(tree, run.config, label, online=online, memory_mb=memory_mb)
    if firmware_reads(tree, run.config):
        problems += check_firmware(tree, run)
    explained = any(p.label == run.chosen for p in problems) if run.chosen else False
    if run.returncode != 0 and not explained:
        why = run.errors[-1] if run.errors else f"it exited with status {run.returncode}"
        problems.append(Problem(run.config, run.chosen, "dry-run",
                                f"the boot script's dry run fails: {why}"))
    return problems


def check_json(tree: Path, configs: list[str], problems: list[Problem]) -> dict[str, Any]:
    return {"schema": SCHEMA, "tree": str(tree), "configs": configs, "ok": not problems,
            "problems": [{"config": p.config, "label": p.label, "check": p.check,
                          "message": p.message} for p in problems]}
