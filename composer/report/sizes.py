"""Where an image's bytes go: `compose inspect --sizes`, by package, module, recipe entry.

Sizes are the unpacked sizes of the initramfs's files (what the guest holds in memory),
plus the kernel (the bytes before the initrd in a combined image). The image's SBOM
(`compose --sbom`) says which package and which recipe entry each file came from; the
modules are read off the paths themselves (lib/modules/RELEASE/...ko).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer.archive.reader import Record
from composer.report.sbomdiff import read_sbom

SCHEMA = "composer.report.sizes/1"
BAR = 30


@dataclass(frozen=True)
class Owner:
    package: str
    entry: str


def owners_from_sbom(path: Path) -> dict[str, Owner]:
    """path in the image -> its package and recipe entry, from composer's SPDX SBOM."""
    document = read_sbom(path)
    names = {p.get("SPDXID"): p.get("name") for p in document.get("packages", [])}
    files = {f.get("SPDXID"): f for f in document.get("files", [])}
    package_of: dict[str, str] = {}
    for rel in document.get("relationships", []):
        if rel.get("relationshipType") == "CONTAINS" and \
                rel.get("spdxElementId") != "SPDXRef-Package-image":
            package_of[rel.get("relatedSpdxElement")] = \
                "(recipe)" if rel.get("spdxElementId") == "SPDXRef-Package-recipe" \
                else str(names.get(rel.get("spdxElementId")))
    owners = {}
    for spdx_id, item in files.items():
        comment = str(item.get("comment", ""))
        entry = comment.split("put in the image by: ", 1)[1] if "put in the image by: " in \
            comment else "(unknown)"
        owners[str(item.get("fileName", "")).removeprefix(".")] = Owner(
            package_of.get(spdx_id, "(unknown)"), entry)
    return owners


def module_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[:2] != ["lib", "modules"]:
        return None
    name = parts[-1]
    for suffix in (".xz", ".zst", ".gz"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".ko").replace("-", "_") if name.endswith(".ko") else None


def tally(records: Iterable[Record], kernel_size: int,
          owners: dict[str, Owner] | None) -> dict[str, dict[str, int]]:
    """Bytes per package, per module and per recipe entry (the last paths win, as the
    kernel unpacks them)."""
    sizes: dict[str, int] = {}
    for record in records:
        if record.kind == "file":
            sizes[record.path] = record.size
    groups: dict[str, dict[str, int]] = {"package": {}, "module": {}, "entry": {}}
    for path, size in sizes.items():
        module = module_of(path)
        if module is not None:
            groups["module"][module] = groups["module"].get(module, 0) + size
        if owners is not None:
            owner = owners.get(path, Owner("(unknown)", "(unknown)"))
            groups["package"][owner.package] = groups["package"].get(owner.package, 0) + size
            groups["entry"][owner.entry] = groups["entry"].get(owner.entry, 0) + size
    if kernel_size and owners is not None:
        kernel = next((o for p, o in owners.items() if p.startswith("/boot/")), None)
        name = kernel.package if kernel is not None else "(kernel)"
        groups["package"][name] = groups["package"].get(name, 0) + kernel_size
        groups["entry"]["kernel"] = groups["entry"].get("kernel", 0) + kernel_size
    return groups


def _sorted(group: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(group.items(), key=lambda item: (-item[1], item[0]))


def sizes_json(groups: dict[str, dict[str, int]], total: int, kernel: int) -> dict[str, Any]:
    return {"schema": SCHEMA, "total": total, "kernel": kernel,
            **{f"by_{name}": [{"name": key, "bytes": size} for key, size in _sorted(group)]
               for name, group in groups.items()}}


def sizes_lines(groups: dict[str, dict[str, int]], total: int, *, bars: bool,
                have_sbom: bool) -> list[str]:
    titles = {"package": "by package", "module": "by module", "entry": "by recipe entry"}
    lines = [f"{total:,} bytes (the kernel and the unpacked initramfs)"]
    for name, title in titles.items():
        group = _sorted(groups[name])
        lines.append(f"{title}:")
        if not group:
            lines.append("  (none)" if name == "module" or have_sbom else
                         "  (give --sbom FILE, the image's SBOM, for packages and recipe "
                         "entries)")
            continue
        largest = group[0][1] or 1
        for key, size in group:
            share = f"{100 * size / total:5.1f}%" if total else "    -"
            bar = f" {'█' * max(1, round(BAR * size / largest)):<{BAR}}" if bars else ""
            lines.append(f"  {size:>12,} {share}{bar}  {key}")
    return lines
