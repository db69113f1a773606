"""The image's kernel: a host file (--kernel), or the one a pattern names in the sysroot.

Either way its s390 boot header is read and checked here, once; later stages take the
header as sound.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from composer.errors import KernelError
from composer.image.s390 import BootHeader, read_kernel, release_of
from composer.resolve.sysroot import Sysroot


@dataclass(frozen=True)
class Kernel:
    """The kernel a build boots: its host file and its boot header."""

    path: Path
    header: BootHeader
    note: str = ""  # how it was chosen, when that was not obvious from the recipe

    @property
    def release(self) -> str | None:
        return release_of(self.header.kernel_version)


def kernel_at(path: Path) -> Kernel:
    """The kernel file at a host path."""
    return Kernel(path, read_kernel(path))


def kernel_in(sysroot: Path, pattern: str) -> Kernel:
    """The one kernel `pattern` (an absolute path or glob in the sysroot) names."""
    host, note = _sysroot_match(sysroot, pattern)
    return Kernel(host, read_kernel(host), note)


def _sysroot_match(sysroot: Path, pattern: str) -> tuple[Path, str]:
    """The one kernel `pattern` names, looked up chroot-like: an absolute symlink in the
    sysroot (/boot/vmlinuz -> /boot/vmlinuz-6.1.0) stays in the sysroot, a loop is an
    error, and the host's own /boot is never reached."""
    if not pattern.startswith("/"):
        raise KernelError(f"kernel.image {pattern!r} must be an absolute path in the sysroot")
    root = Sysroot(sysroot)
    matches = root.glob(pattern)
    if not matches:
        if not any(c in pattern for c in "*?["):
            root.lookup(pattern)  # raises, naming the missing part and the links followed
        raise KernelError(f"no kernel matches {pattern} in sysroot {sysroot}",
                          hint="check --sysroot, or pass --kernel PATH")
    if len(matches) == 1:
        return root.host(matches[0]), ""
    running = _running_kernel(sysroot, matches)
    if running is not None:
        return root.host(running), (
            f"kernel.image {pattern} matches {len(matches)} kernels; using the running one "
            f"(uname -r), {running}; pass --kernel PATH for another")
    host_note = (f"; the running kernel, vmlinuz-{os.uname().release}, is not one of them"
                 if _is_host_root(sysroot) else "")
    raise KernelError(f"kernel.image {pattern} matches {len(matches)} files in the "
                      f"sysroot ({', '.join(matches)}){host_note}; name one",
                      hint="or pass --kernel PATH")


def _running_kernel(sysroot: Path, matches: list[str]) -> str | None:
    """On the host itself (sysroot /), the kernel it runs, as the seed's Makefile takes
    `uname -r`: after an update /boot holds several, and the running one is the one whose
    modules are known to load. Debian and Fedora both name it vmlinuz-RELEASE."""
    if not _is_host_root(sysroot):
        return None
    release = os.uname().release
    running = [m for m in matches if m.rsplit("/", 1)[-1] == f"vmlinuz-{release}"]
    return running[0] if len(running) == 1 else None


def _is_host_root(sysroot: Path) -> bool:
    try:
        here, root = os.stat(sysroot), os.stat("/")
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (root.st_dev, root.st_ino)
