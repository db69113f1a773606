"""Network-boot an s390 image in qemu-system-s390x, as a DHCP/TFTP server would serve it.

QEMU's user network is the DHCP and TFTP server; the s390 firmware fetches IMAGE as its
boot file (never -kernel). The TFTP root is DIR with --tftp (IMAGE is booted where it lies
inside DIR, or copied in as pxelinux.0; an existing different pxelinux.0 is never
overwritten), or else a temporary one holding IMAGE as pxelinux.0 and a
pxelinux.cfg/default written from the --entry options, the first one being DEFAULT:

  compose boot pxelinux.0 --entry 'linux: vmlinuz initrd.img console=ttysclp0' \\
      --expect 'Run /init as init process'

In an entry, @kernel is the --sysroot's kernel (/boot/vmlinuz-*) and @NAME in the initrd
list the initramfs of recipe NAME (a stock name or a path) built against the --sysroot;
the stock `stage2` prints STAGE2-CMDLINE<its command line>, so only a boot that reached
the second stage matches:

  compose boot pxelinux.0 --sysroot "$(compose sysroot)" \\
      --entry 'linux: @kernel @stage2 console=ttysclp0' --expect 'STAGE2-CMDLINE<'

The guest console streams to stdout (and to --log). Ctrl-C stops the guest. --type
answers the guest's prompts as an operator at the console would, in order, each once its
prompt has appeared (after the previous answer's):

  compose boot pxelinux.0 --tftp srv --type 'boot: =rescue single' --expect 'Run /init'

Real servers instead of QEMU's (root): --lab makes a network namespace with dnsmasq
(DHCPv4, DHCPv6, router advertisements, TFTP of the TFTP root, DNS) and nginx (--http-root
on 192.168.77.1 and [fd77::1]), the guest on a tap there; --dnsmasq-conf gives your
site's dnsmasq lines instead of the lab's default ones, to try an image before it meets
your network. --netns NAME --tap IFNAME puts the card into a namespace of your own.
--append boots the image directly (-kernel) with that command line, e.g. 'ip=... ':

  compose boot pxelinux.0 --tftp srv --lab --dnsmasq-conf site.conf --http-root www
"""

from __future__ import annotations

import argparse
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, TextIO

from composer.cli.options import add_sysroot_option
from composer.cli.ui import UI
from composer.qemu.console import ANSWER_FORMAT, Answer, parse_answer
from composer.qemu.stock import has_words, resolve_words

# The TFTP side is light; composer.qemu.boot (QEMU, subprocesses) is imported only to boot.
from composer.qemu.tftproot import ENTRY_FORMAT, BootEntry, parse_entry

if TYPE_CHECKING:
    from composer.qemu.boot import BootResult


EPILOG = """\
Exit status: with --expect, 0 as soon as TEXT is on the console (QEMU is then stopped),
1 when the guest stops, panics or the timeout passes first. Without --expect, 0 when the
guest powers off without a kernel panic, 1 otherwise. QEMU's own exit status proves
nothing: it is 0 after a panic too. 2 for bad arguments or a bad image.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, metavar="IMAGE",
                        help="s390 boot image (pxelinux.0) to boot over the network, or an "
                             ".INS file (compose --ins DIR): the firmware then loads the "
                             "files it lists, served from its directory")
    add_sysroot_option(parser)
    add_boot_options(parser)


def add_boot_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options of a boot, shared with `compose RECIPE --boot`."""
    parser.add_argument("--tftp", type=Path, metavar="DIR",
                        help="serve this directory over TFTP instead of a temporary one")
    parser.add_argument("--entry", action="append", default=[], metavar="ENTRY",
                        help=f"a PXELINUX entry for the temporary TFTP root: {ENTRY_FORMAT} "
                             "(the second word is the INITRD list unless it holds a '='); "
                             "host files are copied in; @kernel is the sysroot's kernel, "
                             "@NAME an initrd built from recipe NAME (e.g. @stage2); "
                             "repeatable, the first is DEFAULT")
    parser.add_argument("--mac", help="MAC address of the guest's network card")
    parser.add_argument("--type", action="append", default=[], metavar="WAIT=TEXT",
                        dest="answers", help=f"type on the console: {ANSWER_FORMAT}; "
                                             "repeatable, typed in order")
    parser.add_argument("--disk", action="append", default=[], type=Path, metavar="FILE",
                        help="a raw disk image as virtio-blk-ccw disk (0.0.0001, then "
                             "0.0.0002, ...); repeatable")
    parser.add_argument("--reboot", action="store_true",
                        help="let the guest reboot or re-IPL (e.g. LOCALBOOT from --disk) "
                             "instead of ending the run when it does")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="S",
                        help="give up after S seconds (default 120)")
    parser.add_argument("--expect", metavar="TEXT",
                        help="succeed as soon as TEXT appears on the console")
    parser.add_argument("--log", type=Path, metavar="FILE", help="also write the console here")
    parser.add_argument("--memory", type=int, default=1024, metavar="MB",
                        help="guest memory (default 1024)")
    parser.add_argument("--qemu", metavar="PATH", help="the qemu-system-s390x to run")
    parser.add_argument("--lab", action="store_true",
                        help="boot in a lab made for this run (root): a network namespace "
                             "with dnsmasq (DHCPv4, DHCPv6, router advertisements, TFTP of "
                             "the TFTP root, DNS) and nginx (--http-root), the guest's card "
                             "on a tap device there; all gone afterwards")
    parser.add_argument("--dnsmasq-conf", type=Path, metavar="FILE",
                        help="with --lab: your site's dnsmasq lines (dhcp-range, dhcp-boot, "
                             "dhcp-option...) instead of the lab's default ones")
    parser.add_argument("--http-root", type=Path, metavar="DIR",
                        help="with --lab: serve DIR over HTTP on port 80 of 192.168.77.1 "
                             "and [fd77::1]")
    parser.add_argument("--netns", metavar="NAME",
                        help="put the guest's card on a tap device in this network namespace "
                             "(your own servers there; see --tap) instead of QEMU's user "
                             "network")
    parser.add_argument("--tap", default="tap0", metavar="IFNAME",
                        help="the tap device in --netns (default tap0)")
    parser.add_argument("--udp", type=int, metavar="PORT",
                        help="with --netns: no tap; the card's frames go as UDP datagrams to "
                             "127.0.0.1:PORT there and come back to PORT+1 (a switch in user "
                             "space, like the lab's VLAN trunk)")
    parser.add_argument("--append", metavar="CMDLINE",
                        help="boot IMAGE directly with -kernel and this command line "
                             "(libvirt's direct kernel boot: no firmware network boot)")
    parser.add_argument("--unwired-nics", type=int, default=0, metavar="N",
                        help="N more network cards connected to nothing, before the boot "
                             "card (does the image find the card it booted from?)")


