"""What the tests of the image's boot scripts share: the host's busybox, a PATH directory
of its applets as the image has them (so `wget`, `tftp`, `udhcpc` are busybox's, not the
host's), and files laid out in a TFTP or web root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from under_test import compose

BUSYBOX = shutil.which("busybox") or "/usr/bin/busybox"


# Shell lines for a test's network namespace: the card eth0, its veth peer srv0 at
# 10.0.2.2/24, and busybox udhcpd on it serving {work}/udhcpd.conf ({ip}: iproute2's ip).
CARD_AND_UDHCPD = """\
{ip} link set lo up
{ip} link add eth0 type veth peer name srv0
{ip} link set srv0 up
{ip} addr add 10.0.2.2/24 dev srv0
: > {work}/leases
busybox udhcpd -f {work}/udhcpd.conf >{work}/udhcpd.log 2>&1 &
"""


def card_up(listing: str) -> bool:
    """Whether `ip -o link show`'s LISTING has UP among the card's flags."""
    flags = listing.partition("<")[2].partition(">")[0]
    return "UP" in flags.split(",")


def applet_links(directory: Path) -> Path:
    """DIRECTORY (created) holding one link to busybox per applet it lists."""
    directory.mkdir(parents=True, exist_ok=True)
    listing = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    for applet in listing.stdout.split():
        (directory / applet).symlink_to(BUSYBOX)
    return directory


def rendered(dest: Path, recipe: object = "pxelinux", *arguments: object) -> Path:
    """DEST as `compose render RECIPE ARGUMENTS...` writes the image's scripts for the host;
    a render that fails fails the test with compose's own message."""
    done = compose("render", recipe, dest, *arguments)
    assert done.returncode == 0, done.stderr
    return dest


def rendered_variant(dest: Path, variables: dict[str, object]) -> Path:
    """DEST rendered from a variant of the stock pxelinux recipe setting VARIABLES (new
    ones are declared by the variant, as a user's recipe would)."""
    recipe = dest.parent / f"{dest.name}.yaml"
    recipe.write_text(yaml.safe_dump({"extends": "pxelinux", "variables": variables}))
    return rendered(dest, recipe)


def serve(root: Path, files: dict[str, str | bytes]) -> None:
    """Each name of FILES (subdirectories made) under ROOT with its text or bytes."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
