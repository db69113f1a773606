"""Tables of the benchmark: printed as Markdown, and spliced into BENCHMARKS.md.

Only the part between the two markers is rewritten, so the notes around the tables
(profiles, explanations) survive a new run of `bench/run.py --write BENCHMARKS.md`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BEGIN = "<!-- bench/run.py: begin generated -->"
END = "<!-- bench/run.py: end generated -->"


@dataclass
class Table:
    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "",
                 "| " + " | ".join(c.replace("|", "\\|") for c in self.columns) + " |",
                 "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns)))
                 + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                  for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Target:
    name: str
    measured: float
    limit: float
    unit: str  # "x" (a ratio), "s", "MiB"
    at_least: bool = False  # the measured value must reach the limit, not stay under it

    @property
    def met(self) -> bool:
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit

    def row(self) -> list[str]:
        sign = ">=" if self.at_least else "<="
        return [self.name, f"{sign} {number(self.limit, self.unit)}",
                number(self.measured, self.unit), "met" if self.met else "**missed**"]


def number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:.0f} {unit}"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f}"


def targets_table(targets: Sequence[Target]) -> Table:
    table = Table("Targets (issues 8 and 17)", ["target", "limit", "measured", ""])
    table.rows = [t.row() for t in targets]
    return table


def document(header: str, tables: Sequence[Table]) -> str:
    return header + "\n" + "\n".join(t.markdown() for t in tables)


def splice(path: Path, generated: str, begin: str = BEGIN, end_mark: str = END) -> None:
    """Replace the generated part of `path` between BEGIN and END (each bench script has
    its own pair of markers), or create the file around it."""
    block = f"{begin}\n{generated}{end_mark}\n"
    if path.exists():
        text = path.read_text()
        start, end = text.find(begin), text.find(end_mark)
        if start >= 0 and end > start:
            rest = text[end + len(end_mark):].lstrip("\n")
            path.write_text(text[:start] + block + ("\n" + rest if rest else ""))
            return
        path.write_text(text.rstrip("\n") + "\n\n" + block)
        return
    path.write_text(f"# Benchmarks\n\n{block}")
