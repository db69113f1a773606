"""`compose diff RECIPE IMAGE`: what a rebuild would change in an image already served."""

from __future__ import annotations

from pathlib import Path

from kernelfactory import write_kernel
from under_test import compose


def test_recipe_against_its_own_image_and_a_changed_one(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    write_kernel(tmp_path / "boot/vmlinuz-6.1.0-99-s390x")
    (tmp_path / "r.yaml").write_text(
        "variables: {motd: hello}\nkernel: {image: /boot/vmlinuz-*}\n"
        "files:\n  - {path: /etc/motd, content: \"{{ motd }}\\n\"}\n")
    built = compose("r.yaml", "--sysroot", tmp_path, "-o", "served.img", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    same = compose("diff", "r.yaml", "served.img", "--sysroot", tmp_path, cwd=tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no differences" in same.stdout
    changed = compose("diff", "r.yaml", "served.img", "--sysroot", tmp_path,
                      "--set", "motd=bye", cwd=tmp_path)
    assert changed.returncode == 1
    assert "~ /etc/motd" in changed.stdout and "0 added, 0 removed, 1 changed" in changed.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boot", "r.yaml", "served.img"]
