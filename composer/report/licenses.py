"""A Debian package's license, from its /usr/share/doc/PKG/copyright, as SPDX.

Only a machine-readable copyright file (DEP-5, "copyright-format/1.0", its `Format:`
line) states licenses: the short names of its `License:` fields are mapped to SPDX
identifiers (Debian's GPL-2 is GPL-2.0-only, GPL-2+ GPL-2.0-or-later, ...) and joined
with AND. A name SPDX lacks becomes LicenseRef-NAME, with the stand-alone License
paragraph's text when the file has one. A free-form copyright file states nothing a
program can trust; what it points at in /usr/share/common-licenses is kept as
LicenseRef-debian-common-NAME ("it refers to that text"), never guessed further.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Debian short names (copyright-format 1.0, "License specification") -> SPDX ids.
SPDX_IDS = {
    "apache-2.0": "Apache-2.0", "artistic": "Artistic-1.0-Perl", "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause", "cc0-1.0": "CC0-1.0",
    "expat": "MIT", "mit": "MIT", "isc": "ISC", "zlib": "Zlib", "x11": "X11",
    "openssl": "OpenSSL", "curl": "curl",
    "psf-2": "PSF-2.0", "unicode-data": "Unicode-DFS-2015", "ofl-1.1": "OFL-1.1",
    "mpl-1.1": "MPL-1.1", "mpl-2.0": "MPL-2.0", "epl-1.0": "EPL-1.0", "epl-2.0": "EPL-2.0",
}
# Families whose SPDX ids carry -only / -or-later, with the versions the SPDX list has.
VERSIONED = {"gpl": ("1.0", "2.0", "3.0"), "lgpl": ("2.0", "2.1", "3.0"),
             "agpl": ("1.0", "3.0"), "gfdl": ("1.1", "1.2", "1.3")}


@dataclass(frozen=True)
class PackageLicense:
    """A package's declared license as an SPDX expression, and how it was found."""

    expression: str  # an SPDX license expression, or NOASSERTION
    comment: str
    extracted: dict[str, str] = field(default_factory=dict)  # LicenseRef-x -> its text


def _ref(name: str) -> str:
    spelt = re.sub(r"[^A-Za-z0-9.-]+", "-", name.replace("+", "-plus-"))
    return "LicenseRef-" + re.sub(r"-{2,}", "-", spelt).strip("-")


def spdx_id(short: str) -> str:
    """One Debian short name (no `or`/`and`) as an SPDX id or a LicenseRef."""
    name = short.strip()
    key = name.lower()
    if key in SPDX_IDS:
        return SPDX_IDS[key]
    match = re.fullmatch(r"([a-z]+)-(\d+(?:\.\d+)?)(\+?)", key)
    if match and match.group(1) in VERSIONED:
        family, version, later = match.groups()
        version = version if "." in version else f"{version}.0"
        if version not in VERSIONED[family]:
            return _ref(name)
        base = f"{family.upper()}-{version}"
        return f"{base}-or-later" if later else f"{base}-only"
    return _ref(name)


def expression(names: str) -> str:
    """`GPL-2+ or Artistic` -> `GPL-2.0-or-later OR Artistic-1.0-Perl`; `with` exceptions
    and anything unparseable become one LicenseRef."""
    words = names.split()
    if not words or any(w.lower() == "with" for w in words) or "," in names:
        return _ref(names)
    parts: list[str] = []
    for word in words:
        lowered = word.lower()
        if lowered in ("or", "and"):
            parts.append(lowered.upper())
        else:
            parts.append(spdx_id(word))
    if parts[0] in ("OR", "AND") or parts[-1] in ("OR", "AND"):
        return _ref(names)
    return " ".join(parts)


def _paragraphs(text: str) -> list[dict[str, str]]:
    """DEP-5 paragraphs: each field's first line only (the short name of a License
    field; its continuation lines are the license text)."""
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
        paragraphs.append(fields)
    return paragraphs


def is_dep5(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    return first.lower().startswith("format:") and "copyright-format" in first


def package_license(text: str | None, package: str) -> PackageLicense:
    """The declared license of PACKAGE from its copyright file's TEXT (None: missing)."""
    if text is None:
        return PackageLicense("NOASSERTION", f"{package} has no /usr/share/doc/{package}/"
                                             "copyright")
    if not is_dep5(text):
        return _free_form(text, package)
    found = [fields["license"] for fields in _paragraphs(text)
             if "files" in fields and fields.get("license")]
    expressions = list(dict.fromkeys(expression(s) for s in found if s))
    if not expressions:
        return PackageLicense("NOASSERTION", "machine-readable copyright file without "
                                             "License fields")
    joined = " AND ".join(f"({e})" if " " in e else e for e in expressions)
    refs = set(re.findall(r"LicenseRef-[A-Za-z0-9.-]+", joined))
    extracted = {ref: f"See /usr/share/doc/{package}/copyright (license {ref[11:]})"
                 for ref in sorted(refs)}
    return PackageLicense(joined, f"from /usr/share/doc/{package}/copyright "
                                  "(machine-readable, DEP-5)", extracted)


def _free_form(text: str, package: str) -> PackageLicense:
    named = sorted(set(re.findall(r"/usr/share/common-licenses/([A-Za-z0-9.+-]*[A-Za-z0-9+])",
                                  text)))
    if not named:
        return PackageLicense("NOASSERTION", f"/usr/share/doc/{package}/copyright is not "
                                             "machine-readable (DEP-5) and names no license")
    refs = [_ref(f"debian-common-{name}") for name in named]
    extracted = {ref: f"The copyright file of the Debian package {package}, which is not "
                      f"machine-readable, refers to /usr/share/common-licenses/{name}."
                 for ref, name in zip(refs, named, strict=True)}
    return PackageLicense(" AND ".join(refs),
                          f"/usr/share/doc/{package}/copyright is not machine-readable (DEP-5);"
                          f" it refers to {', '.join(named)} in /usr/share/common-licenses",
                          extracted)
