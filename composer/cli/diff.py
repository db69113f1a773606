"""Compare two boot images or initramfs archives (or one of each).

Entries are compared as the kernel would unpack them: added, removed, and changed
(type, mode, owner, size and SHA-256 of the content, symlink target, device numbers);
then the boot header (kernel version, command line, its maximum) when both are s390
boot images, and the compression of the segments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.cli.inspect import add_limit_arguments, limits_from
from composer.cli.ui import UI
from composer.diff import diff_files, diff_json, diff_lines

EPILOG = """\
--json prints one object whose shape is documented in docs/inspect-json.md.
Exit status, like diff(1): 0 no differences, 1 differences, 2 a file is not readable.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=Path, metavar="A", help="boot image or initramfs")
    parser.add_argument("b", type=Path, metavar="B", help="boot image or initramfs")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (docs/inspect-json.md) instead of text")
    parser.add_argument("--mtime", action="store_true",
                        help="also compare modification times")
    add_limit_arguments(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    result = diff_files(args.a, args.b, limits=limits_from(args), with_mtime=args.mtime)
    if args.json:
        ui.json(diff_json(result))
    else:
        for line in diff_lines(result):
            ui.result(line)
    return 0 if result.equal else 1
