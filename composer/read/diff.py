"""What differs between two images or initramfs archives, entry by entry.

An archive is first reduced to the state the kernel would leave behind: one
`EntryState` per path (a later entry for a path replaces an earlier one, and hard links
share the content of the member that carries the data), with file content reduced to a
SHA-256. Comparing two such states is then a pure function (`diff_archives`), usable on
states built from anything else: `states_from_entries` builds them from a manifest, so
a recipe's build can be compared with an image on disk.

mtimes are left out unless asked for: two builds at different times would otherwise
differ everywhere, and reproducible builds clamp them anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from composer.archive.reader import Limits, Member, Record, Segment
from composer.cpio import DEVICES, KIND_BITS, Kind
from composer.image.s390 import BootHeader
from composer.manifest import Entry
from composer.read.inspect import S390_IMAGE, Image, mtime_text, open_image, printable

K = TypeVar("K", bound=str)
V = TypeVar("V")

SCHEMA = "composer.diff/1"
HEADER_FIELDS = ("kernel_version", "cmdline", "max_cmdline")


@dataclass(frozen=True)
class EntryState:
    """One path as it ends up in the unpacked image: the archive member that put it there
    (a hard link given the size of the member that carried its data) and, for a file,
    the SHA-256 of its content."""

    record: Record
    sha256: str | None = None

    def compared(self, with_mtime: bool) -> dict[str, Any]:
        """The fields that matter for this kind of entry."""
        record = self.record
        fields: dict[str, Any] = {"type": record.kind, "mode": f"{record.permissions:04o}",
                                  "uid": record.uid, "gid": record.gid}
        if record.kind is Kind.FILE:
            fields.update(size=record.size, sha256=self.sha256)
        elif record.kind is Kind.SYMLINK:
            fields["target"] = record.target
        elif record.kind in DEVICES:
            fields["device"] = f"{record.rdev_major}, {record.rdev_minor}"
        if with_mtime:
            fields["mtime"] = record.mtime
        return fields


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    a: Any
    b: Any


@dataclass(frozen=True, slots=True)
class EntryChange:
    path: str
    status: str  # "added", "removed" or "changed"
    a: EntryState | None
    b: EntryState | None
    changes: tuple[FieldChange, ...] = ()


def entry_states(members: Iterable[Member]) -> dict[str, EntryState]:
    """Hash every file while the reader streams it; resolve overrides and hard links."""
    states: dict[str, EntryState] = {}
    groups: dict[tuple[int, ...], list[str]] = {}
    content: dict[tuple[int, ...], tuple[int, str]] = {}
    for member in members:
        record = member.record
        digest = None
        if record.kind is Kind.FILE:
            hasher = hashlib.sha256()
            for chunk in member.chunks():
                hasher.update(chunk)
            digest = hasher.hexdigest()
        states[record.path] = EntryState(record, digest)
        if record.kind is Kind.FILE and record.nlink >= 2:
            key = (record.archive, record.dev_major, record.dev_minor, record.ino)
            groups.setdefault(key, []).append(record.path)
            if record.size and digest is not None:
                content[key] = (record.size, digest)
    for group, (size, digest) in content.items():
        for path in groups[group]:
            state = states[path]
            if state.record.kind is Kind.FILE and not state.record.size:
                states[path] = EntryState(replace(state.record, size=size), digest)
    return states


def _file_digest(entry: Entry) -> str:
    hasher = hashlib.sha256()
    if entry.data is not None:
        hasher.update(entry.data)
    elif entry.source is not None:
        with open(entry.source, "rb") as f:
            while chunk := f.read(1 << 20):
                hasher.update(chunk)
    return hasher.hexdigest()


def states_from_entries(entries: Iterable[Entry]) -> dict[str, EntryState]:
    """The states a manifest would produce, to compare a recipe with an existing image."""
    states = {}
    for entry in entries:
        is_file = entry.kind is Kind.FILE
        record = Record(entry.path, KIND_BITS[entry.kind] | entry.mode, entry.uid, entry.gid,
                        1, entry.mtime or 0,
                        entry.size() if is_file or entry.kind is Kind.SYMLINK else 0,
                        rdev_major=entry.major, rdev_minor=entry.minor, target=entry.target)
        states[entry.path] = EntryState(record, _file_digest(entry) if is_file else None)
    return states


def diff_archives(a: Mapping[str, EntryState], b: Mapping[str, EntryState], *,
                  with_mtime: bool = False) -> list[EntryChange]:
    """Added, removed and changed paths, sorted by path."""
    changes = []
    for path, before, after in paired(a, b):
        if before is None or after is None:
            changes.append(EntryChange(path, presence(before, after), before, after))
            continue
        old, new = before.compared(with_mtime), after.compared(with_mtime)
        fields = tuple(FieldChange(name, old.get(name), new.get(name))
                       for name in dict.fromkeys([*old, *new])
                       if old.get(name) != new.get(name))
        if fields:
            changes.append(EntryChange(path, "changed", before, after, fields))
    return changes


def paired(a: Mapping[K, V], b: Mapping[K, V]) -> Iterator[tuple[K, V | None, V | None]]:
    """Every key of either side, sorted, with what each side has under it: the walk
    that any keyed comparison (archive entries, SBOM packages) starts from."""
    for key in sorted(a.keys() | b.keys()):
        yield key, a.get(key), b.get(key)


def presence(before: object | None, after: object | None) -> str:
    """"added", "removed", or "changed" when both sides have the key."""
    return "added" if before is None else "removed" if after is None else "changed"


def diff_headers(a: BootHeader | None, b: BootHeader | None) -> list[FieldChange]:
    """Boot header fields that differ; nothing when either side has no header."""
    if a is None or b is None:
        return []
    return [FieldChange(name, getattr(a, name), getattr(b, name)) for name in HEADER_FIELDS
            if getattr(a, name) != getattr(b, name)]


def diff_layouts(a: Image, b: Image) -> list[FieldChange]:
    """The initrd layout (s390-tools, fixed-16m, ...) when both sides have one."""
    if a.layout is None or b.layout is None or a.layout == b.layout:
        return []
    return [FieldChange("layout", a.layout.describe(), b.layout.describe())]


def layout(segments: Iterable[Segment]) -> list[str]:
    return [str(s.codec) for s in segments]


@dataclass(frozen=True)
class ImageDiff:
    a: Image
    b: Image
    header: tuple[FieldChange, ...]
    compression: tuple[list[str], list[str]] | None
    entries: tuple[EntryChange, ...]

    @property
    def equal(self) -> bool:
        return not (self.header or self.compression or self.entries)

    @property
    def headers_compared(self) -> bool:
        return self.a.header is not None and self.b.header is not None


def _read_side(path: Path, limits: Limits | None) -> tuple[Image, dict[str, EntryState],
                                                          list[str]]:
    with open_image(path, limits) as (image, reader):
        states = entry_states(reader)
        return image, states, layout(reader.segments)


def diff_files(a: Path, b: Path, *, limits: Limits | None = None,
               with_mtime: bool = False) -> ImageDiff:
    image_a, states_a, layout_a = _read_side(a, limits)
    image_b, states_b, layout_b = _read_side(b, limits)
    return ImageDiff(
        image_a, image_b,
        tuple(diff_headers(image_a.header, image_b.header)
              + diff_layouts(image_a, image_b)),
        (layout_a, layout_b) if layout_a != layout_b else None,
        tuple(diff_archives(states_a, states_b, with_mtime=with_mtime)),
    )


# --- output (docs/inspect-json.md describes the JSON) ---------------------------------


def state_json(state: EntryState) -> dict[str, Any]:
    record = state.record
    device = record.kind in DEVICES
    return {
        "path": record.path, "type": record.kind, "mode": f"{record.permissions:04o}",
        "uid": record.uid, "gid": record.gid, "size": record.size, "sha256": state.sha256,
        "target": record.target,
        "major": record.rdev_major if device else None,
        "minor": record.rdev_minor if device else None,
        "mtime": record.mtime,
    }


def _side_json(image: Image) -> dict[str, Any]:
    return {"file": str(image.path), "type": image.kind}


def diff_json(result: ImageDiff) -> dict[str, Any]:
    by_status: dict[str, list[EntryChange]] = {"added": [], "removed": [], "changed": []}
    for change in result.entries:
        by_status[change.status].append(change)
    return {
        "schema": SCHEMA,
        "a": _side_json(result.a),
        "b": _side_json(result.b),
        "equal": result.equal,
        "headers_compared": result.headers_compared,
        "header": [{"field": c.field, "a": c.a, "b": c.b} for c in result.header],
        "compression": None if result.compression is None else
        {"a": result.compression[0], "b": result.compression[1]},
        "added": [state_json(c.b) for c in by_status["added"] if c.b],
        "removed": [state_json(c.a) for c in by_status["removed"] if c.a],
        "changed": [
            {"path": c.path,
             "changes": [{"field": f.field, "a": f.a, "b": f.b} for f in c.changes]}
            for c in by_status["changed"]
        ],
    }


def _short(field: str, value: Any) -> str:
    if value is None:
        return "none"
    if field == "sha256":
        return str(value)[:12]
    if field == "mtime":
        return mtime_text(value)
    if isinstance(value, str):
        return printable(repr(value)) if field in ("cmdline", "kernel_version", "target") \
            else printable(value)
    return str(value)


def _summary(state: EntryState) -> str:
    record = state.record
    text = f"{record.kind} {record.permissions:04o} {record.uid}/{record.gid}"
    if record.kind is Kind.FILE:
        text += f" {record.size} bytes"
    elif record.target is not None:
        text += f" -> {printable(record.target)}"
    elif record.kind in DEVICES:
        text += f" {record.rdev_major}, {record.rdev_minor}"
    return text


def diff_lines(result: ImageDiff) -> list[str]:
    kinds = {S390_IMAGE: "s390 boot image"}
    lines = [f"--- {printable(str(result.a.path))} ({kinds.get(result.a.kind, 'initramfs')})",
             f"+++ {printable(str(result.b.path))} ({kinds.get(result.b.kind, 'initramfs')})"]
    if not result.headers_compared and (result.a.header or result.b.header):
        lines.append("  (boot headers not compared: only one side is an s390 boot image)")
    for field in result.header:
        lines.append(f"header {field.field}: {_short(field.field, field.a)} -> "
                     f"{_short(field.field, field.b)}")
    if result.compression is not None:
        lines.append(f"compression: {'+'.join(result.compression[0]) or 'none'} -> "
                     f"{'+'.join(result.compression[1]) or 'none'}")
    counts = {"added": 0, "removed": 0, "changed": 0}
    for change in result.entries:
        counts[change.status] += 1
        path = printable(change.path)
        if change.status == "added" and change.b:
            lines.append(f"+ {path}  {_summary(change.b)}")
        elif change.status == "removed" and change.a:
            lines.append(f"- {path}  {_summary(change.a)}")
        else:
            details = ", ".join(f"{f.field} {_short(f.field, f.a)} -> {_short(f.field, f.b)}"
                                for f in change.changes)
            lines.append(f"~ {path}  {details}")
    if result.equal:
        lines.append("no differences")
    else:
        lines.append(f"{counts['added']} added, {counts['removed']} removed, "
                     f"{counts['changed']} changed")
    return lines
