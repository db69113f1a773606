"""The dpkg database of a fetched sysroot: var/lib/dpkg/status and info/PKG.list.

`dpkg-deb -x` unpacks files but records nothing, so a sysroot would not say which
package a file came from. This writes what dpkg itself would have after installing the
same .debs: one status stanza per package (its control fields, `Status: install ok
installed` after `Package`) and the list of its paths (`/.` first, then every path
without a trailing slash), named PKG:ARCH.list for `Multi-Arch: same` packages as dpkg
names them. A real host (sysroot /) has the same files, so there is one way to read
them (composer/packages.py).
"""

from __future__ import annotations

import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from composer.fetch.debian import FetchError, stanzas

DPKG_DIR = Path("var/lib/dpkg")


@dataclass(frozen=True)
class DebRecord:
    """What dpkg keeps about one installed .deb."""

    control: str  # the control file's text, as dpkg-deb prints it
    paths: tuple[str, ...]  # "/.", "/bin", "/bin/busybox", ...

    @property
    def fields(self) -> dict[str, str]:
        return next(iter(stanzas(self.control)), {})

    @property
    def list_name(self) -> str:
        fields = self.fields
        name = fields.get("Package", "unknown")
        if fields.get("Multi-Arch") == "same":
            return f"{name}:{fields.get('Architecture', '')}.list"
        return f"{name}.list"


def read_deb(deb: Path) -> DebRecord:
    """The control file and the path list of a .deb, from dpkg-deb."""
    control = subprocess.run(["dpkg-deb", "--info", str(deb), "control"],
                             capture_output=True, text=True, check=False)
    if control.returncode != 0:
        raise FetchError(f"dpkg-deb --info {deb.name} failed: {control.stderr.strip()}")
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        names = []
        with tarfile.open(fileobj=process.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.removeprefix("./").removeprefix(".").rstrip("/")
                names.append("/" + name if name else "/.")
        process.stdout.close()
        if process.wait() != 0:
            raise FetchError(f"dpkg-deb --fsys-tarfile {deb.name} failed")
    return DebRecord(control.stdout, tuple(dict.fromkeys(names)))


def status_stanza(control: str) -> str:
    """The control text with dpkg's Status line after Package, as in var/lib/dpkg/status."""
    lines = control.rstrip("\n").split("\n")
    out = []
    for line in lines:
        out.append(line)
        if line.startswith("Package:"):
            out.append("Status: install ok installed")
    return "\n".join(out) + "\n"


def write_database(root: Path, records: list[DebRecord]) -> None:
    """Write status and info/*.list under ROOT/var/lib/dpkg (sorted: reproducible)."""
    dpkg = root / DPKG_DIR
    info = dpkg / "info"
    info.mkdir(parents=True, exist_ok=True)
    ordered = sorted(records, key=lambda r: r.fields.get("Package", ""))
    (dpkg / "status").write_text("\n".join(status_stanza(r.control) for r in ordered))
    for record in ordered:
        (info / record.list_name).write_text("\n".join(record.paths) + "\n")


def has_database(root: Path) -> bool:
    return (root / DPKG_DIR / "status").is_file()
