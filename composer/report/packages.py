"""Which Debian package a sysroot file came from: the sysroot's dpkg database.

var/lib/dpkg/status has a stanza per installed package; var/lib/dpkg/info/PKG.list (or
PKG:ARCH.list) its paths. A real host (sysroot /) has them, and `compose sysroot` writes
them too (composer/fetch/dpkgdb.py), so this is the one way to read them.

Paths are compared canonically: on a usr-merged system /lib is a symlink to usr/lib, and
a package may list /lib/s390x-linux-gnu/libc.so.6 while the build found
/usr/lib/s390x-linux-gnu/libc.so.6 (or the other way round). Both sides are reduced to
the path with every directory symlink inside the sysroot resolved.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from composer.fetch.debian import stanzas
from composer.inputfile import read_text_if_present

DPKG = "var/lib/dpkg"


@dataclass(frozen=True)
class InstalledPackage:
    """One package of the dpkg status file: the fields an SBOM names."""

    name: str
    version: str
    arch: str
    source: str  # the source package (its name only), the package's own name if none
    homepage: str
    maintainer: str


@dataclass
class PackageDatabase:
    """Packages by name, and the owner of each canonical path."""

    root: Path
    packages: dict[str, InstalledPackage] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    _dirs: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, root: Path) -> PackageDatabase | None:
        """The database of sysroot ROOT, None when it has none."""
        status = root / DPKG / "status"
        text = read_text_if_present(status, "dpkg's status file")
        if text is None:
            return None
        db = cls(root)
        for fields in stanzas(text):
            if "install ok installed" not in fields.get("Status", ""):
                continue
            name = fields["Package"]
            source = fields.get("Source", name).split(" ")[0] or name
            db.packages[name] = InstalledPackage(
                name, fields.get("Version", ""), fields.get("Architecture", ""), source,
                fields.get("Homepage", ""), fields.get("Maintainer", ""))
        info = root / DPKG / "info"
        for name in sorted(db.packages):
            package = db.packages[name]
            for list_name in (f"{name}.list", f"{name}:{package.arch}.list"):
                listed = read_text_if_present(info / list_name, "dpkg's file list",
                                              errors="surrogateescape")
                if listed is None:
                    continue
                lines = listed.splitlines()
                for path in lines:
                    if path and path != "/.":
                        db.owners.setdefault(db.canonical(path), name)
        return db

    def canonical(self, path: str) -> str:
        """PATH with its directories' symlinks resolved inside the root (usr-merge)."""
        parent, _, name = path.rstrip("/").rpartition("/")
        return f"{self._canonical_dir(parent)}/{name}" if name else "/"

    def _canonical_dir(self, directory: str) -> str:
        if directory in ("", "/"):
            return ""
        known = self._dirs.get(directory)
        if known is not None:
            return known
        parent, _, name = directory.rpartition("/")
        base = self._canonical_dir(parent)
        here = f"{base}/{name}"
        resolved = here
        for _ in range(40):  # a loop is no directory: leave it as it is
            try:
                target = os.readlink(self.root / resolved.lstrip("/"))
            except OSError:
                break
            if target.startswith("/"):
                resolved = os.path.normpath(target)
            else:
                resolved = os.path.normpath(f"{resolved.rpartition('/')[0]}/{target}")
            resolved = "" if resolved == "/" else resolved
        self._dirs[directory] = resolved
        return resolved

    def owner_of(self, sysroot_path: str) -> InstalledPackage | None:
        """The package that installed SYSROOT_PATH (an absolute path in the sysroot)."""
        name = self.owners.get(self.canonical(sysroot_path))
        return self.packages.get(name) if name is not None else None

    def copyright_file(self, package: str) -> Path:
        return self.root / "usr/share/doc" / package / "copyright"
