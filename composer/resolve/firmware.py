"""Firmware files for modules, found where the kernel's loader looks for them.

The order is the kernel's (drivers/base/firmware_loader/main.c): `/lib/firmware/updates/
<release>`, `/lib/firmware/updates`, `/lib/firmware/<release>`, `/lib/firmware`; plain
first, then `.zst`, then `.xz`. Missing firmware is a result, not an error: many drivers
list firmware for hardware variants nobody has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from composer.resolve.sysroot import Sysroot

FIRMWARE_DIRS = (
    "/lib/firmware/updates/{release}",
    "/lib/firmware/updates",
    "/lib/firmware/{release}",
    "/lib/firmware",
)
FIRMWARE_SUFFIXES = ("", ".zst", ".xz")  # the kernel's order (firmware_loader/main.c)


@dataclass(frozen=True, slots=True)
class Firmware:
    """A firmware file some modules ask for, where it was found."""

    name: str  # as the module names it in firmware=
    path: str  # image path of the file found (may carry .xz/.zst)
    source: Path
    wanted_by: tuple[str, ...]


def find_firmware(
    sysroot: Sysroot, release: str, names: Iterable[str]
) -> dict[str, tuple[str, Path]]:
    """{name: (image path, host file)} for the firmware files the kernel would find.

    Each firmware directory is listed once, so a name whose first component is not
    there costs no lookup: all-modules images ask for thousands of absent files.
    """
    dirs = [d.format(release=release) for d in FIRMWARE_DIRS]
    listed = {d: set(sysroot.listdir(d)) for d in dirs}
    found: dict[str, tuple[str, Path]] = {}
    for name in names:
        if name.startswith("/") or ".." in name.split("/"):
            continue
        head = name.split("/", 1)[0]
        for suffix in FIRMWARE_SUFFIXES:
            first = head if "/" in name else head + suffix
            image = next((f"{d}/{name}{suffix}" for d in dirs if first in listed[d]
                          and sysroot.is_file(f"{d}/{name}{suffix}")), None)
            if image is not None:
                found[name] = (image, sysroot.host(image))
                break
    return found
