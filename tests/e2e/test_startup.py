"""A build imports only what it uses: the codecs it writes, not the QEMU boot machinery.

Every recipe is validated by jsonschema and loaded by pydantic (the design's libraries);
what a plain build must not import is the codecs it does not write and the QEMU boot
machinery. Each is checked in a fresh interpreter running the real `compose` command.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from under_test import PYTHON, compose

NOT_FOR_A_PLAIN_BUILD = ("composer.qemu.boot", "composer.qemu.command", "zstandard", "lz4",
                         "concurrent")
PROBE = """\
import json, sys
from composer.cli import main
code = main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def modules_after(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run([PYTHON, "-c", PROBE, *args], cwd=cwd, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.splitlines()[-1]))


def imported(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


def test_a_build_without_templates_imports_no_codec_it_does_not_write(
        tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "compression: gzip\ndirectories: [{path: /etc}]\n"
        "files: [{path: /etc/hostname, content: \"x\\n\"}]\n")
    modules = modules_after(["r.yaml", "--initramfs", "out.img"], tmp_path)
    assert (tmp_path / "out.img").stat().st_size > 0
    assert [m for m in NOT_FOR_A_PLAIN_BUILD if imported(modules, m)] == []
    assert "zlib" in modules


def test_an_invalid_recipe_still_gets_every_problem_from_jsonschema(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("kernal: {}\nfiles: [{path: etc}]\n")
    done = compose("r.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "r.yaml:1:1: kernal: unknown key" in done.stderr
    assert "r.yaml:2:16: files[0].path: 'etc' is not an absolute path" in done.stderr


def test_pxelinux_build_imports_no_boot_machinery(sysroot: Path,
                                                                tmp_path: Path) -> None:
    recipe = Path(__file__).resolve().parents[2] / "recipes" / "pxelinux.yaml"
    modules = modules_after([str(recipe), "--sysroot", str(sysroot), "-o", "pxelinux.0"],
                            tmp_path)
    assert (tmp_path / "pxelinux.0").stat().st_size > 0
    assert [m for m in NOT_FOR_A_PLAIN_BUILD if imported(modules, m)] == []


def test_a_warm_build_parses_no_yaml_and_writes_the_same_image(
        sysroot: Path, tmp_path: Path) -> None:
    """The stock pxelinux recipe built with the caches empty, then warm, then off: the
    same bytes; the warm build takes its parse from the parse cache (no PyYAML) and
    jsonschema's verdict from the verdict cache (no jsonschema)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("COMPOSER_CACHE", None)
    runs = []
    for name, extra in (("cold", {}), ("warm", {}), ("off", {"COMPOSER_CACHE": "off"})):
        argv = [PYTHON, "-c", PROBE, "pxelinux", "--sysroot", str(sysroot), "-o", f"{name}.0",
                "-q"]
        runs.append(subprocess.run(argv, cwd=tmp_path, env={**env, **extra},
                                   capture_output=True, text=True, check=False))
    assert [r.returncode for r in runs] == [0, 0, 0], runs[-1].stderr
    cold, warm, _ = (set(json.loads(r.stderr.splitlines()[-1])) for r in runs)
    assert "yaml" in cold and "jinja2" in cold and "pydantic" in cold
    assert "yaml" not in warm and "jsonschema" not in warm
    images = {(tmp_path / f"{name}.0").read_bytes() for name in ("cold", "warm", "off")}
    assert len(images) == 1
    assert {p.name for p in (tmp_path / "cache" / "composer").iterdir()} >= \
        {"members", "parse", "verdict"}  # members: libdeflate's gzip (scripts/setup has it)
