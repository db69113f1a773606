"""The recipes we ship: `compose schema` prints the shipped schema, and each one builds
(editor support and the docs against the schema are tests/unit/test_recipe_docs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from under_test import compose

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "recipes").glob("pxelinux*.yaml"))  # the network boot images


def test_the_schema_command_prints_the_shipped_schema() -> None:
    done = compose("schema")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((ROOT / "schemas/recipe.schema.json")
                                                 .read_text())


@pytest.mark.slow
@pytest.mark.sysroot
@pytest.mark.parametrize("recipe", SHIPPED, ids=[p.name for p in SHIPPED])
def test_each_shipped_recipe_builds_against_the_real_sysroot(recipe: Path, sysroot: Path,
                                                            tmp_path: Path) -> None:
    done = compose(recipe, "--sysroot", sysroot, "-o", tmp_path / "image", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["release"] and result["arch"] == "s390x"
    assert 0 < result["image_size"] < 125_820_928
    listing = compose("inspect", tmp_path / "image", "--json").stdout
    paths = {e["path"] for e in json.loads(listing)["entries"]}
    for needed in ("/init", "/sbin/pxeboot", "/etc/udhcpc/default.script", "/sbin/kexec",
                   "/bin/busybox", "/lib/ld64.so.1", "/dev/console", "/sbin/udhcpc",
                   "/bin/sh", "/sbin/modprobe"):
        assert needed in paths, needed
    assert any(p.startswith("/lib/modules/") and p.endswith("/modules.dep") for p in paths)


@pytest.mark.sysroot
def test_the_stock_second_stage_builds_an_initrd_that_prints_its_marker(
        sysroot: Path, tmp_path: Path) -> None:
    done = compose("stage2", "--sysroot", sysroot, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage2.img"]
    listing = json.loads(compose("inspect", tmp_path / "stage2.img", "--json").stdout)
    paths = {e["path"] for e in listing["entries"]}
    assert {"/init", "/bin/busybox", "/proc"} <= paths
