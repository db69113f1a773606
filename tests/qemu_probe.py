"""Builds tests/recipes/boot-probe.yaml with the composer, for the tests that boot it.

The probe is what a user would build: the recipe, the real Debian s390x sysroot, the
composer's pipeline. Until binaries and modules are wired into the plan
(composer.plan_resolve), a derived copy of the recipe names the same sysroot files as
plain `files` instead; everything else (kernel, archive, image) is the composer's own.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from composer.pipeline import BuildRequest, build

PROBE_RECIPE = Path(__file__).resolve().parent / "recipes" / "boot-probe.yaml"
PROBE_MODULES = ("failover", "net_failover", "virtio_net")


def _without_resolvers(recipe: Path, sysroot: Path, work: Path) -> Path:
    data = yaml.safe_load(recipe.read_text())
    data.pop("binaries", None)
    data.pop("modules", None)
    files = data.setdefault("files", [])
    files.append({"path": "/bin/busybox", "source": str(sysroot / "bin/busybox"),
                  "mode": "0755"})
    for name in PROBE_MODULES:
        (found,) = sysroot.glob(f"lib/modules/*/kernel/**/{name}.ko")
        files.append({"path": "/" + found.relative_to(sysroot).as_posix(),
                      "source": str(found)})
    derived = work / recipe.name
    derived.write_text(yaml.safe_dump(data, sort_keys=False))
    return derived


def build_probe(sysroot: Path, out: Path, **variables: str) -> Path:
    """The probe image at OUT; VARIABLES override the recipe's (marker, then, fetch)."""
    recipe = PROBE_RECIPE
    if importlib.util.find_spec("composer.plan_resolve") is None:
        recipe = _without_resolvers(recipe, sysroot, out.parent)
    build(BuildRequest(recipe=recipe, sysroot=sysroot, image=out,
                       overrides=tuple(variables.items())))
    return out