class Tee:
    """The console to the terminal and the log file at once."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def run(args: argparse.Namespace, ui: UI) -> int:
    entries = [parse_entry(text) for text in args.entry]
    answers = [parse_answer(text) for text in args.answers]
    with TemporaryDirectory(prefix="compose-boot-") as work:
        if has_words(entries):
            entries = resolve_words(entries, args.sysroot, Path(work))
        return _boot(args, ui, entries, answers)


def _boot(args: argparse.Namespace, ui: UI, entries: list[BootEntry],
          answers: list[Answer]) -> int:
    from composer.qemu.boot import Site, boot_image

    streams: list[TextIO] = [] if ui.verbosity < 0 else [ui.out]
    try:
        log = args.log.open("w", encoding="utf-8") if args.log is not None else None
    except OSError as error:
        ui.error(f"cannot write the console log {args.log}: {error.strerror}")
        return 1
    try:
        if log is not None:
            streams.append(log)
        ui.info(f"booting {args.image} over the network (timeout {args.timeout:g} s)")
        result = boot_image(
            args.image, tftp_dir=args.tftp, entries=entries, mac=args.mac,
            timeout=args.timeout, expect=args.expect, memory=args.memory, qemu=args.qemu,
            console=Tee(*streams) if streams else None, answers=answers, disks=args.disk,
            reboot=args.reboot, unwired_nics=args.unwired_nics,
            site=Site(netns=args.netns, tap=args.tap, udp=args.udp, lab=args.lab,
                      dnsmasq_conf=args.dnsmasq_conf, http_root=args.http_root,
                      append=args.append))
    finally:
        if log is not None:
            log.close()
    if streams and streams[0] is ui.out and not result.console.endswith("\n"):
        ui.out.write("\n")  # the next prompt or message starts on a line of its own
    return report(result, args, ui)


def report(result: BootResult, args: argparse.Namespace, ui: UI) -> int:
    from composer.qemu.boot import Outcome

    seconds = f"{result.elapsed:.1f} s"
    if result.waiting_for is not None:
        ui.warn(f"typed {result.answers_typed} of {len(args.answers)} --type answers: "
                f"{result.waiting_for!r} never appeared on the console after the last one")
    if result.ok:
        if result.outcome is Outcome.MARKER:
            ui.info(f"boot: {args.expect!r} seen after {result.seconds_to_marker:.1f} s")
        else:
            ui.info(f"boot: the guest powered off after {seconds}")
        return 0
    messages = {
        Outcome.MARKER: "",
        Outcome.POWEROFF: f"the guest stopped after {seconds} without printing "
                          f"{args.expect!r}",
        Outcome.PANIC: f"the guest's kernel panicked after {seconds}",
        Outcome.NETBOOT_FAILED: f"the firmware's network boot of {args.image} failed after "
                                f"{seconds} (its messages are on the console above)",
        Outcome.TIMEOUT: (f"no {args.expect!r} on the console within {args.timeout:g} s"
                          if args.expect else
                          f"the guest was still running after {args.timeout:g} s"),
        Outcome.QEMU_FAILED: f"{result.command[0]} exited with status {result.qemu_status}"
                             f": {' '.join(result.qemu_stderr.split())[-400:] or 'no message'}",
    }
    ui.error(messages[result.outcome])
    return 1
