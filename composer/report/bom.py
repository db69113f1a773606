"""The SBOM a build writes (`--sbom FILE`), in the form asked: SPDX 2.3 or CycloneDX 1.5
JSON, both from the one list of the image's files (composer/report/sbom.py)."""

from __future__ import annotations

from pathlib import Path

from composer.manifest import Entry
from composer.report.cyclonedx import cyclonedx_document
from composer.report.packages import PackageDatabase
from composer.report.sbom import image_files, render, spdx_document


def write_sbom(path_hint: str, entries: tuple[Entry, ...], kernel: Path | None,
               sysroot: Path, name: str, recipe: str, epoch: int,
               form: str = "spdx") -> tuple[bytes, str | None]:
    """The SBOM's bytes (SPDX 2.3 or CycloneDX 1.5 JSON), and a warning when the sysroot
    has no dpkg database."""
    db = PackageDatabase.load(sysroot)
    files = image_files(entries, kernel, sysroot, db)
    warning = None
    if db is None:
        warning = (f"{path_hint}: the sysroot {sysroot} has no dpkg database "
                   "(var/lib/dpkg/status), so no file is attributed to a package; "
                   "`compose sysroot` writes one")
    if form == "cyclonedx":
        return render(cyclonedx_document(name, recipe, files, db, epoch)), warning
    return render(spdx_document(name, recipe, files, db, epoch)), warning
