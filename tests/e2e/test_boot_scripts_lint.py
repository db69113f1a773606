"""shellcheck on the boot scripts of the PXELINUX recipes, as `compose render` writes them.

The scripts are POSIX sh for busybox ash; shellcheck's `dash` dialect is the closest it
knows (`local` is fine, bashisms are not), and the bar is warning level. shellcheck
reports problems only in the files it is given, not in the files they source, so every
entry script (a `#!/bin/sh` file) is checked as one text with each sourced file inlined
where its `# shellcheck source=PATH` directive names it (PATH relative to the image
root): a library file is checked in the context that defines its inputs, and a variable
misspelt across files is still caught. Every `.sh` file of the result must be reached
that way, so a new library file cannot escape the check by not being sourced.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bootscripts import rendered

# shellcheck takes seconds on each recipe's scripts.
pytestmark = pytest.mark.slow

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("pxelinux*.yaml"))
SOURCE_DIRECTIVE = re.compile(r"^\s*# shellcheck source=(\S+)")
DOT = re.compile(r"^\s*\.\s")
WARNING = re.compile(r"^-:(\d+):(\d+): (\w+): (.*)$")


@pytest.fixture(scope="module")
def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        reason = "shellcheck is not installed (Debian package shellcheck, see scripts/setup)"
        if os.environ.get("COMPOSER_REQUIRE_SYSROOT"):
            pytest.fail(f"{reason} (COMPOSER_REQUIRE_SYSROOT is set)", pytrace=False)
        pytest.skip(reason)
    return found


def render(recipe: Path, dest: Path) -> Path:
    return rendered(dest, recipe)


def inline(path: Path, root: Path, seen: set[Path],
           top: bool = True) -> list[tuple[str, Path, int]]:
    """The lines of PATH with each sourced file inlined: (text, file, line number)."""
    seen.add(path)
    out: list[tuple[str, Path, int]] = []
    pending: Path | None = None
    for number, text in enumerate(path.read_text().splitlines(), 1):
        directive = SOURCE_DIRECTIVE.match(text)
        if directive and directive.group(1) != "/dev/null":
            pending = root / directive.group(1)
            continue
        if pending is not None and DOT.match(text):
            assert pending.is_file(), f"{path}:{number}: sources {pending}, which is missing"
            out.extend(inline(pending, root, seen, top=False))
            pending = None
            continue
        if not top and text.startswith("# shellcheck shell="):
            continue  # the entry script's shebang says it for the whole text
        out.append((text, path, number))
    return out


def entry_scripts(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and p.read_bytes().startswith(b"#!/bin/sh"))


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_boot_scripts_are_shellcheck_clean(recipe: Path, shellcheck: str,
                                           tmp_path: Path) -> None:
    root = render(recipe, tmp_path / "root")
    entries = entry_scripts(root)
    assert {e.relative_to(root).as_posix() for e in entries} >= {
        "init", "sbin/pxeboot", "etc/udhcpc/default.script"}
    settings = root / "etc" / "pxeboot.conf"
    reached: set[Path] = set()
    problems: list[str] = []
    for entry in entries:
        seen: set[Path] = set()
        lines = inline(entry, root, seen)
        reached |= seen
        result = subprocess.run([shellcheck, "-s", "dash", "-S", "warning", "-f", "gcc", "-"],
                                input="\n".join(t for t, _, _ in lines) + "\n",
                                capture_output=True, text=True, timeout=120, check=False)
        for report in result.stdout.splitlines():
            match = WARNING.match(report)
            assert match, report
            _, file, number = lines[int(match.group(1)) - 1]
            if file == settings and "[SC2034]" in report:
                continue  # each script reads only the settings it needs
            problems.append(f"{file.relative_to(root)}:{number}:{match.group(2)}: "
                            f"{match.group(3)}: {match.group(4)}")
        assert result.returncode in (0, 1), result.stderr
    assert problems == [], "\n".join(problems)
    library = {p for p in root.rglob("*.sh") if p.is_file()}
    assert library, "no library files rendered"
    assert library - reached == set(), "shell files no entry script sources"
    assert settings in reached


def test_the_check_sees_inside_the_library(shellcheck: str, tmp_path: Path) -> None:
    """A bashism in a sourced library file is reported at its own file and line."""
    root = render(RECIPES[0], tmp_path / "root")
    common = root / "lib" / "pxeboot" / "common.sh"
    common.write_text(common.read_text() + 'is_yes() { [ "$1" == yes ]; }\n')
    last = len(common.read_text().splitlines())
    lines = inline(root / "sbin" / "pxeboot", root, set())
    result = subprocess.run([shellcheck, "-s", "dash", "-S", "warning", "-f", "gcc", "-"],
                            input="\n".join(t for t, _, _ in lines) + "\n",
                            capture_output=True, text=True, timeout=120, check=False)
    reports = [WARNING.match(line) for line in result.stdout.splitlines()]
    located = [lines[int(m.group(1)) - 1][1:] for m in reports if m]
    assert (common, last) in located, result.stdout
