"""Recipe loading and validation: every error at once, with file:line:col and key path."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from composer.errors import InputError, RecipeError
from composer.recipe import load_recipe
from composer.render.jinja import render_text


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name the recipe as the user wrote it


def write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    (tmp_path / name).write_text(text)
    return Path(name)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RecipeError) as caught:
        load_recipe(write(tmp_path, text))
    return caught.value.lines()


def test_every_problem_is_reported_with_location_and_key_path(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
files:
  - path: /etc/x
    mdoe: 0644
    content: x
modules:
  - virtio_net
  - {name: a, pattern: b}
compresion: gzip
devices:
  - {path: dev/null, type: chr, major: 1, minor: 3}
""")
    text = "\n".join(found)
    assert len(found) == 5, text
    assert "r.yaml:3:5: files[0].mdoe: unknown key 'mdoe' (did you mean 'mode'?)" in found
    assert "r.yaml:8:1: compresion: unknown key 'compresion' (did you mean 'compression'?)" \
        in found
    assert any(line.startswith("r.yaml:7:5: modules[1]:") for line in found)
    assert any("devices[0].path" in line and "absolute" in line for line in found)
    assert any("devices[0].type" in line and "did you mean 'char'?" in line for line in found)


def test_x_keys_are_free_annotations(tmp_path: Path) -> None:
    loaded = load_recipe(write(tmp_path, "x-owner: me\nfiles:\n"
                                         "  - {path: /a, content: b, x-note: why}\n"))
    assert loaded.recipe.files[0].path == "/a"


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    found = problems(tmp_path, "files:\n  - {path: /a, content: b\nmodules: []\n")
    assert len(found) == 1 and found[0].startswith("r.yaml:3:")
    assert "YAML syntax error" in found[0]


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    found = problems(tmp_path, "compression: gzip\ncompression: xz\n")
    assert found == ["r.yaml:2:1: compression: duplicate key 'compression' (first at line 1) "
                     "(YAML would silently keep only the last)"]


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        levels.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [" +
                      ", ".join([f"*{prev}"] * 10) + "]")
    start = time.perf_counter()
    found = problems(tmp_path, "variables:\n" + "\n".join("  " + line for line in levels) + "\n")
    assert time.perf_counter() - start < 2
    assert "alias" in found[0]


def test_modes_are_octal_however_written(tmp_path: Path) -> None:
    loaded = load_recipe(write(tmp_path, "files:\n"
                               "  - {path: /a, content: x, mode: 755}\n"
                               "  - {path: /b, content: x, mode: 0755}\n"
                               "  - {path: /c, content: x, mode: '0o755'}\n"
                               "  - {path: /d, content: x, mode: '4755'}\n"))
    assert [f.mode for f in loaded.recipe.files] == [0o755, 0o755, 0o755, 0o4755]
    assert "not an octal mode" in problems(tmp_path, "files:\n"
                                           "  - {path: /a, content: x, mode: 0789}\n")[0]


def test_set_overrides_take_the_variable_type(tmp_path: Path) -> None:
    path = write(tmp_path, "variables: {retries: 3, verbose: false, mods: [a], name: x}\n")
    loaded = load_recipe(path, overrides=[("retries", "0x10"), ("verbose", "yes"),
                                          ("mods", "b,c d"), ("name", "0x001f")])
    assert loaded.recipe.variables == {"retries": 16, "verbose": True, "mods": ["b", "c", "d"],
                                       "name": "0x001f"}
    with pytest.raises(InputError, match="did you mean 'retries'"):
        load_recipe(path, overrides=[("retries_", "1")])
    with pytest.raises(InputError, match="retries is an integer"):
        load_recipe(path, overrides=[("retries", "many")])


def test_template_errors_name_template_line_and_variable() -> None:
    with pytest.raises(InputError, match=r"template t.j2:3: undefined variable 'iface'"):
        render_text("#!/bin/sh\n\nip link set {{ iface }} up\n", {}, "t.j2")


@pytest.mark.parametrize("value", ["it's", "$(touch PWNED) `x` ; \\ \"q\" * ~", "",
                                   ["virtio_net", "failover's"], 15])
def test_shquote_gives_the_shell_the_value_back(value: object, tmp_path: Path) -> None:
    """`{{ v | shquote }}` is one shell word whose value is V (a list: its items, spaced)."""
    script = render_text("v={{ v | shquote }}\nprintf '%s' \"$v\"\n", {"v": value}, "t.j2")
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, check=True)
    expected = " ".join(value) if isinstance(value, list) else str(value)
    assert result.stdout == expected
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("expression", [
    "''.__class__.__mro__[1].__subclasses__()",
    "cycler.__init__.__globals__.os.popen('id').read()",
    "self._TemplateReference__context",
    "'a' * 100000000",
])
def test_sandbox_blocks_python_internals(expression: str) -> None:
    with pytest.raises(InputError) as caught:
        render_text("{{ " + expression + " }}", {}, "evil.j2")
    assert "evil.j2:1" in str(caught.value)


def test_extends_compares_paths_as_the_image_does(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "files:\n  - {path: /etc/motd, content: base}\n  - {path: /etc/issue, content: base}\n"
        "  - {path: /etc/hosts, content: base}\n")
    (tmp_path / "variant.yaml").write_text(
        "extends: base.yaml\nfiles:\n  - {path: /etc//motd, content: variant}\n"
        "  - {path: /etc/issue/, remove: true}\n  - {path: /etc/./hosts, content: hosts}\n")
    files = load_recipe(tmp_path / "variant.yaml").recipe.files
    assert [(f.path, f.content) for f in files] == [("/etc//motd", "variant"),
                                                   ("/etc/./hosts", "hosts")]


def test_a_variable_named_mode_keeps_its_type(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("variables: {mode: 755, other: 10}\n"
                      "files:\n  - {path: /a, content: x, mode: 755}\n")
    loaded = load_recipe(recipe)
    assert loaded.recipe.variables == {"mode": 755, "other": 10}
    assert loaded.recipe.files[0].mode == 0o755


def test_a_vars_file_value_no_schema_saw_is_one_problem_naming_its_file(tmp_path: Path) -> None:
    """pydantic reports one error per branch of the variable type; the user gets one
    line per bad value, with the file that set it."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("variables: {a: x, b: y}\n")
    values = tmp_path / "vars.yaml"
    values.write_text("a: {b: 1}\nb: [1, {x: 2}]\n")
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe, vars_files=[values])
    lines = [str(p) for p in caught.value.problems]
    assert len(lines) == 2, lines
    assert "variables.a: a mapping {'b': 1} is not a variable value" in lines[0]
    assert "variables.b[1]: a mapping {'x': 2} is not a variable value" in lines[1]
    assert all(line.endswith(f"set by variables file {values}") for line in lines)
