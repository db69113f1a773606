"""The plan against the real Debian s390x sysroot: what the binaries and the module tree
decide (the arch, the release), called directly rather than through `compose`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from composer.build.plan import plan
from composer.recipe import load_recipe

pytestmark = pytest.mark.sysroot


def _recipe(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "image.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_without_a_kernel_the_arch_comes_from_the_binaries(tmp_path: Path,
                                                           sysroot: Path) -> None:
    recipe = _recipe(tmp_path, "binaries:\n  - /bin/busybox\n")
    the_plan = plan(load_recipe(recipe), sysroot=sysroot)
    assert the_plan.kernel is None
    assert the_plan.arch == "s390x"
    busybox = next(e for e in the_plan.entries if e.path == "/bin/busybox")
    assert busybox.source in the_plan.inputs


def test_the_release_is_the_module_trees(tmp_path: Path, sysroot: Path) -> None:
    recipe = _recipe(tmp_path, """\
        kernel: {image: "/boot/vmlinuz-*", cmdline: "modules={{ composer.modules | join(',') }}"}
        modules: [virtio_net]
    """)
    the_plan = plan(load_recipe(recipe), sysroot=sysroot)
    assert the_plan.kernel is not None and the_plan.release == the_plan.kernel.release
    assert (sysroot / "lib" / "modules" / str(the_plan.release)).is_dir()
    assert the_plan.cmdline is not None and b"virtio_net" in the_plan.cmdline
    modules = [e.path for e in the_plan.entries if e.path.endswith("/virtio_net.ko")]
    assert modules and modules[0].startswith(f"/lib/modules/{the_plan.release}/")
