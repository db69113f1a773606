"""The render cache (composer/cache/render.py) gives exactly what Jinja gives, and any
change to a template, a file it reads or a variable is seen; recipe strings expand by
Jinja's sandbox, as templates do.

Each test gets its own cache directory (XDG_CACHE_HOME); `jinja_renders` counts the
renders that really went through Jinja.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.cache import store
from composer.errors import InputError
from composer.render import jinja
from composer.render.templates import expand, render_file

REPO = Path(__file__).resolve().parents[2]
JINJA = jinja.render_text  # the real one, for references (the fixture counts calls)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    return home / "composer" / "render"


@pytest.fixture
def jinja_renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    original = jinja.render_text

    def counting(text: str, variables: object, name: str, *args: object) -> str:
        names.append(name)
        return original(text, variables, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja, "render_text", counting)
    return names


def by_jinja(path: Path, variables: dict[str, object]) -> tuple[str, list[Path]]:
    """The render as Jinja makes it, with no cache involved."""
    included: list[Path] = []
    text = JINJA(path.read_text(), variables, str(path), [path.parent], included)
    return text, included


def cached(path: Path, variables: dict[str, object]) -> tuple[str, list[Path]]:
    included: list[Path] = []
    return render_file(path, variables, included=included), included


def test_a_second_render_comes_from_the_cache_and_is_the_same(
        tmp_path: Path, cache_dir: Path, jinja_renders: list[str]) -> None:
    template = tmp_path / "t.j2"
    template.write_text("A={{ a | shquote }}\n{% for m in mods %}load {{ m }}\n{% endfor %}")
    variables: dict[str, object] = {"a": "it's", "mods": ["x", "y"]}
    first = cached(template, variables)
    second = cached(template, variables)
    assert len(jinja_renders) == 1
    assert first == second == by_jinja(template, variables)
    assert second[0] == "A='it'\\''s'\nload x\nload y\n"
    assert len(list(cache_dir.iterdir())) == 1


def test_the_stock_template_renders_as_jinja_does_and_then_from_the_cache(
        cache_dir: Path, jinja_renders: list[str]) -> None:
    template = REPO / "bootscripts" / "pxeboot.conf.j2"
    variables: dict[str, object] = {"modules": ["virtio_net"], "verbosity": 2, "cmdline": ""}
    assert cached(template, variables) == cached(template, variables) == \
        by_jinja(template, variables)
    assert len(jinja_renders) == 1


@pytest.mark.parametrize("change", [
    {"a": "2"}, {"a": 1}, {"a": True}, {"a": 1.0}, {"a": ["1"]}, {"a": "1", "b": "x"}, {},
])
def test_a_changed_variable_is_another_render(
        tmp_path: Path, cache_dir: Path, jinja_renders: list[str],
        change: dict[str, object]) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{{ a | default('unset') }} {{ a is string }} {{ b | default('') }}\n")
    cached(template, {"a": "1"})
    jinja_renders.clear()
    assert cached(template, change) == by_jinja(template, change)
    assert len(jinja_renders) == 1


def test_a_changed_template_is_another_render(
        tmp_path: Path, cache_dir: Path, jinja_renders: list[str]) -> None:
    template = tmp_path / "t.j2"
    template.write_text("one {{ a }}{% if a %}\n{% endif %}")  # a block: Jinja's
    assert cached(template, {"a": "x"})[0] == "one x\n"
    template.write_text("two {{ a }}{% if a %}\n{% endif %}")
    assert cached(template, {"a": "x"})[0] == "two x\n"
    assert len(jinja_renders) == 2


def test_a_changed_or_new_included_file_is_another_render(
        tmp_path: Path, cache_dir: Path, jinja_renders: list[str]) -> None:
    template = tmp_path / "t.j2"
    template.write_text('{% include "part.j2" %}{% include "local.j2" ignore missing %}end\n')
    (tmp_path / "part.j2").write_text("part {{ a }}\n")
    variables: dict[str, object] = {"a": "x"}
    assert cached(template, variables) == by_jinja(template, variables)
    assert cached(template, variables)[1] == [tmp_path / "part.j2"]  # a hit says it too
    assert len(jinja_renders) == 1

    (tmp_path / "part.j2").write_text("PART {{ a }}\n")
    assert cached(template, variables) == by_jinja(template, variables)
    assert cached(template, variables)[0] == "PART x\nend\n"

    (tmp_path / "local.j2").write_text("local\n")  # was missing, ignored: now it counts
    assert cached(template, variables)[0] == "PART x\nlocal\nend\n"
    (tmp_path / "local.j2").unlink()
    assert cached(template, variables)[0] == "PART x\nend\n"
    assert len(jinja_renders) == 4


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage-payload"])
def test_a_damaged_entry_is_rendered_again(
        tmp_path: Path, cache_dir: Path, jinja_renders: list[str], damage: str) -> None:
    template = tmp_path / "t.j2"
    template.write_text("v={{ a }}{% if a %}\n{% endif %}")  # a block: Jinja's
    cached(template, {"a": "x"})
    [entry] = cache_dir.iterdir()
    raw = entry.read_bytes()
    if damage == "flip":
        raw = raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:]
    elif damage == "truncate":
        raw = raw[:-5]
    elif damage == "empty":
        raw = b""
    else:  # a whole entry with a valid check, whose payload is not a render
        key = raw[len(store.MAGIC):len(store.MAGIC) + store.KEY_SIZE]
        payload = b"\xff\x00not marshal"
        raw = store.MAGIC + key + store._check(key, payload) + payload
    entry.write_bytes(raw)
    jinja_renders.clear()
    assert cached(template, {"a": "x"})[0] == "v=x\n"
    assert len(jinja_renders) == 1
    jinja_renders.clear()
    assert cached(template, {"a": "x"})[0] == "v=x\n"  # stored whole again
    assert jinja_renders == []


def test_errors_are_jinjas_whatever_the_cache_holds(
        tmp_path: Path, cache_dir: Path, jinja_renders: list[str]) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{{ a }}\n{{ missing }}\n")
    messages = []
    for _ in range(2):
        with pytest.raises(InputError) as error:
            render_file(template, {"a": "x"})
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert f"template {template}:2: undefined variable 'missing'" in messages[0]
    assert not cache_dir.exists() or not list(cache_dir.iterdir())
    assert len(jinja_renders) == 2


def test_no_cache_when_off(tmp_path: Path, cache_dir: Path, jinja_renders: list[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSER_CACHE", "off")
    template = tmp_path / "t.j2"
    template.write_text("v={{ a }}{% if a %}\n{% endif %}")  # a block: Jinja's
    assert cached(template, {"a": "x"}) == cached(template, {"a": "x"})
    assert len(jinja_renders) == 2
    assert not cache_dir.exists()


@pytest.mark.parametrize("text,variables", [
    ("{{ v }}", {"v": "plain"}),
    ("{{v}}", {"v": "ünïcode ✓"}),
    ("{{   v   }}", {"v": ""}),
    ("{{ v }}", {"v": 42}),
    ("{{ v }}", {"v": -0.5}),
    ("{{ v }}", {"v": 1e22}),
    ("{{ v }}", {"v": True}),
    ("{{ v }}", {"v": "{{ not rendered again }}"}),
    ("{{ v }}", {"v": "a\nb\n"}),
    ("{{ v }}", {"v": ["a", "b"]}),
    ("{{ v }}", {"v": None}),
    ("{{ true }}", {"true": "shadowed?"}),
    ("{{ None }}", {"None": "x"}),
    (" {{ v }}", {"v": "x"}),
    ("{{ v }}\n", {"v": "x"}),
    ("{{- v -}}", {"v": "x"}),
])
def test_a_recipe_string_expands_as_jinja_renders_it(text: str, variables: dict[str, object],
                                                      jinja_renders: list[str]) -> None:
    assert expand(text, variables, "k") == JINJA(text, variables, "k")
    assert jinja_renders == ["k"]


def test_a_string_without_an_expression_is_kept_as_written(jinja_renders: list[str]) -> None:
    assert expand("quiet console=ttyS0", {}, "k") == "quiet console=ttyS0"
    assert jinja_renders == []


@pytest.mark.parametrize("text,variables", [
    ("{{ v }}", {}),  # undefined
    ("{{ v }}", {"v": "bad \udcff byte"}),  # not UTF-8: the sandbox refuses it
])
def test_a_string_jinja_refuses_gets_jinjas_error(
        text: str, variables: dict[str, object], jinja_renders: list[str]) -> None:
    with pytest.raises(InputError) as fast:
        expand(text, variables, "kernel.cmdline")
    with pytest.raises(InputError) as slow:
        JINJA(text, variables, "kernel.cmdline")
    assert str(fast.value) == str(slow.value)
    assert fast.value.hint == slow.value.hint
