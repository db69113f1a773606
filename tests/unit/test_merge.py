"""composer.recipe.merge called directly, rule by rule as its docstring states them:
mappings key by key, entry lists by identity (replaced in place, new ones appended,
`remove: true`), destinations compared as the image sees them and across the five path
lists, nothing replaced within one file, scalars later wins. The same rules through
`extends` in recipe files are tests/unit/test_variants.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from composer.recipe.merge import identity, merge
from composer.recipe.model import image_identity


def f(path: str, content: str = "x", **more: Any) -> dict[str, Any]:
    return {"path": path, "content": content, **more}


def test_mappings_merge_key_by_key_and_the_later_value_wins() -> None:
    base = {"variables": {"a": 1, "b": 2}, "kernel": {"cmdline": "quiet", "firmware": False}}
    layer = {"variables": {"b": 3, "c": 4}, "kernel": {"cmdline": "debug"}}
    assert merge(base, layer) == {"variables": {"a": 1, "b": 3, "c": 4},
                                  "kernel": {"cmdline": "debug", "firmware": False}}


def test_scalars_and_a_mapping_replaced_by_a_scalar_take_the_later_value() -> None:
    base = {"description": "base", "compression": {"codec": "gzip", "level": 9}}
    layer = {"description": "variant", "compression": "xz"}
    assert merge(base, layer) == {"description": "variant", "compression": "xz"}


def test_keys_only_one_side_has_are_kept_and_extends_is_not_carried() -> None:
    merged = merge({"files": [f("/a")]}, {"extends": "base.yaml", "output": {"image": "x"}})
    assert merged == {"files": [f("/a")], "output": {"image": "x"}}


def test_neither_input_is_modified() -> None:
    base = {"variables": {"a": 1}, "files": [f("/a"), f("/b")], "binaries": ["kexec"]}
    layer = {"variables": {"a": 2}, "files": [f("/b", "new"), {"path": "/a", "remove": True}],
             "binaries": [{"name": "kexec", "remove": True}]}
    before = copy.deepcopy((base, layer))
    merge(base, layer)
    assert (base, layer) == before


def test_an_entry_replaces_the_earlier_one_in_place_and_new_ones_append_in_order() -> None:
    base = {"files": [f("/a"), f("/b"), f("/c")]}
    layer = {"files": [f("/d"), f("/b", "new"), f("/e")]}
    assert merge(base, layer)["files"] == [f("/a"), f("/b", "new"), f("/c"), f("/d"), f("/e")]


def test_remove_deletes_the_earlier_entry_and_a_missing_one_is_no_error() -> None:
    base = {"files": [f("/a"), f("/b")]}
    layer = {"files": [{"path": "/a", "remove": True}, {"path": "/nowhere", "remove": True}]}
    assert merge(base, layer)["files"] == [f("/b")]


def test_an_entry_removed_and_given_again_in_one_file_is_a_new_one_at_the_end() -> None:
    base = {"files": [f("/a"), f("/b")]}
    layer = {"files": [{"path": "/a", "remove": True}, f("/a", "again")]}
    assert merge(base, layer)["files"] == [f("/b"), f("/a", "again")]


def test_within_one_file_nothing_is_replaced() -> None:
    """Both are kept, so that the manifest accepts them if they agree and names them if
    they don't, instead of the second one silently winning."""
    layer = {"files": [f("/a", "one"), f("/a", "two")]}
    assert merge({}, layer)["files"] == [f("/a", "one"), f("/a", "two")]
    assert merge({"files": [f("/a", "base")]}, layer)["files"] == [f("/a", "one"),
                                                                    f("/a", "two")]


def test_a_later_file_replaces_every_earlier_entry_of_its_destination_at_the_first() -> None:
    base = {"files": [f("/a", "one"), f("/b"), f("/a", "two")]}
    assert merge(base, {"files": [f("/a", "new")]})["files"] == [f("/a", "new"), f("/b")]


@pytest.mark.parametrize("spelling", ["/etc//motd", "/etc/motd/", "/etc/./motd", "//etc/motd"])
def test_destinations_are_compared_as_the_image_sees_them(spelling: str) -> None:
    assert image_identity(spelling) == "/etc/motd"
    merged = merge({"files": [f("/etc/motd", "base"), f("/etc/issue")]},
                   {"files": [f(spelling, "variant")]})
    assert merged["files"] == [f(spelling, "variant"), f("/etc/issue")]


def test_a_destination_moves_between_the_five_path_lists() -> None:
    """A variant can turn a file into a template (or a symlink, ...): the destination
    leaves the list it was in and joins the one the variant names."""
    base = {"files": [f("/bin/sh"), f("/etc/motd")], "symlinks": [{"path": "/init",
                                                                     "target": "bin/sh"}]}
    layer = {"templates": [{"path": "/bin/sh", "source": "sh.j2"}],
             "files": [f("/init", "#!/bin/sh\n")]}
    merged = merge(base, layer)
    assert merged["files"] == [f("/etc/motd"), f("/init", "#!/bin/sh\n")]
    assert merged["templates"] == [{"path": "/bin/sh", "source": "sh.j2"}]
    assert merged["symlinks"] == []


def test_binaries_are_one_entry_per_name_however_written() -> None:
    base = {"binaries": ["kexec", "busybox", "strace"]}
    layer = {"binaries": [{"name": "busybox", "applets": ["sh", "ls"]},
                          {"name": "strace", "remove": True}, "ip"]}
    assert merge(base, layer)["binaries"] == [
        "kexec", {"name": "busybox", "applets": ["sh", "ls"]}, "ip"]


def test_modules_by_name_or_by_pattern_and_all_is_every_pattern() -> None:
    base = {"modules": ["virtio_net", {"pattern": "fs/*"}, "all"]}
    layer = {"modules": [{"pattern": "fs/*", "remove": True}, {"pattern": "**", "remove": True},
                         {"name": "virtio_net", "x-why": "the boot card"}, "virtio_blk"]}
    assert merge(base, layer)["modules"] == [{"name": "virtio_net", "x-why": "the boot card"},
                                            "virtio_blk"]
    assert identity("modules", "all") == identity("modules", {"pattern": "**"})
    assert identity("modules", "fs") != identity("modules", {"pattern": "fs"})


def test_layers_apply_in_order_the_last_one_winning() -> None:
    base = {"variables": {"v": "base"}, "files": [f("/a", "base")]}
    first = {"variables": {"v": "first"}, "files": [f("/a", "first"), f("/b", "first")]}
    second = {"variables": {"v": "second"}, "files": [{"path": "/b", "remove": True}]}
    assert merge(merge(base, first), second) == {"variables": {"v": "second"},
                                                 "files": [f("/a", "first")]}
    assert merge(merge(base, second), first)["files"] == [f("/a", "first"), f("/b", "first")]


def test_module_names_match_with_dash_and_underscore_alike() -> None:
    """kmod compares module names with `-` and `_` as one character (the recipe docs say
    so too), so a variant removing virtio-net removes the base's virtio_net."""
    base = {"modules": ["virtio_net", "net_failover", {"pattern": "drivers/net/*-x"}]}
    layer = {"modules": [{"name": "virtio-net", "remove": True}, "net-failover",
                         {"pattern": "drivers/net/*_x"}]}  # a pattern is a path: kept apart
    assert merge(base, layer)["modules"] == ["net-failover", {"pattern": "drivers/net/*-x"},
                                            {"pattern": "drivers/net/*_x"}]
