"""What the tests of the image's boot scripts share: the host's busybox, a PATH directory
of its applets as the image has them (so `wget`, `tftp`, `udhcpc` are busybox's, not the
host's), and files laid out in a TFTP or web root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

BUSYBOX = shutil.which("busybox") or "/usr/bin/busybox"


def applet_links(directory: Path) -> Path:
    """DIRECTORY (created) holding one link to busybox per applet it lists."""
    directory.mkdir(parents=True, exist_ok=True)
    listing = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    for applet in listing.stdout.split():
        (directory / applet).symlink_to(BUSYBOX)
    return directory


def serve(root: Path, files: dict[str, str | bytes]) -> None:
    """Each name of FILES (subdirectories made) under ROOT with its text or bytes."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
