"""`compose why`: an ELF dependency, a module dependency, an applet and a recipe file, asked
of a recipe (the chains its build recorded as it resolved, the package from the sysroot's
dpkg database) and of the image it built (the chains read off the image's own files, the
package from its SBOM). The sysroot is fetched here with curl, whose libcurl needs
zlib1g's libz.so.1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from under_test import compose

FETCH = Path(__file__).resolve().parents[2] / "scripts" / "fetch-sysroot"
LIBZ_DIR = "/lib/s390x-linux-gnu"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("why")
    sysroot = work / "sysroot"
    fetched = subprocess.run([sys.executable, str(FETCH), "--dest", str(sysroot), "--package",
                              "curl"], capture_output=True, text=True, timeout=900, check=False)
    if fetched.returncode != 0:
        pytest.skip(f"no sysroot: {fetched.stderr.strip()[-300:]}")
    recipe = work / "curl.yaml"
    recipe.write_text("extends: pxelinux\nbinaries:\n  - curl\n")
    result = compose(recipe, "--sysroot", sysroot, "-o", work / "curl.img", "--sbom",
                     work / "curl.spdx.json")
    assert result.returncode == 0, result.stderr
    return sysroot, recipe, work / "curl.img"


def why(*args: object) -> dict[str, object]:
    result = compose("why", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def libz(sysroot: Path) -> str:
    return f"{LIBZ_DIR}/{next((sysroot / LIBZ_DIR.lstrip('/')).glob('libz.so.1.*')).name}"


def test_an_elf_dependency_names_its_needed_chain_entry_and_package(
        built: tuple[Path, Path, Path]) -> None:
    sysroot, recipe, image = built
    answer = why(recipe, libz(sysroot), "--sysroot", sysroot)
    assert answer["chain_kind"] == "DT_NEEDED"
    assert answer["chain"] == ["/usr/bin/curl", "libz.so.1"]
    assert answer["recipe_entry"] == f"{recipe}:3:5: binaries: curl"
    assert answer["package"]["name"] == "zlib1g"  # type: ignore[index]
    from_image = why(image, libz(sysroot), "--sbom", image.with_suffix(".spdx.json"))
    assert from_image["chain"] == ["/usr/bin/curl", "libz.so.1"]
    assert from_image["package"] == answer["package"]
    text = compose("why", recipe, libz(sysroot), "--sysroot", sysroot).stdout
    assert "/usr/bin/curl -> libz.so.1" in text and "zlib1g 1:" in text


def test_a_module_names_the_dependency_chain_from_the_module_asked_for(
        built: tuple[Path, Path, Path]) -> None:
    sysroot, recipe, image = built
    release = next((sysroot / "lib/modules").iterdir()).name
    failover = f"/lib/modules/{release}/kernel/net/core/failover.ko"
    answer = why(recipe, failover, "--sysroot", sysroot)
    assert answer["chain_kind"] == "module dependency"
    assert answer["chain"] == ["virtio_net", "net_failover", "failover"]
    assert "modules:" in str(answer["recipe_entry"]) and "virtio_net" in \
        str(answer["recipe_entry"])
    assert str(answer["package"]["name"]).startswith("linux-image-")  # type: ignore[index]
    assert why(image, failover)["chain"] == ["virtio_net", "net_failover", "failover"]


def test_a_recipe_file_and_an_applet(built: tuple[Path, Path, Path]) -> None:
    sysroot, recipe, image = built
    init = why(recipe, "/init", "--sysroot", sysroot)
    assert init["chain"] == [] and init["package"] is None
    assert re.search(r"recipes/pxelinux\.yaml:\d+:\d+$", str(init["recipe_entry"]))
    assert str(init["source"]).endswith("bootscripts/init.sh")
    sh = why(recipe, "/bin/sh", "--sysroot", sysroot)
    assert sh["chain_kind"] == "applet" and sh["chain"] == ["/bin/busybox", "applet sh"]
    assert why(image, "/bin/sh")["chain"] == ["/bin/busybox", "applet sh"]


def test_a_path_that_is_not_there_is_an_error(built: tuple[Path, Path, Path]) -> None:
    sysroot, recipe, image = built
    missing = compose("why", recipe, "/sbin/kexek", "--sysroot", sysroot)
    assert missing.returncode == 1 and "nearest: /sbin/kexec" in missing.stderr
    assert compose("why", image, "/nope").returncode == 2
