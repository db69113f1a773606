"""List what a boot image or initramfs holds, like `ls -l`.

For an s390 boot image: the header (kernel version, initrd offset and size, command
line and its maximum), then the initramfs inside it. For an initramfs: each segment
(offset, compression, entry count) and every entry: mode, links, uid/gid, size (or
major, minor for a device), mtime (UTC), name, and `-> target` for a symlink.
Works on any newc/crc initramfs, whoever wrote it; file data is never held in memory.

With --check, the image's self-check instead (the one every build runs before it
writes): /init (or the command line's rdinit=) runnable, the #! interpreter of every
executable script and the ELF interpreter and DT_NEEDED libraries of every program
present, each module's dependencies (modules.dep, else .modinfo) present, and every
command link in /bin, /sbin, /usr/bin and /usr/sbin leading somewhere. One line per
missing path, naming what needs it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from composer.archive.reader import Limits
from composer.cli.options import add_json_option
from composer.cli.ui import UI
from composer.errors import InputError
from composer.read.inspect import Inspection, inspect_file, inspection_json, inspection_lines

EPILOG = """\
--json prints one object whose shape is documented in docs/inspect-json.md.
Exit status: 0 when the whole file was read, 2 when it is not a readable image;
with --check, 1 when the check found a problem.

examples:
  compose inspect pxelinux.0
  compose inspect --check /boot/initrd.img-$(uname -r)
  compose inspect --check --json pxelinux.0 | jq '.problems[].message'
"""

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def size_argument(text: str) -> int:
    """A byte count such as 4096, 512M or 8G."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)i?b?\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 512M or 8G")
    return int(match.group(1)) * _UNITS[match.group(2)]


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Limits()
    group = parser.add_argument_group("decompression limits (against decompression bombs)")
    group.add_argument("--max-size", type=size_argument, default=defaults.max_size,
                       metavar="SIZE", help="refuse an initramfs that unpacks to more than "
                       f"SIZE bytes in all (default {defaults.max_size >> 30}G)")
    group.add_argument("--max-ratio", type=int, default=defaults.max_ratio, metavar="N",
                       help="refuse a segment that expands more than N times once past "
                       f"{defaults.ratio_floor >> 20}M (default {defaults.max_ratio})")


def limits_from(args: argparse.Namespace) -> Limits:
    if args.max_ratio < 1:
        raise InputError(f"--max-ratio must be at least 1, not {args.max_ratio}")
    return Limits(max_size=args.max_size, max_ratio=args.max_ratio)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE",
                        help="an s390 boot image (pxelinux.0) or an initramfs")
    add_json_option(parser, "the listing (docs/inspect-json.md)")
    parser.add_argument("--check", action="store_true",
                        help="check that the image can boot (its init, interpreters, "
                             "libraries, modules and command links) instead of listing it")
    parser.add_argument("--sizes", action="store_true",
                        help="where the bytes go: by package, by module and by recipe entry, "
                             "sorted (packages and entries from --sbom)")
    parser.add_argument("--sbom", type=Path, metavar="FILE",
                        help="with --sizes: the image's SBOM (compose --sbom)")
    add_limit_arguments(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    if args.check:
        return run_check(args, ui)
    result = inspect_file(args.file, limits_from(args))
    if args.sizes:
        return _sizes(result, args, ui)
    if args.json:
        ui.json(inspection_json(result))
        return 0
    for line in inspection_lines(result):
        ui.result(line)
    return 0


def run_check(args: argparse.Namespace, ui: UI) -> int:
    from composer.read.imagetree import check_file

    image, findings = check_file(args.file, limits_from(args))
    if args.json:
        ui.json({"schema": CHECK_SCHEMA, "file": str(args.file), "kind": image.kind,
                 "ok": not findings, "problems": [f.json() for f in findings]})
    else:
        for finding in findings:
            ui.result(f"{args.file}: {finding.rule}: {finding.message}")
        if not findings:
            ui.say(f"{args.file}: ok (init, interpreters, libraries, modules, links)")
    return 1 if findings else 0


CHECK_SCHEMA = "composer.check/1"


def _sizes(result: Inspection, args: argparse.Namespace, ui: UI) -> int:
    from composer.report.sizes import owners_from_sbom, sizes_json, sizes_lines, tally

    header = result.image.header
    kernel = header.initrd_offset if header is not None and header.initrd_size else \
        result.image.file_size if header is not None else 0
    owners = owners_from_sbom(args.sbom) if args.sbom is not None else None
    groups = tally(result.records, kernel, owners)
    total = kernel + sum(size for size in {r.path: r.size for r in result.records
                                          if r.kind == "file"}.values())
    if args.json:
        ui.json(sizes_json(groups, total, kernel))
    else:
        for line in sizes_lines(groups, total, bars=ui.out.isatty(),
                                have_sbom=owners is not None):
            ui.result(line)
    return 0
