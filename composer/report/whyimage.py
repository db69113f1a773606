"""Why a path is in an image whose recipe is not at hand: `compose why IMAGE PATH`.

The image's own files answer: its ELF files' DT_NEEDED and PT_INTERP (a library is there
because a program, or a library a program needs, names it), its modules.dep (a module is
there because a module that depends on it is), and its symlinks (an applet link points
at busybox). The package comes from the image's SBOM when one is given (--sbom).
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections import deque
from pathlib import Path

from composer.errors import InputError
from composer.read.extract import extract_file
from composer.report.sbomdiff import read_sbom
from composer.report.why import Reason
from composer.resolve.elf import ET_EXEC, ElfError, ElfInfo, is_elf, read_elf

MODULES = "lib/modules"


def _elves(root: Path) -> dict[str, ElfInfo]:
    found: dict[str, ElfInfo] = {}
    for directory, _, names in os.walk(root):
        for name in names:
            host = Path(directory) / name
            if host.is_symlink() or not host.is_file() or not is_elf(host):
                continue
            try:
                found["/" + host.relative_to(root).as_posix()] = read_elf(host)
            except ElfError:
                continue
    return found


def _names_of(path: str, root: Path, info: ElfInfo | None) -> set[str]:
    """The names a loader may ask for PATH by: its soname, its base name, and the names
    of the symlinks that lead to it."""
    names = {posixpath.basename(path)}
    if info is not None and info.soname:
        names.add(info.soname)
    directory = root / path.lstrip("/")
    for sibling in directory.parent.iterdir():
        if sibling.is_symlink() and (sibling.parent / os.readlink(sibling)).resolve() == \
                directory.resolve():
            names.add(sibling.name)
    return names


def elf_chain(path: str, root: Path, elves: dict[str, ElfInfo]) -> tuple[str, list[str]]:
    """The shortest DT_NEEDED (or PT_INTERP) chain from a program to the library PATH."""
    wanted = _names_of(path, root, elves.get(path))
    programs_first = sorted(elves.items(), key=lambda item: (item[1].soname is not None, item[0]))
    for program, info in programs_first:
        if info.interp is not None and posixpath.basename(info.interp) in wanted:
            return "PT_INTERP", [program, f"PT_INTERP {info.interp}"]
    needs: dict[str, list[str]] = {}
    for requester, info in elves.items():
        for name in info.needed:
            needs.setdefault(name, []).append(requester)
    queue = deque([(name, [name]) for name in sorted(wanted) if name in needs])
    seen = set(wanted)
    while queue:
        name, chain = queue.popleft()
        for requester in sorted(needs.get(name, [])):
            info = elves[requester]
            if info.soname is None and (info.type == ET_EXEC or info.interp is not None):
                return "DT_NEEDED", [requester, *chain]
            for alias in sorted(_names_of(requester, root, info)):
                if alias not in seen and alias in needs:
                    seen.add(alias)
                    queue.append((alias, [alias, *chain]))
    return "", []


def module_chain(path: str, root: Path) -> list[str]:
    """The chain of direct dependencies, from a module nothing depends on, to PATH."""
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[:2] != ["lib", "modules"]:
        return []
    base = root / "/".join(parts[:3])
    try:
        lines = (base / "modules.dep").read_text().splitlines()
    except OSError:
        return []
    deps: dict[str, list[str]] = {}
    for line in lines:
        module, _, rest = line.partition(":")
        deps[_mod(module)] = [_mod(d) for d in rest.split()]
    target = _mod("/".join(parts[3:]))
    direct = {m: [d for d in ds if not any(d in deps.get(o, []) for o in ds)]
              for m, ds in deps.items()}
    needed_by = {d for ds in deps.values() for d in ds}
    roots = sorted(m for m in deps if m not in needed_by)
    queue = deque([[r] for r in roots])
    while queue:
        chain = queue.popleft()
        if chain[-1] == target:
            return chain
        queue.extend([*chain, d] for d in direct.get(chain[-1], []) if d not in chain)
    return []


def _mod(relpath: str) -> str:
    name = relpath.rsplit("/", 1)[-1]
    for suffix in (".xz", ".zst", ".gz"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".ko").replace("-", "_")


def _sbom_package(sbom: Path | None, path: str) -> dict[str, str] | None:
    if sbom is None:
        return None
    document = read_sbom(sbom)
    files = {f.get("SPDXID"): f.get("fileName") for f in document.get("files", [])}
    packages = {p.get("SPDXID"): p for p in document.get("packages", [])}
    for rel in document.get("relationships", []):
        if rel.get("relationshipType") == "CONTAINS" and \
                files.get(rel.get("relatedSpdxElement")) == "." + path and \
                rel.get("spdxElementId") != "SPDXRef-Package-image":
            package = packages.get(rel.get("spdxElementId"), {})
            return {"name": str(package.get("name")), "version": str(package.get("versionInfo"))}
    return None


def explain_image(image: Path, path: str, sbom: Path | None = None) -> Reason:
    wanted = "/" + path.strip("/")
    with tempfile.TemporaryDirectory(prefix="compose-why-") as scratch:
        root = Path(scratch)
        extract_file(image, root, privileged=False)
        host = root / wanted.lstrip("/")
        if not host.is_symlink() and not host.exists():
            raise InputError(f"{wanted} is not in {image}")
        reason = Reason(wanted, "file")
        if host.is_symlink():
            target = os.readlink(host)
            reason.kind = f"symlink -> {target}"
            if posixpath.basename(target) == "busybox":
                reason.chain_kind = "applet"
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(wanted), target))
                reason.chain = [resolved, f"applet {posixpath.basename(wanted)}"]
        elif host.is_dir():
            reason.kind = "dir"
        elif wanted.endswith((".ko", ".ko.xz", ".ko.zst", ".ko.gz")):
            reason.chain_kind, reason.chain = "module dependency", module_chain(wanted, root)
        elif is_elf(host):
            elves = _elves(root)
            if wanted in elves:
                reason.chain_kind, reason.chain = elf_chain(wanted, root, elves)
        reason.package = _sbom_package(sbom, wanted)
        return reason
