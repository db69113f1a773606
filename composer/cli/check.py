"""Check a TFTP/HTTP tree before any guest boots from it.

Each pxelinux.cfg file under TREE is read by the image's own boot script in its dry run
(its files unpacked, run with the host's sh), so the PXELINUX rules are the image's own.
For every label: its kernel and initrds exist in the tree (URLs are asked, with
--online), its command line fits the kernel's maximum (0x10430 of that kernel), its
initrds fit the guest's memory (--memory). A config that QEMU's firmware reads itself
(no s390 image as PREFIX/pxelinux.0 beside it) must also stay within the firmware's
limits: at most 2047 bytes, 16 labels, APPEND of 895 bytes.

  compose check /srv/tftp                       # the image is /srv/tftp/pxelinux.0
  compose check /srv/tftp --image out/pxelinux.0 --memory 512 --json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.cli.options import add_json_option
from composer.cli.ui import UI
from composer.errors import InputError

EPILOG = """\
One line per problem: CONFIG: label 'NAME': what is wrong. --json prints
{"schema": "composer.check/1", "tree", "configs", "ok", "problems": [{"config", "label",
"check", "message"}]}. Exit status: 0 no problem, 1 problems, 2 bad input.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tree", type=Path, metavar="TREE", help="the served TFTP/HTTP root")
    parser.add_argument("--image", type=Path, metavar="IMAGE",
                        help="the composer image whose boot script reads the configs "
                             "(default: the tree's pxelinux.0, wherever it is)")
    parser.add_argument("--memory", type=int, metavar="MB",
                        help="the guest's memory: initrds larger than that are problems")
    parser.add_argument("--mac", default="52:54:00:12:34:56",
                        help="the guest's MAC address, for the lookup's facts")
    parser.add_argument("--ip", default="10.0.2.15", help="the guest's IPv4 address")
    parser.add_argument("--online", action="store_true",
                        help="ask every http(s)/ftp URL a kernel or initrd names")
    add_json_option(parser, "the result")


def _image(tree: Path, given: Path | None) -> Path:
    if given is not None:
        return given
    from composer.image.s390 import looks_like_boot_image

    for candidate in sorted(tree.rglob("pxelinux.0")):
        with open(candidate, "rb") as f:
            if looks_like_boot_image(f.read(0x10010)):
                return candidate
    raise InputError(f"no s390 pxelinux.0 in {tree} to read its configs with",
                     hint="give --image IMAGE, the composer image that serves this tree")


def run(args: argparse.Namespace, ui: UI) -> int:
    from composer.report.treecheck import (
        check_config,
        check_json,
        dry_run,
        find_configs,
        script_root,
    )

    tree: Path = args.tree
    if not tree.is_dir():
        raise InputError(f"{tree} is not a directory (the TFTP/HTTP root to check)")
    if args.memory is not None and args.memory <= 0:
        raise InputError(f"--memory {args.memory}: give the guest's memory in MB")
    configs = find_configs(tree)
    if not configs:
        raise InputError(f"no pxelinux.cfg/ files under {tree}")
    problems = []
    with script_root(_image(tree, args.image)) as root:
        for config in configs:
            result = dry_run(root, tree, config, mac=args.mac, ip=args.ip)
            problems += check_config(tree, result, online=args.online, memory_mb=args.memory)
    if args.json:
        ui.json(check_json(tree, configs, problems))
    else:
        for problem in problems:
            ui.result(problem.line())
        ui.say(f"{len(configs)} config(s), {len(problems)} problem(s)")
    return 1 if problems else 0
