"""Fetch a Debian sysroot to build from: the kernel, busybox-static, kexec-tools, curl,
ca-certificates, gpgv and strace of a foreign architecture (s390x by default), with their
run-time libraries.

No root needed and the host's apt and dpkg stay untouched: a private apt state under
~/.cache/composer/apt-ARCH downloads and checks Debian's signed packages, `dpkg-deb -x`
unpacks them. The sysroot's path goes to stdout, progress to stderr, so that

  compose pxelinux --sysroot "$(compose sysroot)"

builds the stock PXELINUX image. A second run with the same request is instant: nothing
is downloaded or unpacked while `.composer-sysroot.json` in the sysroot matches it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.cli.ui import UI
from composer.fetch import FetchError, default_dest, default_packages, fetch

EPILOG = """\
Needs apt, dpkg and debian-archive-keyring (any Debian or Ubuntu host) and access to
deb.debian.org (bookworm, bookworm-updates, bookworm-security). XDG_CACHE_HOME moves
the cache. Exit status: 0 with the path printed, 1 when the sysroot cannot be fetched.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", default="s390x", metavar="ARCH",
                        help="Debian architecture (default: s390x)")
    parser.add_argument("--package", action="append", default=[], metavar="NAME",
                        help="an extra package to fetch (repeatable)")
    parser.add_argument("--refresh", action="store_true",
                        help="update apt's lists and re-fetch whatever has a newer version")
    parser.add_argument("--dest", type=Path, metavar="DIR",
                        help="sysroot directory (default: ~/.cache/composer/sysroot-ARCH)")


def run(args: argparse.Namespace, ui: UI) -> int:
    dest = (args.dest or default_dest(args.arch)).expanduser().absolute()
    requested = [*default_packages(args.arch), *args.package]
    try:
        path = fetch(args.arch, dest, requested, args.refresh, progress=ui.say)
    except OSError as error:  # the cache or DEST not writable, a full disk
        raise FetchError(f"cannot fetch the sysroot into {dest}: {error}") from None
    ui.result(str(path))
    return 0
