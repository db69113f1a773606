"""Typing on the guest console: an operator's answers, each typed when its prompt appears.

Under `-nographic` QEMU's stdin is the guest's SCLP console, so whatever is written to it
arrives on /dev/console as if typed at the HMC or in `virsh console`. An answer waits for
its text (`boot: `) to start a console line after the place where the previous answer's
text was seen, so `boot: =tow` then `boot: =two` types the second line only at the second
prompt. Enter is sent as a carriage return, as a terminal in raw mode sends it (the
guest's tty turns it into a newline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from composer.errors import InputError

ANSWER_FORMAT = ("'WAIT=TEXT': type TEXT and Enter once WAIT is on the console, e.g. "
                 "'boot: =linux quiet' ('boot: =' is Enter alone)")
ENTER = "\r"


@dataclass(frozen=True)
class Answer:
    """TEXT typed, followed by Enter, once WAIT_FOR has appeared on the console."""

    wait_for: str
    text: str


def parse_answer(spec: str) -> Answer:
    """`WAIT=TEXT`, split at the first `=`: the awaited text cannot hold one, the typed may."""
    wait_for, equals, text = spec.partition("=")
    if not equals or not wait_for:
        raise InputError(f"--type {spec!r} is not of the form {ANSWER_FORMAT}")
    if any(ch in text for ch in "\r\n"):
        raise InputError(f"--type {spec!r}: the text is one line (Enter is typed after it)")
    return Answer(wait_for, text)


def prompt_at(console: str, wait_for: str, start: int) -> int:
    """Where WAIT_FOR starts a line of CONSOLE from START on, or -1. A prompt starts its
    line; elsewhere the text is only part of a message (`boot: ` ends every `pxeboot: `),
    and the end of the text so far proves nothing: the console splits lines anywhere."""
    at = console.find(wait_for, start)
    while at > 0 and console[at - 1] != "\n":
        at = console.find(wait_for, at + 1)
    return at


@dataclass
class Typist:
    """Decides, as the console text grows, which answers are due. Pure: the caller types."""

    answers: Sequence[Answer]
    typed: int = 0
    _seen_until: int = field(default=0, repr=False)

    def due(self, console: str) -> list[str]:
        """The keystrokes to send now for CONSOLE (all console text so far)."""
        keys = []
        while self.typed < len(self.answers):
            answer = self.answers[self.typed]
            at = prompt_at(console, answer.wait_for, self._seen_until)
            if at < 0:
                break
            self._seen_until = at + len(answer.wait_for)
            self.typed += 1
            keys.append(answer.text + ENTER)
        return keys

    @property
    def waiting_for(self) -> str | None:
        """The text the next answer still waits for (None when all were typed)."""
        return self.answers[self.typed].wait_for if self.typed < len(self.answers) else None


def type_keys(stdin: IO[bytes] | None, keys: Sequence[str]) -> None:
    """Send KEYS to QEMU's stdin; a QEMU that already went away just misses them (its
    end shows on the console and in its exit status)."""
    if stdin is None:
        return
    try:
        for text in keys:
            stdin.write(text.encode())
        stdin.flush()
    except BrokenPipeError:
        pass
