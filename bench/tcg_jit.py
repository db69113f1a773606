"""TCG's translation cache flushes during a boot, counted from QEMU's own monitor.

At `compose boot`'s tb-size of 16 MB the cache of translated guest code fills about every
half second of the boot script and is flushed whole; every code path run after a flush is
translated again. In a stamped probe of a TFTP boot (round 3f) the cache was flushed six
times between "Run /init" and "starting kernel", and the config search's TFTP miss right
after a flush took 53 ms against 9 ms for the next ones. So "our own work" holds the
emulator's retranslation, and where the flushes fall moves it by tens of milliseconds from
boot to boot. Counting them per boot (boot_phases.py --tcg-flushes) shows how much of a
difference between two boots is that.

QEMU answers `info jit` on a monitor socket added to the command of each boot; a thread
asks 10 times a second and turns each new count into a console-like line,
"#tcg-flushes N", stamped on the console's clock. The monitor takes QEMU's big lock for
each answer, so the count is opt-in: a bench without it runs QEMU as `compose boot` does.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

FLUSHES = re.compile(r"TB flush count\s+(\d+)")
LINE = re.compile(r"^#tcg-flushes (\d+)$")


def monitor_arguments(path: Path) -> list[str]:
    """QEMU's options for a monitor on the UNIX socket PATH that FlushWatch can ask (the
    bench appends them to each boot's command: boot_phases.qemu_arguments)."""
    return ["-monitor", f"unix:{path},server=on,wait=off"]


class FlushWatch:
    """Asks QEMU on the monitor socket PATH for its flush count every PERIOD seconds while
    the block runs (connecting again until QEMU is there)."""

    def __init__(self, path: Path, period: float = 0.1) -> None:
        self.path, self.period = path, period
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> FlushWatch:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.done.set()
        self.thread.join(timeout=5)

    def _poll(self) -> None:
        while not self.done.is_set():
            try:
                with socket.socket(socket.AF_UNIX) as channel:
                    channel.connect(str(self.path))
                    channel.settimeout(2)
                    while not self.done.wait(self.period):
                        self._ask(channel)
            except OSError:
                self.done.wait(0.05)

    def _ask(self, channel: socket.socket) -> None:
        channel.sendall(b"info jit\n")
        answer, deadline = "", time.monotonic() + 2
        while time.monotonic() < deadline and not FLUSHES.search(answer):
            data = channel.recv(65536)
            if not data:
                raise OSError("monitor closed")
            answer += data.decode(errors="replace")
        found = FLUSHES.search(answer)
        if found:
            self.samples.append((time.monotonic(), int(found.group(1))))

    def lines(self, start: float) -> list[tuple[float, str]]:
        """One line per new count, stamped in seconds since START (the console's clock)."""
        lines, last = [], None
        for when, count in self.samples:
            if count != last:
                lines.append((when - start, f"#tcg-flushes {count}"))
                last = count
        return lines


def flushes_between(lines: list[tuple[float, str]], begin: float, end: float) -> int | None:
    """Flushes from BEGIN to END (console seconds) by the count lines among LINES; None
    without any (a bench run without --tcg-flushes)."""
    counts = [(when, int(found.group(1))) for when, line in lines
              if (found := LINE.match(line))]
    if not counts:
        return None

    def at(moment: float) -> int:
        known = [count for when, count in counts if when <= moment]
        return known[-1] if known else counts[0][1]

    return at(end) - at(begin)
