"""Timing and peak memory of one command, as a fresh process.

Peak RSS comes from `/usr/bin/time -f %M`, not from `getrusage(RUSAGE_CHILDREN)`: the
kernel carries a process's RSS high-water mark across exec, so a child forked (or
vforked) from this Python process would report *our* peak, not its own. GNU time is a
small C program, so the child it forks starts from almost nothing.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

GNU_TIME = "/usr/bin/time"
STAGE_LINE = re.compile(r"^\s+(\w+)\s+([\d.]+) ms$")


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    rss_kib: int  # peak resident set of the command (the whole pipeline's largest process)
    cpu: float = 0.0  # user + system seconds of the command and all it waited for
    stages: Mapping[str, float] = field(default_factory=dict)  # compose -v, seconds


@dataclass(frozen=True)
class Command:
    """A command line run by `sh -c` (so peers can be pipelines), in `cwd`."""

    name: str
    shell: str
    cwd: Path
    env: Mapping[str, str] | None = None
    output: Path | None = None  # removed before each run, so every run writes a new file
    before: Callable[[], None] | None = None  # run before each run, outside the timing


class CommandFailed(RuntimeError):
    pass


def run(command: Command) -> Sample:
    """Run once; the wall time includes starting the process, as a user would see it."""
    if command.output is not None:
        command.output.unlink(missing_ok=True)
    if command.before is not None:
        command.before()
    with tempfile.NamedTemporaryFile("r", prefix="bench-time-") as report:
        argv = [GNU_TIME, "-o", report.name, "-f", "%M %U %S", "sh", "-c", command.shell]
        env = {**os.environ, **(command.env or {})}
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=command.cwd, env=env, capture_output=True, text=True,
                              check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise CommandFailed(f"{command.name}: `{command.shell}` exited "
                                f"{done.returncode}:\n{done.stderr[-2000:]}")
        rss, user, system = report.read().split()[-3:]
    return Sample(wall, int(rss), cpu=float(user) + float(system),
                  stages=stage_times(done.stderr))


def stage_times(stderr: str) -> dict[str, float]:
    """The `compose -v` stage lines ("  archive   123.4 ms"), in seconds."""
    stages: dict[str, float] = {}
    for line in stderr.splitlines():
        match = STAGE_LINE.match(line)
        if match:
            stages[match[1]] = stages.get(match[1], 0.0) + float(match[2]) / 1000
    return stages


@dataclass
class Series:
    """All samples of one command; the table shows medians."""

    name: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def rss_kib(self) -> int:
        return int(statistics.median(s.rss_kib for s in self.samples))

    @property
    def spread(self) -> tuple[float, float]:
        walls = [s.wall for s in self.samples]
        return min(walls), max(walls)

    def stage(self, name: str) -> float | None:
        values = [s.stages[name] for s in self.samples if name in s.stages]
        return statistics.median(values) if values else None


def interleaved(commands: Sequence[Command], runs: int, *, warmup: int = 1,
                progress: Callable[[str], None] = lambda _: None) -> dict[str, Series]:
    """Run the commands round-robin, so load from other users of the machine hits all
    of them alike; the first `warmup` rounds fill the page cache and are not kept."""
    series = {c.name: Series(c.name) for c in commands}
    for round_ in range(warmup + runs):
        for command in commands:
            sample = run(command)
            if round_ >= warmup:
                series[command.name].samples.append(sample)
            progress(f"{command.name}: {sample.wall:.3f} s, {sample.rss_kib / 1024:.0f} MiB")
    return series


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
