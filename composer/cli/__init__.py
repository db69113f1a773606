"""The `compose` command line: the only place that prints and exits.

Commands are modules of this package, imported only when used so that a build starts
fast. Each one provides `add_arguments(parser)` and `run(args, ui) -> int`.
Like git, the first word picks the command; anything else is a recipe to build.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from composer import __version__
from composer.cli.ui import UI
from composer.errors import ComposerError, RecipeError


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, the module that implements it, its line in --help."""

    name: str
    module: str
    summary: str


COMMANDS: tuple[Command, ...] = (
    Command("build", "composer.cli.build", "compose a boot image from recipes (the default)"),
    Command("validate", "composer.cli.validate", "check recipes without building"),
    Command("show", "composer.cli.show", "print the effective recipe after extends and --set"),
    Command("render", "composer.cli.render", "render a recipe's templates into a directory"),
    Command("inspect", "composer.cli.inspect", "list what a boot image or initramfs holds"),
    Command("extract", "composer.cli.extract", "unpack an image's initramfs into a directory"),
    Command("diff", "composer.cli.diff", "compare two images or initramfs archives"),
    Command("why", "composer.cli.why", "say why a path is in an image: recipe entry, "
            "library or module chain, package"),
    Command("check", "composer.cli.check", "check a TFTP/HTTP tree's pxelinux.cfg files "
            "with the image's own boot script"),
    Command("boot", "composer.cli.boot", "network-boot an image in qemu-system-s390x"),
    Command("recipes", "composer.cli.recipes", "list the stock recipes, buildable by name"),
    Command("sysroot", "composer.cli.sysroot", "fetch a Debian sysroot (s390x kernel, "
            "busybox, kexec) and print its path"),
    Command("schema", "composer.cli.schema", "print the recipe JSON Schema"),
)

DESCRIPTION = """\
Compose Linux boot images from declarative YAML recipes.

The first job is the s390 (IBM Z) PXELINUX-style network boot image: a kernel with a
small initramfs appended, patched so the kernel finds it, ready for a DHCP/TFTP server.

  compose pxelinux --sysroot "$(compose sysroot)" -o pxelinux.0
  compose inspect pxelinux.0
  compose boot pxelinux.0 --entry 'linux: vmlinuz initrd.img console=ttysclp0'
"""

EPILOG = """\
A RECIPE is a YAML file, or the name of a stock recipe ('compose recipes' lists them):
'pxelinux' builds the stock one unless a file named 'pxelinux' exists here, since an
existing file always wins. A name has no '/' and no .yaml suffix; 'extends:' reads
names the same way. 'compose sysroot' fetches Debian's s390x kernel, busybox-static and
kexec-tools (without root) and prints where. Without --sysroot, / is the sysroot (the
s390 host itself): when its /boot holds several kernels, the running one (uname -r) is
taken, and the build says so.

Run 'compose COMMAND --help' for the options of a command.
Exit status: 0 success, 1 failure (or a difference for 'diff'), 2 bad input.
"""


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="say more (repeat for even more)")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="print only errors and requested results")
    group.add_argument("--debug", action="store_true",
                       help="show a traceback when something fails")


def command_parser(command: Command) -> argparse.ArgumentParser:
    module = importlib.import_module(command.module)
    parser = argparse.ArgumentParser(
        prog=f"compose {command.name}" if command.name != "build" else "compose",
        description=(module.__doc__ or command.summary).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=getattr(module, "EPILOG", None),
    )
    module.add_arguments(parser)
    _common(parser)
    return parser


def top_help() -> str:
    width = max(len(c.name) for c in COMMANDS)
    lines = ["usage: compose [COMMAND] [OPTIONS] ...\n", DESCRIPTION, "commands:"]
    lines += [f"  {c.name:<{width}}  {c.summary}" for c in COMMANDS]
    lines += ["", EPILOG]
    return "\n".join(lines)


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that cleanups run as for Ctrl-C: an
    output being written is dropped, temporary directories go, workers are ended."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


class StdoutError(Exception):
    """The command's results could not be written (stdout closed, full or gone)."""


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot fail
    again with a traceback after the error was reported."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def _stdout_failing(error: OSError) -> bool:
    """Whether an OSError that reached the top came from writing the results: file
    outputs are reported (with their names) by the pipeline, so a nameless write error
    of this kind is stdout's (a full disk, /dev/full, a closed descriptor)."""
    if error.filename is not None or error.errno not in _STDOUT_ERRNOS:
        return False
    _quiet_stdout()
    return True


_STDOUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EBADF, errno.EFBIG})


def _flush_stdout() -> None:
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        _quiet_stdout()
        raise StdoutError(f"cannot write the results to standard output: "
                          f"{error.strerror or error}") from None


def _print_traceback() -> None:
    import traceback  # only --debug needs it

    traceback.print_exc()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a reader that goes away (`compose --help | head -1`) ends it
    quietly, as it would a C tool killed by SIGPIPE, with the status a shell shows for that."""
    try:
        try:
            code = _main(argv)
        finally:  # also after argparse's --help, which leaves by SystemExit
            if sys.stdout is not None:  # None when started with stdout closed
                sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so that the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + signal.SIGPIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] in ("-h", "--help", "help"):
        print(top_help())
        return 0 if args_in else 2
    if args_in[0] == "--version":
        print(f"compose {__version__}")
        return 0
    by_name = {c.name: c for c in COMMANDS}
    command = by_name.get(args_in[0])
    if command is None:
        command = by_name["build"]
    else:
        args_in = args_in[1:]
    try:
        parser = command_parser(command)
    except ModuleNotFoundError as error:
        print(f"compose: error: command '{command.name}' is not available ({error})",
              file=sys.stderr)
        return 1
    args = parser.parse_args(args_in)
    if sys.stdout is None:  # started with stdout closed (>&-): results have nowhere to go
        print("compose: error: standard output is closed; results have nowhere to go",
              file=sys.stderr)
        return 1
    ui = UI(verbosity=-1 if args.quiet else args.verbose)
    module = importlib.import_module(command.module)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = int(module.run(args, ui))
        _flush_stdout()
        return code
    except RecipeError as error:
        ui.error_lines(error.lines())
        if args.debug:
            _print_traceback()
        return error.exit_code
    except ComposerError as error:
        ui.error(str(error))
        if args.debug:
            _print_traceback()
        return error.exit_code
    except KeyboardInterrupt:
        ui.error("interrupted")
        return 130
    except Terminated:
        ui.error("terminated")
        return 143
    except BrokenPipeError:
        raise
    except StdoutError as error:
        ui.error(str(error))
        return 1
    except Exception as error:
        if isinstance(error, OSError) and _stdout_failing(error):
            ui.error(f"cannot write the results to standard output: {error.strerror or error}")
            return 1
        if args.debug:
            _print_traceback()
        ui.error(
            f"internal error: {type(error).__name__}: {error}. This is a bug in composer; "
            "run again with --debug for the traceback and report it."
        )
        return 1
