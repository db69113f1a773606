"""The installed tool as a user meets it: stock recipes by name, `compose sysroot`, the
s390 host itself (several kernels in /boot, no /proc), and listings into a closed pipe.

These run the compose under test (tests/under_test.py): in CI the wheel installed into
a fresh venv outside the checkout, so they prove what `pip install` gives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kernelfactory import write_kernel
from under_test import COMPOSE, UNDER_TEST, compose

ROOT = Path(__file__).resolve().parents[2]
STOCK = sorted((ROOT / "recipes").glob("*.yaml"))
RELEASE = os.uname().release


def descriptions() -> dict[str, str]:
    return {p.stem: yaml.safe_load(p.read_text())["description"] for p in STOCK}


def test_compose_recipes_lists_every_stock_recipe_with_its_description(tmp_path: Path) -> None:
    done = compose("recipes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [line.split(None, 1) for line in done.stdout.splitlines()]
    assert {name: text for name, text in rows} == descriptions()
    as_json = compose("recipes", "--json", cwd=tmp_path)
    listing = json.loads(as_json.stdout)
    assert {r["name"]: r["description"] for r in listing} == descriptions()
    for row in listing:
        shipped = Path(row["path"])
        assert shipped.read_bytes() == (ROOT / "recipes" / f"{row['name']}.yaml").read_bytes()
        if UNDER_TEST:  # the installed package's own copy, not the checkout's
            assert ROOT not in shipped.parents, shipped


def test_installed_composer_is_not_the_checkout() -> None:
    if not UNDER_TEST:
        pytest.skip("COMPOSER_UNDER_TEST is not set: this run tests the editable install")
    python = Path(UNDER_TEST).parent / "python"
    where = subprocess.run([str(python), "-c", "import composer; print(composer.__file__)"],
                           cwd="/", capture_output=True, text=True, check=True).stdout
    assert ROOT not in Path(where.strip()).parents, where


def test_a_stock_recipe_validates_by_name_from_an_empty_directory(tmp_path: Path) -> None:
    done = compose("validate", "pxelinux", "pxelinux-minimal", "pxelinux-debug", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line.rsplit("/", 1)[-1] for line in done.stdout.splitlines()] == [
        "pxelinux.yaml: ok", "pxelinux-minimal.yaml: ok", "pxelinux-debug.yaml: ok"]


@pytest.mark.slow
@pytest.mark.sysroot
def test_a_stock_recipe_by_name_builds_what_the_checkout_recipe_builds(
        sysroot: Path, tmp_path: Path) -> None:
    by_name = compose("pxelinux-minimal", "--sysroot", sysroot, "-o", "by-name.0", "-q",
                      cwd=tmp_path)
    assert by_name.returncode == 0, by_name.stderr
    by_path = compose(ROOT / "recipes" / "pxelinux-minimal.yaml", "--sysroot", sysroot,
                      "-o", "by-path.0", "-q", cwd=tmp_path)
    assert by_path.returncode == 0, by_path.stderr
    assert (tmp_path / "by-name.0").read_bytes() == (tmp_path / "by-path.0").read_bytes()


def test_an_existing_file_wins_over_the_stock_recipe_of_that_name(tmp_path: Path) -> None:
    (tmp_path / "pxelinux").write_text("description: mine, not the stock one\n")
    done = compose("show", "pxelinux", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "mine, not the stock one" in done.stdout
    assert "interface" not in done.stdout
    assert "an existing file always wins" in " ".join(compose("--help").stdout.split())


def test_extends_by_name_is_a_two_line_variant(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("extends: pxelinux\nvariables: {interface: eth1}\n")
    assert compose("validate", "mine.yaml", cwd=tmp_path).returncode == 0
    shown = compose("show", "mine.yaml", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    stock = yaml.safe_load((ROOT / "recipes" / "pxelinux.yaml").read_text())
    # A declared variable ({default:, choices:, ...}) shows as its value.
    defaults = {name: value["default"] if isinstance(value, dict) else value
                for name, value in stock["variables"].items()}
    assert data["variables"] == {**defaults, "interface": "eth1"}
    assert data["description"] == stock["description"]
    assert all(Path(t["source"]).is_file() for t in data["templates"])
    rendered = compose("render", "mine.yaml", "out", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert (tmp_path / "out" / "init").is_file()


def test_extends_an_unknown_name_lists_the_stock_recipes(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("extends: pxelinu\n")
    done = compose("validate", "mine.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "mine.yaml:1:10: extends: extended recipe 'pxelinu' not found" in done.stderr
    assert "stock recipes: pxelinux, pxelinux-debug, pxelinux-minimal" in done.stderr
    assert "Traceback" not in done.stderr


def _namespace(tmp_path: Path) -> list[str]:
    """A mount namespace of a process of ours, where /boot and /proc can be replaced
    without touching the machine; skips where neither root nor user namespaces allow it."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    command = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    probe = subprocess.run([*command, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.strip()}")
    return command


