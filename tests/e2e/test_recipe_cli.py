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
