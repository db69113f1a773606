"""The image's software bill of materials: SPDX 2.3 JSON (`--sbom FILE`).

Every regular file of the image (the kernel and each initramfs file) is an SPDX file
with its SHA1 (SPDX requires it) and SHA256, contained by the Debian package that
installed it in the sysroot (its dpkg database, composer/packages.py) or, for what the
recipe itself put there (templates, files, generated module indexes), by a package
standing for the recipe. Each Debian package carries its version, a purl, and the
license its copyright file declares (composer/licenses.py).

Deterministic: everything is sorted, SPDXIDs come from names and paths, the creation
time is SOURCE_DATE_EPOCH, and the documentNamespace is derived from the content, so
the same build gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from composer import __version__
from composer.inputfile import read_text_if_present
from composer.manifest import Entry, Kind
from composer.report.licenses import PackageLicense, package_license
from composer.report.packages import InstalledPackage, PackageDatabase

NOASSERTION = "NOASSERTION"
RECIPE_ID = "SPDXRef-Package-recipe"
IMAGE_ID = "SPDXRef-Package-image"
NAMESPACE = "https://composer.invalid/spdx"


@dataclass(frozen=True)
class ImageFile:
    """One file of the image: where it is, its digests and size, and who put it there."""

    path: str  # in the image; the kernel as its sysroot path
    size: int
    sha1: str
    sha256: str
    package: str | None  # the Debian package, None for the recipe's own
    origin: str  # the recipe entry or resolver that chose it


def _digests(entry: Entry) -> tuple[int, str, str]:
    sha1, sha256, size = hashlib.sha1(), hashlib.sha256(), 0
    if entry.data is not None:
        chunks: Any = [entry.data]
    else:
        assert entry.source is not None
        chunks = _chunks(entry.source)
    for chunk in chunks:
        sha1.update(chunk)
        sha256.update(chunk)
        size += len(chunk)
    return size, sha1.hexdigest(), sha256.hexdigest()


def _chunks(path: Path) -> Any:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def sysroot_path(source: Path | None, sysroot: Path) -> str | None:
    """The path inside the sysroot of a host file, None if it lies outside."""
    if source is None:
        return None
    try:
        return "/" + source.absolute().relative_to(sysroot.absolute()).as_posix()
    except ValueError:
        return None


def image_files(entries: tuple[Entry, ...], kernel: Path | None, sysroot: Path,
                db: PackageDatabase | None) -> list[ImageFile]:
    """The image's regular files, each with its owner, sorted by path."""
    files = []
    candidates = [e for e in entries if e.kind is Kind.FILE]
    if kernel is not None:
        candidates.append(Entry(sysroot_path(kernel, sysroot) or f"/{kernel.name}",
                                Kind.FILE, source=kernel, origin="kernel"))
    for entry in candidates:
        inside = sysroot_path(entry.source, sysroot)
        owner = db.owner_of(inside) if db is not None and inside is not None else None
        size, sha1, sha256 = _digests(entry)
        files.append(ImageFile(entry.path, size, sha1, sha256,
                               owner.name if owner else None, entry.origin))
    return sorted(files, key=lambda f: f.path)


def _spdx_id(prefix: str, name: str, taken: set[str]) -> str:
    base = f"SPDXRef-{prefix}-" + (re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-") or "x")
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def purl(package: InstalledPackage) -> str:
    version = quote(package.version, safe="")
    return f"pkg:deb/debian/{quote(package.name)}@{version}?arch={package.arch}"


def _verification_code(files: list[ImageFile]) -> dict[str, str]:
    joined = "".join(sorted(f.sha1 for f in files))
    return {"packageVerificationCodeValue": hashlib.sha1(joined.encode()).hexdigest()}


def _file_json(item: ImageFile, spdx_id: str) -> dict[str, Any]:
    return {
        "SPDXID": spdx_id,
        "fileName": "." + item.path,
        "checksums": [{"algorithm": "SHA1", "checksumValue": item.sha1},
                      {"algorithm": "SHA256", "checksumValue": item.sha256}],
        "licenseConcluded": NOASSERTION,
        "copyrightText": NOASSERTION,
        "comment": f"{item.size} bytes; put in the image by: {item.origin}",
    }


def _deb_json(package: InstalledPackage, spdx_id: str, license_: PackageLicense,
              files: list[ImageFile]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": package.name,
        "versionInfo": package.version,
        "supplier": f"Organization: {package.maintainer or 'Debian'}",
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": True,
        "packageVerificationCode": _verification_code(files),
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": license_.expression,
        "licenseComments": license_.comment,
        "copyrightText": NOASSERTION,
        "sourceInfo": f"built from the Debian source package {package.source}",
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                          "referenceLocator": purl(package)}],
    }
    if package.homepage:
        data["homepage"] = package.homepage
    return data


