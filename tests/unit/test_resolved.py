"""The resolved recipe (composer/build/resolved.py): every string expanded once, by one
variable map, and the kernel, its release and the architecture decided once; then the
planners (composer/build/planners.py), one per list kind, turn its lists into entries.

Synthetic kernels (tests/kernelfactory.py); the resolve against the real Debian s390x
sysroot is exercised through the plan in tests/e2e/test_plan_sysroot.py.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from composer.build.planners import recipe_entries, template_entries
from composer.build.resolved import ResolvedRecipe, kexec_file_fact, resolve_recipe
from composer.errors import InputError
from composer.manifest import Kind
from composer.recipe import load_recipe
from kernelfactory import write_kernel

RELEASE = "6.1.0-99-s390x"  # kernelfactory's default version string

RECIPE = """\
    variables:
      where: opt/site
      who: operator
      programs: [busybox, kexec]
      extra: "virtio_net, dm_mod  virtio_blk"
      flavour: s390x
    arch: s390x
    kernel:
      release: "6.1.0-7-{{ flavour }}"
      cmdline: "  console={{ who }} "
    directories:
      - {path: "/{{ where }}/etc"}
    files:
      - {path: /etc/motd, content: "{{ who }} on {{ composer.arch }} {{ composer.release }}\\n"}
      - {path: /data.bin, source: data.bin}
    symlinks:
      - {path: /bin/site, target: "/{{ where }}/bin"}
    devices:
      - {path: "/dev/{{ 'null' }}", type: char, major: 1, minor: 3}
    templates:
      - {path: "/{{ where }}/conf", source: conf.j2}
    binaries:
      - "{{ programs }}"
      - {name: "/usr/sbin/{{ who }}", path: "/{{ where }}/bin/tool"}
    modules:
      - "{{ extra }}"
      - {pattern: "drivers/{{ flavour }}/**"}
