"""Recipe problems as the command line reports them: one line with file:line:col, exit 2
(loading and validation themselves are tests/unit/test_recipe.py)."""

from __future__ import annotations

from pathlib import Path

from under_test import compose


def test_validate_command_reports_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("fles: []\n")
    done = compose("validate", "r.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("compose: error: r.yaml:1:1: fles: unknown key 'fles' "
                           "(did you mean 'files'?)\n")


def test_files_need_exactly_one_of_source_or_content(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("files:\n  - {path: /a}\n")
    done = compose("r.yaml", "--initramfs", "i", cwd=tmp_path)
    assert done.returncode == 2 and "exactly one of 'source' or 'content'" in done.stderr
    assert "r.yaml:2:5" in done.stderr


def test_an_unknown_recipe_name_suggests_and_lists_the_stock_recipes(tmp_path: Path) -> None:
    done = compose("pxelinx", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("compose: error: pxelinx: recipe not found (did you mean "
                                  "'pxelinux'? a name without / or .yaml is a stock recipe; "
                                  "stock recipes: pxelinux, "), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_validate_with_a_sysroot_resolves_what_a_build_would(tmp_path: Path,
                                                              sysroot: Path) -> None:
    cases = {
        "binary.yaml": ("extends: pxelinux\nbinaries: [straec]\n",
                        "binary.yaml:2:12: name: program 'straec' not found", "strace"),
        "applet.yaml": ("extends: pxelinux\nbinaries:\n  - {name: busybox, applets: [vii]}\n",
                        "applet.yaml:3:5: applets: /bin/busybox has no applet vii", "vi"),
        "module.yaml": ("extends: pxelinux\nmodules: [virtio_nett]\n",
                        "module.yaml:2:11: name: kernel module 'virtio_nett'", "virtio_net"),
        "site.yaml": ("extends: pxelinux-minimal\nbinaries: [{name: busybox, applets: [vi]}]\n",
                      "site.yaml:2:12: applets: applets of busybox replaced here; /bin/sh is "
                      "gone", "/init (#!/bin/sh)"),
    }
    for name, (text, _, _) in cases.items():
        (tmp_path / name).write_text(text)
    alone = compose("validate", *cases, cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr  # without a sysroot nothing is resolved
    for name, (_, message, nearest) in cases.items():
        done = compose("validate", name, "--sysroot", sysroot, cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr.startswith(f"compose: error: {message}"), done.stderr
        assert nearest in done.stderr
    good = compose("validate", "pxelinux", "stage2", "--sysroot", sysroot, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(cases)
