"""What the user sees: stage lines with timings on a terminal, quiet when piped.

Results a script reads (paths, JSON) go to stdout; progress and errors go to stderr,
so `compose ... | jq` and `compose ... 2>/dev/null` both do what people expect.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class UI:
    def __init__(self, verbosity: int = 0, *, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.verbosity = verbosity
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.tty = self.err.isatty()

    def result(self, text: str) -> None:
        """A line of the command's actual output (stdout)."""
        print(text, file=self.out)

    def json(self, value: Any) -> None:
        json.dump(value, self.out, indent=2, sort_keys=False)
        self.out.write("\n")

    def info(self, text: str) -> None:
        """Progress: shown on a terminal, or when asked with -v."""
        if self.verbosity >= 1 or (self.tty and self.verbosity >= 0):
            print(text, file=self.err)

    def say(self, text: str) -> None:
        """A line for people (stderr), shown unless -q: summaries, not progress."""
        if self.verbosity >= 0:
            print(text, file=self.err)

    def warn(self, text: str) -> None:
        if self.verbosity >= 0:
            print(f"compose: warning: {text}", file=self.err)

    def error(self, text: str) -> None:
        print(f"compose: error: {text}", file=self.err)

    def error_lines(self, lines: list[str]) -> None:
        if len(lines) == 1:
            self.error(lines[0])
            return
        self.error(f"{len(lines)} problems:")
        for line in lines:
            print(f"  {line}", file=self.err)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Report a pipeline stage with its wall time, dracut/mkosi style."""
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.info(f"  {name:<10} {elapsed * 1000:8.1f} ms")
