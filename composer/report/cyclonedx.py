"""The same bill of materials as CycloneDX 1.5 JSON (`--sbom FILE --sbom-format cyclonedx`).

Built from the list composer/report/sbom.py makes (every regular file, its digests and its
Debian package): one `library` component per package, with its version, purl and the
license expression its copyright file declares, holding `file` components with their
SHA-1 and SHA-256; the recipe's own files under a component for the recipe. Deterministic
like the SPDX document: sorted, the timestamp is SOURCE_DATE_EPOCH, and the serial number
is a UUID derived from the content.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from composer import __version__
from composer.inputfile import read_text_if_present
from composer.report.licenses import package_license
from composer.report.packages import PackageDatabase
from composer.report.sbom import ImageFile, purl


def _file(item: ImageFile) -> dict[str, Any]:
    return {
        "type": "file", "bom-ref": f"file:{item.path}", "name": item.path,
        "hashes": [{"alg": "SHA-1", "content": item.sha1},
                   {"alg": "SHA-256", "content": item.sha256}],
        "properties": [{"name": "composer:origin", "value": item.origin},
                       {"name": "composer:size", "value": str(item.size)}],
    }


def _licenses(expression: str) -> list[dict[str, Any]]:
    return [] if expression == "NOASSERTION" else [{"expression": expression}]


def cyclonedx_document(name: str, recipe: str, files: list[ImageFile],
                       db: PackageDatabase | None, epoch: int) -> dict[str, Any]:
    content = hashlib.sha256()
    for item in files:
        content.update(f"{item.path}\0{item.sha256}\0{item.package}\n".encode())
    digest = content.hexdigest()
    by_package: dict[str | None, list[ImageFile]] = {}
    for item in files:
        by_package.setdefault(item.package, []).append(item)
    components: list[dict[str, Any]] = []
    for package_name in sorted(p for p in by_package if p is not None):
        assert db is not None
        package = db.packages[package_name]
        text = read_text_if_present(db.copyright_file(package_name), "the copyright file")
        license_ = package_license(text, package_name)
        component: dict[str, Any] = {
            "type": "library", "bom-ref": purl(package), "name": package.name,
            "version": package.version, "purl": purl(package),
            "supplier": {"name": package.maintainer or "Debian"},
            "components": [_file(f) for f in by_package[package_name]],
        }
        if license_.expression != "NOASSERTION":
            component["licenses"] = _licenses(license_.expression)
        components.append(component)
    if by_package.get(None):
        components.append({"type": "application", "bom-ref": f"recipe:{recipe}",
                           "name": recipe, "version": digest[:16],
                           "components": [_file(f) for f in by_package[None]]})
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'composer:{digest}')}",
        "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
            "tools": {"components": [{"type": "application", "name": "composer",
                                      "version": __version__}]},
            "component": {"type": "firmware", "bom-ref": f"image:{name}", "name": name,
                          "version": digest[:16]},
        },
        "components": components,
        "dependencies": [{"ref": f"image:{name}",
                          "dependsOn": [c["bom-ref"] for c in components]}],
    }