"""


def _resolve(tmp_path: Path, body: str = RECIPE, **kwargs: object) -> ResolvedRecipe:
    (tmp_path / "data.bin").write_bytes(b"\x00\x01")
    (tmp_path / "conf.j2").write_text("who={{ who }} release={{ composer.release }}\n")
    recipe = tmp_path / "image.yaml"
    recipe.write_text(textwrap.dedent(body))
    options: dict[str, object] = {"sysroot": None}
    options.update(kwargs)
    return resolve_recipe(load_recipe(recipe), **options)  # type: ignore[arg-type]


def test_every_string_is_expanded_in_the_resolved_recipe(tmp_path: Path) -> None:
    resolved = _resolve(tmp_path)
    assert [d.path for d in resolved.directories] == ["/opt/site/etc"]
    assert resolved.files[0].content == "operator on s390x 6.1.0-7-s390x\n"
    assert [(s.path, s.target) for s in resolved.symlinks] == [("/bin/site", "/opt/site/bin")]
    assert [(d.path, d.kind) for d in resolved.devices] == [("/dev/null", Kind.CHAR)]
    assert [t.path for t in resolved.templates] == ["/opt/site/conf"]
    # A list variable on its own gives its items; a string is split at spaces and commas.
    assert [b.names for b in resolved.binaries] == [("busybox", "kexec"),
                                                     ("/usr/sbin/operator",)]
    assert resolved.binaries[1].dest == "/opt/site/bin/tool"
    assert [m.names for m in resolved.modules] == [("virtio_net", "dm_mod", "virtio_blk"), ()]
    assert resolved.modules[1].pattern == "drivers/s390x/**"
    assert resolved.modules[0].written == "{{ extra }}"  # what messages quote


def test_sources_are_absolute_checked_host_paths(tmp_path: Path) -> None:
    resolved = _resolve(tmp_path)
    assert resolved.files[1].source == tmp_path / "data.bin"
    assert resolved.templates[0].source == tmp_path / "conf.j2"
    assert all(p.is_absolute() for p in (resolved.files[1].source, resolved.templates[0].source))


def test_a_missing_source_is_refused_where_the_recipe_names_it(tmp_path: Path) -> None:
    body = "files:\n  - {path: /etc/x, source: nowhere.txt}\n"
    with pytest.raises(InputError) as caught:
        _resolve(tmp_path, body)
    message = caught.value.message
    assert message.startswith(f"{tmp_path / 'image.yaml'}:2:5: source: source file "), message
    assert "nowhere.txt" in message


def test_one_variable_map_for_strings_templates_and_the_command_line(tmp_path: Path) -> None:
    """The facts the build found out join the recipe's variables under `composer`; the
    same map expands the strings and renders the templates."""
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    kernel = tmp_path / "vmlinuz"
    write_kernel(kernel)
    no_modules = RECIPE.split("    modules:\n")[0]  # an empty sysroot has none
    resolved = _resolve(tmp_path, no_modules, sysroot=sysroot, kernel_override=kernel)
    facts = resolved.variables["composer"]
    assert facts == {"release": "6.1.0-7-s390x", "arch": "s390x", "modules": [],
                     "kexec_file": ""}
    assert resolved.variables["who"] == "operator"
    assert resolved.cmdline == "console=operator"
    [conf] = template_entries(resolved.templates, dict(resolved.variables))
    assert conf.data == b"who=operator release=6.1.0-7-s390x\n"
    with pytest.raises(TypeError):
        resolved.variables["who"] = "someone else"  # type: ignore[index]


def test_the_kernel_release_and_arch_are_decided_once(tmp_path: Path) -> None:
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    kernel = tmp_path / "vmlinuz"
    write_kernel(kernel)
    body = "kernel: {cmdline: quiet}\n"
    resolved = _resolve(tmp_path, body, sysroot=sysroot, kernel_override=kernel)
    assert resolved.kernel is not None and resolved.kernel.path == kernel
    assert resolved.release == RELEASE  # the kernel's own, from its header
    assert resolved.arch == "s390x"  # an s390 boot image was given
    assert resolved.cmdline == "quiet"
    named = _resolve(tmp_path, "kernel: {release: 6.1.0-1-s390x}\n", sysroot=sysroot,
                     kernel_override=kernel)
    assert named.release == "6.1.0-1-s390x"  # the recipe's release wins
    bare = _resolve(tmp_path, body, sysroot=sysroot)
    assert (bare.kernel, bare.release, bare.arch, bare.cmdline) == (None, None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        bare.release = "another"  # type: ignore[misc]


def test_without_a_sysroot_nothing_is_looked_up(tmp_path: Path) -> None:
    """compose render and validate resolve without a sysroot: no kernel, no modules
    selected, but every string still expanded and the facts the recipe decides kept."""
    resolved = _resolve(tmp_path)
    assert resolved.kernel is None and resolved.selection is None
    assert (resolved.release, resolved.arch) == ("6.1.0-7-s390x", "s390x")
    assert resolved.cmdline is None  # no kernel: no image to carry a line


def test_the_planners_give_the_recipes_lists_in_order(tmp_path: Path) -> None:
    entries = recipe_entries(_resolve(tmp_path))
    assert [(e.path, e.kind) for e in entries] == [
        ("/opt/site/etc", Kind.DIR), ("/etc/motd", Kind.FILE), ("/data.bin", Kind.FILE),
        ("/bin/site", Kind.SYMLINK), ("/dev/null", Kind.CHAR), ("/opt/site/conf", Kind.FILE)]
    assert entries[0].mode == 0o755 and entries[1].data == b"operator on s390x 6.1.0-7-s390x\n"
    assert (entries[4].major, entries[4].minor) == (1, 3)


@pytest.mark.parametrize(("config", "fact"), [
    ("CONFIG_KEXEC=y\n# CONFIG_KEXEC_FILE is not set\n", "no"),
    ("CONFIG_KEXEC=y\nCONFIG_KEXEC_FILE=y\nCONFIG_KEXEC_SIG=y\n", "yes"),
    (None, ""),
])
def test_kexec_file_fact_is_read_from_the_kernel_config(tmp_path: Path, config: str | None,
                                                        fact: str) -> None:
    """The boot script's kexec path is decided when the image is built: 'no' skips a
    kexec -s that cannot work; without the kernel's config it stays unknown ('')."""
    (tmp_path / "boot").mkdir()
    if config is not None:
        (tmp_path / "boot" / f"config-{RELEASE}").write_text(config)
    assert kexec_file_fact(tmp_path, RELEASE) == fact
    assert kexec_file_fact(tmp_path, None) == ""
