"""Debian package metadata: the stanzas `apt-cache dumpavail` prints, and the closure of
what a set of packages needs to *run*.

The closure (Depends + Pre-Depends, first satisfiable alternative, virtual packages
through their providers) is computed here rather than by apt's resolver, which would drag
in what a package needs to *install* (debconf, perl, initramfs-tools) rather than what its
files need at run time. Those maintainer-script tools (NOISE) are skipped when they are
only dependencies; a package that was asked for by name is always fetched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from composer.errors import ComposerError

# Tools that maintainer scripts run at install time; a sysroot we only read never needs
# them, and they pull in perl, dpkg, initramfs-tools and a dozen libraries.
NOISE = frozenset({
    "debconf", "debconf-2.0", "cdebconf", "perl-base", "dpkg", "install-info", "adduser",
    "linux-base", "initramfs-tools", "initramfs-tools-core", "linux-initramfs-tool",
    "kmod", "dracut", "dracut-core", "tiny-initramfs",
})


class FetchError(ComposerError):
    """The sysroot could not be fetched (network, apt, a package name); exit status 1."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    depends: tuple[tuple[str, ...], ...]  # AND of ORs of package names
    provides: tuple[str, ...]

    @property
    def deb_name(self) -> str:
        """The file name `apt-get download` gives it (epoch colon URL-quoted)."""
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.arch}.deb"


def stanzas(text: str) -> Iterator[dict[str, str]]:
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):
                if key:
                    fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            yield fields


def relation_names(field: str) -> tuple[tuple[str, ...], ...]:
    """`a (>= 1) | b:any, c` -> (("a", "b"), ("c",)); versions are not checked, since
    the candidates of one consistent release are what apt would pick as well."""
    groups = []
    for group in field.split(","):
        names = tuple(alt.split("(")[0].strip().split(":")[0] for alt in group.split("|"))
        if any(names):
            groups.append(tuple(n for n in names if n))
    return tuple(groups)


def parse_packages(text: str, arch: str) -> dict[str, Package]:
    packages: dict[str, Package] = {}
    for fields in stanzas(text):
        if fields.get("Architecture") not in (arch, "all"):
            continue
        depends = ", ".join(v for k in ("Pre-Depends", "Depends") if (v := fields.get(k)))
        provides = tuple(g[0] for g in relation_names(fields.get("Provides", "")))
        packages[fields["Package"]] = Package(
            fields["Package"], fields["Version"], fields["Architecture"],
            relation_names(depends), provides)
    return packages


def closure(requested: list[str], available: dict[str, Package], arch: str) -> list[Package]:
    """The requested packages and what they depend on, minus install-time NOISE."""
    providers: dict[str, list[str]] = {}
    for package in available.values():
        for name in package.provides:
            providers.setdefault(name, []).append(package.name)

    def pick(name: str) -> str | None:
        if name in available:
            return name
        candidates = sorted(providers.get(name, ()))
        return candidates[0] if candidates else None

    chosen: dict[str, Package] = {}
    queue: list[str] = []
    for name in requested:
        real = pick(name)
        if real is None:
            raise FetchError(f"no package {name!r} for {arch} "
                             "in Debian bookworm (check the name with apt-cache search)")
        queue.append(real)
    while queue:
        name = queue.pop()
        if name in chosen:
            continue
        package = available[name]
        chosen[name] = package
        for alternatives in package.depends:
            if any(alt in NOISE for alt in alternatives):
                continue
            if any(alt in chosen for alt in alternatives):
                continue
            real = next((r for alt in alternatives if (r := pick(alt))), None)
            if real is None:
                raise FetchError(f"{name} depends on {' | '.join(alternatives)}, "
                                 "which is not available")
            queue.append(real)
    return sorted(chosen.values(), key=lambda p: p.name)
