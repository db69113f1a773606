"""composer/plaintemplate.py renders what Jinja (the sandbox of composer/templating.py)
renders, or leaves the template to Jinja: never other text, never text where Jinja
raises. Checked on generated templates made of the pieces either side understands,
and on the stock templates, which must take the Jinja-free path."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer import plaintemplate, templating
from composer.errors import InputError
from composer.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["a", "b", "name_2", "self", "range", "none", "loop", "x"]

literals = st.one_of(
    st.sampled_from(["''", '""', "'/run/pxe'", '"a b"', "0", "15", "007", "1_0", "-1",
                     "[]", "[ ]", "[1]", "true", "none", "'a\\'b'", "'}}'", "'#}'",
                     "16777216", "16777217"]),
    st.integers(0, 10**6).map(str))
filters = st.one_of(
    st.sampled_from(["| shquote", "|shquote", "| d", "| default", "| default()",
                     "| upper", "| shquote(1)", "| default(1, true)"]),
    literals.map(lambda v: f"| default({v})"),
    literals.map(lambda v: f"|d( {v} )"))
expressions = st.builds(
    lambda name, chain, left, right: "{{" + left + name + " " + " ".join(chain) + right + "}}",
    st.sampled_from(NAMES), st.lists(filters, max_size=3),
    st.sampled_from([" ", "", "- ", "+ ", "  "]), st.sampled_from([" ", "", " -", "\n"]))
comments = st.builds(
    lambda left, body, right: "{#" + left + body + right + "#}",
    st.sampled_from(["", "-", "+", " "]), st.text("ab #-}{\n ", max_size=12),
    st.sampled_from(["", "-", "+", " "]))
data = st.text("ab {}#%-'\"\n\t\r x=${:-}", max_size=15)
templates = st.lists(st.one_of(data, expressions, comments,
                               st.sampled_from(["{% if a %}x{% endif %}", "{{", "}}", "{#"])),
                     max_size=8).map("".join)
values = st.one_of(
    st.text(max_size=8), st.integers(-5, 10**9), st.booleans(), st.none(),
    st.sampled_from([16777216, 16777217, -16777217]),  # the sandbox's number bound
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.one_of(st.text("ab' ", max_size=4), st.integers(0, 9)), max_size=3),
    st.just("\udcff"), st.dictionaries(st.text("ab", max_size=2), st.integers(), max_size=2))
variables = st.dictionaries(st.sampled_from(NAMES), values, max_size=5)

rendered_plain: list[int] = []


def jinja(text: str, given: dict[str, object]) -> str | None:
    try:
        return templating.render_text(text, given, "t")
    except InputError:
        return None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates, variables)
def test_the_plain_renderer_agrees_with_jinja_or_leaves_it_to_jinja(
        text: str, given: dict[str, object]) -> None:
    plain = plaintemplate.render(text, given)
    if plain is None:
        return
    rendered_plain.append(1)
    assert jinja(text, given) == plain, "Jinja renders other text, or refuses it"


def test_the_generated_templates_do_reach_the_plain_renderer() -> None:
    """Otherwise the agreement above would be vacuous."""
    test_the_plain_renderer_agrees_with_jinja_or_leaves_it_to_jinja()
    assert len(rendered_plain) >= 50


@pytest.mark.parametrize("recipe", ["pxelinux", "pxelinux-debug", "pxelinux-minimal"])
def test_the_stock_templates_render_without_jinja_and_as_jinja_does(recipe: str) -> None:
    loaded = load_recipe(ROOT / "recipes" / f"{recipe}.yaml").recipe
    assert loaded.templates, f"{recipe} has templates"
    for template in loaded.templates:
        text = Path(template.source).read_text()
        plain = plaintemplate.render(text, loaded.variables)
        assert plain is not None, f"{template.source} needs Jinja"
        assert plain == templating.render_text(text, loaded.variables, str(template.source))
        assert "{{" not in plain and "{#" not in plain


@pytest.mark.parametrize(("text", "given", "expected"), [
    ("{#- note -#}\n  X={{ a | default(3) | shquote }}\n", {}, "X='3'\n"),
    ("Y={{ a | shquote }}", {"a": ["p", 1, "it's"]}, "Y='p 1 it'\\''s'"),
    ("Z={{ a }}", {"a": None}, "Z=None"),
    ("{{ a | d('x') }}{{ b|default }}", {"a": False}, "False"),
])
def test_examples(text: str, given: dict[str, object], expected: str) -> None:
    assert plaintemplate.render(text, given) == expected == jinja(text, given)


@pytest.mark.parametrize("text", ["{{ a }}", "{{ a | shquote }}", "{% if 1 %}{% endif %}",
                                  "{{ a.b }}", "{{- a }}", "{{ range }}", "a\r\nb"])
def test_what_it_leaves_to_jinja(text: str) -> None:
    assert plaintemplate.render(text, {}) is None
