"""Unpack the initramfs of a boot image (or a bare initramfs) into DIR.

Nothing is written outside DIR: absolute names, '..' and writing through a symbolic
link (one the archive made, or one already in DIR) are refused, entry by entry, and
the rest is extracted. Existing files are kept unless --force. Device nodes are skipped
with a note when not running as root; modes and mtimes are restored, owners as root.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.cli.inspect import add_limit_arguments, limits_from
from composer.cli.ui import UI
from composer.read.extract import extract_file
from composer.read.inspect import printable

EPILOG = """\
Exit status: 0 all extracted (skipped device nodes included), 1 some entries clashed
with what DIR already holds, 2 the archive is malformed or holds hostile names.
"""

MAX_CONFLICT_LINES = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE",
                        help="an s390 boot image (pxelinux.0) or an initramfs")
    parser.add_argument("dest", type=Path, metavar="DIR",
                        help="where to unpack (created if missing)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace files that already exist in DIR")
    add_limit_arguments(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    _, report = extract_file(args.file, args.dest, force=args.force, limits=limits_from(args))
    for note in report.skipped:
        ui.warn(f"{printable(note.name)}: {note.reason}")
    for note in report.conflicts[:MAX_CONFLICT_LINES]:
        ui.error(f"{printable(note.name)}: not extracted: {note.reason}")
    if len(report.conflicts) > MAX_CONFLICT_LINES:
        ui.error(f"... and {len(report.conflicts) - MAX_CONFLICT_LINES} more entries "
                 "not extracted for the same kind of reason")
    for note in report.refused:
        ui.error(f"{printable(note.name)}: refused: {note.reason}")
    left_out = len(report.conflicts) + len(report.refused)
    summary = f"extracted {report.written} entries into {printable(str(args.dest))}"
    if report.skipped:
        summary += f", skipped {len(report.skipped)}"
    if left_out:
        summary += f", {left_out} not extracted"
    ui.info(summary)
    return report.exit_code
