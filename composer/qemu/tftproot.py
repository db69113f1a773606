"""The TFTP root a network-booted guest reads: the boot file and a PXELINUX config.

`compose boot` plays the PXE server: IMAGE is served as pxelinux.0 and `--entry`
lines become pxelinux.cfg/default, whose files are copied in beside it, as an
administrator would lay out a real TFTP server.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from composer.errors import InputError

BOOTFILE = "pxelinux.0"


@dataclass(frozen=True)
class BootEntry:
    """One LABEL of the PXELINUX config the guest's initramfs will read."""

    label: str
    kernel: str
    initrds: tuple[str, ...] = ()
    append: str = ""


ENTRY_FORMAT = ("'LABEL: KERNEL [INITRD[,INITRD...]|-] [APPEND...]', e.g. "
                "'linux: vmlinuz initrd.img console=ttysclp0'")


def parse_entry(text: str) -> BootEntry:
    """`LABEL: KERNEL INITRD APPEND...`; the second word is the initrd list unless it is
    `-` (no initrd) or holds a `=` (then the kernel arguments start there)."""
    label, colon, rest = text.partition(":")
    words = rest.split()
    if not colon or not label.strip() or len(label.split()) != 1 or not words:
        raise InputError(f"--entry {text!r} is not of the form {ENTRY_FORMAT}")
    kernel, words = words[0], words[1:]
    initrds: tuple[str, ...] = ()
    if words and (words[0] == "-" or "=" not in words[0]):
        initrds = tuple(p for p in words[0].split(",") if p and p != "-")
        words = words[1:]
    return BootEntry(label.strip(), kernel, initrds, " ".join(words))


def pxelinux_config(entries: Sequence[BootEntry]) -> str:
    """A PXELINUX config whose DEFAULT is the first entry."""
    lines = ["# written by compose boot", f"DEFAULT {entries[0].label}", ""]
    for entry in entries:
        lines += [f"LABEL {entry.label}", f"  KERNEL {entry.kernel}"]
        if entry.initrds:
            lines.append(f"  INITRD {','.join(entry.initrds)}")
        if entry.append:
            lines.append(f"  APPEND {entry.append}")
        lines.append("")
    return "\n".join(lines)


def lay_out_tftp(root: Path, image: Path, entries: Sequence[BootEntry]) -> None:
    """A fresh TFTP root: IMAGE as pxelinux.0, the entries' host files copied in by their
    base names (into a numbered directory when two differ), and pxelinux.cfg/default
    when there are entries."""
    shutil.copyfile(image, root / BOOTFILE)
    served: dict[Path, str] = {}
    taken = {BOOTFILE, "pxelinux.cfg"}

    def serve(host_path: str, what: str) -> str:
        source = Path(host_path).expanduser().resolve()
        if not source.is_file():
            raise InputError(f"--entry {what} {host_path!r} is not a file on this host")
        if source not in served:
            name, n = source.name, 0
            while name in taken:
                n += 1
                name = f"{n}/{source.name}"
            (root / name).parent.mkdir(exist_ok=True)
            shutil.copyfile(source, root / name)
            taken.add(name)
            served[source] = name
        return served[source]

    tftp_entries = [BootEntry(e.label, serve(e.kernel, "kernel"),
                              tuple(serve(i, "initrd") for i in e.initrds), e.append)
                    for e in entries]
    if tftp_entries:
        (root / "pxelinux.cfg").mkdir()
        (root / "pxelinux.cfg" / "default").write_text(pxelinux_config(tftp_entries))


def bootfile_in(tftp: Path, image: Path) -> str:
    """The boot file name inside a user's TFTP root: IMAGE where it lies when it is inside
    (so the PXELINUX path prefix is its directory, as on a real server), else a copy as
    pxelinux.0, unless a different pxelinux.0 is already there: that is never overwritten."""
    if not tftp.is_dir():
        raise InputError(f"--tftp {tftp} is not a directory")
    resolved, root = image.resolve(), tftp.resolve()
    if resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix()
    target = root / BOOTFILE
    if target.exists() and target.read_bytes() != resolved.read_bytes():
        raise InputError(f"{target} exists and differs from {image}",
                         hint=f"boot {target} itself, or remove it to let compose copy {image}")
    if not target.exists():
        shutil.copyfile(resolved, target)
    return BOOTFILE