def _own_package(spdx_id: str, name: str, version: str, files: list[ImageFile],
                 comment: str) -> dict[str, Any]:
    return {
        "SPDXID": spdx_id, "name": name, "versionInfo": version,
        "supplier": NOASSERTION, "downloadLocation": NOASSERTION, "filesAnalyzed": True,
        "packageVerificationCode": _verification_code(files),
        "licenseConcluded": NOASSERTION, "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION, "comment": comment,
    }


def spdx_document(name: str, recipe: str, files: list[ImageFile],
                  db: PackageDatabase | None, epoch: int) -> dict[str, Any]:
    """The SPDX 2.3 document of an image made of FILES."""
    taken: set[str] = {RECIPE_ID, IMAGE_ID}
    by_package: dict[str | None, list[ImageFile]] = {}
    for item in files:
        by_package.setdefault(item.package, []).append(item)
    file_ids = {item.path: _spdx_id("File", item.path, taken) for item in files}
    content = hashlib.sha256()
    for item in files:
        content.update(f"{item.path}\0{item.sha256}\0{item.package}\n".encode())
    digest = content.hexdigest()
    packages = [_own_package(IMAGE_ID, name, digest[:16], files,
                             f"the boot image built from {recipe}")]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": IMAGE_ID}]
    extracted: dict[str, str] = {}
    for package_name in sorted(p for p in by_package if p is not None):
        assert db is not None
        package = db.packages[package_name]
        text = _read(db.copyright_file(package_name))
        license_ = package_license(text, package_name)
        extracted.update(license_.extracted)
        spdx_id = _spdx_id("Package-deb", package_name, taken)
        packages.append(_deb_json(package, spdx_id, license_, by_package[package_name]))
        relationships.append({"spdxElementId": IMAGE_ID, "relationshipType": "DEPENDS_ON",
                              "relatedSpdxElement": spdx_id})
        relationships += [{"spdxElementId": spdx_id, "relationshipType": "CONTAINS",
                           "relatedSpdxElement": file_ids[f.path]}
                          for f in by_package[package_name]]
    own = by_package.get(None, [])
    if own:
        packages.append(_own_package(RECIPE_ID, recipe, digest[:16], own,
                                     "files the recipe itself put in the image: its "
                                     "files and templates, and indexes the build generated"))
        relationships.append({"spdxElementId": IMAGE_ID, "relationshipType": "DEPENDS_ON",
                              "relatedSpdxElement": RECIPE_ID})
        relationships += [{"spdxElementId": RECIPE_ID, "relationshipType": "CONTAINS",
                           "relatedSpdxElement": file_ids[f.path]} for f in own]
    relationships += [{"spdxElementId": IMAGE_ID, "relationshipType": "CONTAINS",
                       "relatedSpdxElement": file_ids[f.path]} for f in files]
    document: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"{NAMESPACE}/{quote(name, safe='')}-{digest}",
        "creationInfo": {
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
            "creators": [f"Tool: composer-{__version__}"],
        },
        "packages": packages,
        "files": [_file_json(item, file_ids[item.path]) for item in files],
        "relationships": relationships,
    }
    if extracted:
        document["hasExtractedLicensingInfos"] = [
            {"licenseId": ref, "extractedText": text} for ref, text in sorted(extracted.items())]
    return document


def _read(path: Path) -> str | None:
    return read_text_if_present(path, "the copyright file")


def render(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode()