def _host_recipe(tmp_path: Path) -> Path:
    recipe = tmp_path / "host.yaml"
    # /bin/sh stands in for a shell, so that the image passes the build's self-check
    # (these tests are about which kernel and which /proc, not about booting it).
    recipe.write_text("kernel: {image: /boot/vmlinuz-*}\nfiles:\n"
                      "  - {path: /init, content: \"#!/bin/sh\\n\", mode: 0755}\n"
                      "  - {path: /bin/sh, content: \"\", mode: 0755}\n")
    return recipe


def test_on_the_host_the_running_kernel_is_picked_among_two(tmp_path: Path) -> None:
    """The s390 host after an update: /boot holds the running kernel and a newer one."""
    namespace = _namespace(tmp_path)
    boot = tmp_path / "boot"
    boot.mkdir()
    write_kernel(boot / f"vmlinuz-{RELEASE}", version=f"{RELEASE} (test@example) #1 SMP")
    write_kernel(boot / "vmlinuz-9.9.9-1-s390x", version="9.9.9-1-s390x (test@example) #1 SMP")
    recipe = _host_recipe(tmp_path)
    script = f'mount --bind "{boot}" /boot && exec "$@"'
    done = subprocess.run([*namespace, "sh", "-c", script, "sh", *COMPOSE, recipe,
                           "--sysroot", "/", "-o", tmp_path / "host.img", "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["release"] == RELEASE
    assert any(f"/boot/vmlinuz-{RELEASE}" in w and "uname -r" in w for w in result["warnings"])
    # --kernel still wins, and a sysroot that is not / has no "running" kernel
    explicit = compose(recipe, "--sysroot", tmp_path, "--kernel", boot / "vmlinuz-9.9.9-1-s390x",
                       "-o", "other.img", "--json", cwd=tmp_path)
    assert json.loads(explicit.stdout)["release"] == "9.9.9-1-s390x"
    ambiguous = compose(recipe, "--sysroot", tmp_path, "-o", "x.img", cwd=tmp_path)
    assert ambiguous.returncode == 2
    assert "matches 2 files in the sysroot" in ambiguous.stderr


def test_a_build_without_proc_succeeds(tmp_path: Path) -> None:
    """A chroot without /proc: here a mount namespace whose /proc is an empty tmpfs, so
    the compose process really cannot see /proc/self."""
    namespace = _namespace(tmp_path)
    kernel = write_kernel(tmp_path / "vmlinuz")
    recipe = _host_recipe(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with_proc = compose(recipe, "--kernel", kernel, "-o", out / "with-proc.img", cwd=tmp_path)
    assert with_proc.returncode == 0, with_proc.stderr
    script = 'mount -t tmpfs -o size=64k none /proc && test ! -e /proc/self && "$@"'
    command = [*COMPOSE, recipe, "--kernel", kernel, "-o", out / "no-proc.img"]
    done = subprocess.run([*namespace, "sh", "-c", script, "sh", *command],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "no-proc.img").read_bytes() == (out / "with-proc.img").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["no-proc.img", "with-proc.img"]


def test_a_file_limit_without_proc_leaves_no_temporary_file(tmp_path: Path) -> None:
    namespace = _namespace(tmp_path)
    kernel = write_kernel(tmp_path / "vmlinuz")
    recipe = _host_recipe(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    # 16 KiB: too small for the 74 KiB image, so the write fails half-way (Python
    # ignores SIGXFSZ, so it is EFBIG, an error the build reports)
    script = 'mount -t tmpfs -o size=64k none /proc && test ! -e /proc/self && ulimit -f 16 && "$@"'
    done = subprocess.run([*namespace, "sh", "-c", script, "sh", *COMPOSE, recipe, "--kernel",
                           kernel, "-o", out / "big.img"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert "grew past the file size limit" in done.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("words", [["--help"], ["recipes"], ["schema"], ["build", "--help"]])
def test_a_listing_into_a_closed_pipe_ends_quietly(words: list[str]) -> None:
    """`compose --help | head -1`: the reader is gone before compose writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([*COMPOSE, *words], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=60, check=False)
    finally:
        os.close(write_end)
    assert done.stderr == ""
    # 141 is what a shell shows for a tool ended by SIGPIPE; argparse's own --help output
    # swallows the write error and exits 0, which is as quiet
    assert done.returncode == (0 if words[-1] == "--help" and len(words) > 1 else 141)


def test_help_piped_into_head_prints_one_line_and_nothing_else() -> None:
    command = " ".join(f"'{c}'" for c in COMPOSE)
    done = subprocess.run(f"{command} schema | head -1; {command} --help | head -1",
                          shell=True, capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout == "{\nusage: compose [COMMAND] [OPTIONS] ...\n"
    assert done.stderr == ""


@pytest.mark.slow
def test_compose_sysroot_into_an_empty_cache(tmp_path: Path) -> None:
    """Downloads from deb.debian.org (the only network a sysroot needs) into a cache and a
    sysroot of its own; the tree is what a build needs, and a second run is instant."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    dest = tmp_path / "sysroot"
    done = compose("sysroot", "--dest", dest, env=env, cwd=tmp_path, timeout=900)
    if done.returncode != 0 and not os.environ.get("COMPOSER_REQUIRE_SYSROOT"):
        pytest.skip(f"compose sysroot failed (offline?): {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{dest}\n"
    assert "downloading" in done.stderr and "unpacking" in done.stderr
    stamp = json.loads((dest / ".composer-sysroot.json").read_text())
    assert stamp["arch"] == "s390x"
    assert {"busybox-static", "kexec-tools", "libc6"} <= stamp["packages"].keys()
    kernels = list((dest / "boot").glob("vmlinuz-*"))
    assert len(kernels) == 1 and kernels[0].read_bytes()[0x10008:0x1000E] == b"S390EP"
    assert (dest / "bin" / "busybox").read_bytes()[:4] == b"\x7fELF"
    again = compose("sysroot", "--dest", dest, env=env, cwd=tmp_path, timeout=60)
    assert (again.returncode, again.stdout, again.stderr) == (0, f"{dest}\n", "")
    built = compose("pxelinux", "--sysroot", dest, "-o", "pxelinux.0", "--json", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["release"] == kernels[0].name.removeprefix("vmlinuz-")


@pytest.mark.slow
def test_compose_sysroot_reports_a_network_failure_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "http_proxy": "http://127.0.0.1:9"}
    done = compose("sysroot", "--dest", tmp_path / "sr", env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 1
    assert done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("compose: error: apt-get update failed") and "network" in last
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "sr").exists()


def test_the_wheel_lists_every_package_of_the_tree() -> None:
    """pyproject.toml names its packages one by one (the data ones are mapped from the
    top of the checkout); a new subpackage that is not named is missing from the wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    tree = {".".join(p.parent.relative_to(ROOT).parts)
            for p in (ROOT / "composer").rglob("__init__.py")}
    assert tree <= listed, f"not in pyproject.toml's packages: {sorted(tree - listed)}"
