"""Variants that add to and take from lists without restating them (`K+`, `K-`), for
every kind of list: entry lists, a list inside an entry, a list variable."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from composer.errors import InputError
from composer.recipe import load_recipe
from composer.recipe.edits import edited, patched
from composer.recipe.schema import recipe_schema

BASE = """\
variables:
  modules: [virtio_net]
  on_failure: {default: shell, choices: [shell, retry, poweroff]}
binaries:
  - {name: busybox, applets: [sh, ls, cat], path: /bin/busybox}
  - kexec
  - strace
files:
  - {path: /etc/motd, content: hi}
  - {path: /etc/hostname, content: h}
modules:
  - virtio_blk
  - virtio_scsi
"""


def load(tmp_path: Path, variant: str):  # type: ignore[no-untyped-def]
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "v.yaml").write_text("extends: base.yaml\n" + textwrap.dedent(variant))
    return load_recipe(tmp_path / "v.yaml")


def test_an_entry_patch_adds_and_removes_items_and_keeps_its_other_keys(
        tmp_path: Path) -> None:
    loaded = load(tmp_path, """\
        binaries:
          - {name: busybox, applets+: [vi, sh], applets-: [ls]}
        """)
    busybox = loaded.recipe.binaries[0]
    assert (busybox.name, busybox.applets, busybox.path) == ("busybox", ["sh", "cat", "vi"],
                                                             "/bin/busybox")
    assert busybox.at == f"{tmp_path / 'v.yaml'}:3:5"  # the patch is where it was changed
    replaced = load(tmp_path, "binaries:\n  - {name: busybox, applets: [vi]}\n")
    assert replaced.recipe.binaries[0].applets == ["vi"]  # plain K still replaces
    assert replaced.recipe.binaries[0].path is None


def test_entry_lists_take_names_and_paths_to_remove(tmp_path: Path) -> None:
    loaded = load(tmp_path, """\
        binaries-: [strace]
        files-: [/etc//hostname]
        modules-: [virtio-scsi]
        files+:
          - {path: /etc/issue, content: welcome}
        """)
    recipe = loaded.recipe
    assert [b.name for b in recipe.binaries] == ["busybox", "kexec"]
    assert [f.path for f in recipe.files] == ["/etc/motd", "/etc/issue"]
    assert [m.name for m in recipe.modules] == ["virtio_blk"]
    removal = next(r for r in loaded.replaced if r.identity == "name:strace")
    assert removal.removed and removal.by["at"] == f"{tmp_path / 'v.yaml'}:2:13"


def test_a_list_variable_is_added_to_and_a_declaration_merges(tmp_path: Path) -> None:
    loaded = load(tmp_path, """\
        variables:
          modules+: [virtio_blk, virtio_net]
          on_failure: retry
        """)
    assert loaded.recipe.variables["modules"] == ["virtio_net", "virtio_blk"]
    assert loaded.origins["variables.modules"] == f"{tmp_path / 'v.yaml'}:3:13"
    less = load(tmp_path, "variables: {modules-: [virtio_net]}\n")
    assert less.recipe.variables["modules"] == []


def test_taking_from_all_is_an_error_at_the_entry(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text("binaries: [{name: busybox, applets: all}]\n")
    (tmp_path / "v.yaml").write_text("extends: all.yaml\n"
                                     "binaries: [{name: busybox, applets-: [vi]}]\n")
    with pytest.raises(InputError, match=r"v.yaml:2:12: applets-: the base's applets is "
                                         r"'all'"):
        load_recipe(tmp_path / "v.yaml")


def test_every_list_of_the_schema_has_both_edits() -> None:
    schema = recipe_schema()
    for key in ("directories", "files", "symlinks", "devices", "templates", "binaries",
                "modules"):
        assert {f"{key}+", f"{key}-"} <= set(schema["properties"]), key
    binary = schema["$defs"]["Binary"]["anyOf"][1]["properties"]
    assert {"applets+", "applets-"} <= set(binary)


def test_the_pure_functions() -> None:
    assert edited(["a", "b"], "k", ["b", "c"], "+") == ["a", "b", "c"]
    assert edited(["a", "b"], "k", ["a", "z"], "-") == ["b"]
    assert edited(None, "k", ["a"], "+") == ["a"]
    assert patched({"name": "x", "applets": ["a"]}, {"name": "x"}) == {"name": "x"}
    assert patched(None, {"name": "x", "applets+": ["a"]}) == {"name": "x", "applets": ["a"]}
