"""Package-level changes between two images' SBOMs (`compose diff A.spdx.json B.spdx.json`).

What a packager asks of a rebuild: which Debian packages came in, went, or changed
version (and license), not which of their files moved. The image's and the recipe's own
packages (composer's SPDXRef-Package-image/-recipe) are left out: their "version" is a
content digest that changes with any file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer.errors import InputError
from composer.inputfile import UnreadableFile, open_regular
from composer.read.diff import paired, presence

OWN = ("SPDXRef-Package-image", "SPDXRef-Package-recipe")


def is_sbom(path: Path) -> bool:
    """Whether PATH is an SPDX JSON document (by its first bytes, not its name)."""
    try:
        with open_regular(path) as f:  # a FIFO is refused, not waited on
            head = f.read(4096)
    except (UnreadableFile, OSError):
        return False
    return head.lstrip()[:1] == b"{" and b'"spdxVersion"' in head


@dataclass(frozen=True)
class PackageChange:
    name: str
    status: str  # added, removed, changed
    a: dict[str, str] | None
    b: dict[str, str] | None


def read_sbom(path: Path) -> dict[str, Any]:
    """The SPDX JSON document at PATH, read through the input door, or an InputError.

    The one reader of an SBOM file for diff, why and --sizes.
    """
    try:
        with open_regular(path) as file:
            document = json.loads(file.read())
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read the SBOM {path}: {error}") from None
    if not isinstance(document, dict) or not str(document.get("spdxVersion", "")).startswith(
            "SPDX-"):
        raise InputError(f"{path} is not an SPDX JSON document (no spdxVersion)")
    return document


def packages_of(path: Path) -> dict[str, dict[str, str]]:
    """name -> {version, license} of the Debian packages an SPDX document lists."""
    document = read_sbom(path)
    found: dict[str, dict[str, str]] = {}
    for package in document.get("packages", []):
        if not isinstance(package, dict) or package.get("SPDXID") in OWN:
            continue
        found[str(package.get("name"))] = {
            "version": str(package.get("versionInfo", "")),
            "license": str(package.get("licenseDeclared", "NOASSERTION"))}
    return found


def diff_sboms(a: Path, b: Path) -> list[PackageChange]:
    old, new = packages_of(a), packages_of(b)
    return [PackageChange(name, presence(before, after), before, after)
            for name, before, after in paired(old, new) if before != after]


def sbom_diff_lines(a: Path, b: Path, changes: list[PackageChange]) -> list[str]:
    lines = [f"--- {a} (SBOM)", f"+++ {b} (SBOM)"]
    for change in changes:
        if change.status == "added" and change.b:
            lines.append(f"+ {change.name} {change.b['version']}")
        elif change.status == "removed" and change.a:
            lines.append(f"- {change.name} {change.a['version']}")
        elif change.a and change.b:
            parts = [f"{change.a[k]} -> {change.b[k]}" for k in ("version", "license")
                     if change.a[k] != change.b[k]]
            lines.append(f"~ {change.name} {'; '.join(parts)}")
    counts = {s: sum(1 for c in changes if c.status == s) for s in ("added", "removed",
                                                                       "changed")}
    lines.append("no package differences" if not changes else
                 f"{counts['added']} added, {counts['removed']} removed, "
                 f"{counts['changed']} changed packages")
    return lines


def sbom_diff_json(a: Path, b: Path, changes: list[PackageChange]) -> dict[str, Any]:
    return {"schema": "composer.report.sbom-diff/1", "a": str(a), "b": str(b),
            "equal": not changes,
            "packages": [{"name": c.name, "status": c.status, "a": c.a, "b": c.b}
                         for c in changes]}
