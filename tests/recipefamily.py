"""A family of recipes (a base and a variant that extends it) for the tests of extends."""

from __future__ import annotations

from pathlib import Path

from composer.recipe.confine import Confinement


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def allowing(family: Path) -> Confinement:
    """What loading variants/debug.yaml needs: its base is outside its own directory, so
    the family's directory is allowed (`--allow-path FAMILY`)."""
    return Confinement.of([family])


def write_family(tmp_path: Path) -> Path:
    """base.yaml and variants/debug.yaml, which extends it and changes every kind of key."""
    write(tmp_path / "files/base-motd", "base\n")
    write(tmp_path / "base.yaml", """\
variables: {greeting: hello, retries: 3}
kernel: {cmdline: "console=ttyS0", firmware: false}
compression: {codec: gzip, level: 9}
files:
  - {path: /etc/motd, source: files/base-motd}
  - {path: /etc/issue, content: "issue\\n"}
  - {path: /etc/keep, content: "keep\\n"}
symlinks:
  - {path: /bin/sh, target: busybox}
binaries: [kexec, busybox]
modules: [virtio_net, {pattern: "fs/*"}]
""")
    write(tmp_path / "variants/debug.yaml", """\
extends: ../base.yaml
variables: {greeting: debug}
kernel: {cmdline: "console=ttyS0 debug"}
compression: {level: 1}
files:
  - {path: /etc/issue, remove: true}
  - {path: /etc/motd, content: "{{ greeting }}\\n"}
templates:
  - {path: /bin/sh, source: sh.j2}
binaries: [{name: busybox, applets: [sh, ls]}, {name: kexec, remove: true}, strace]
modules: [{pattern: "fs/*", remove: true}, virtio_blk]
""")
    write(tmp_path / "variants/sh.j2", "#!/bin/true {{ greeting }}\n")
    return tmp_path
