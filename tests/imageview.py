"""The produced entries seen as the unpacked image, for the binary resolver's tests."""

from __future__ import annotations

from composer.manifest import Entry, Kind, Manifest


class ImageView:
    """The produced entries as the unpacked image: paths resolved through its symlinks."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = {e.path: e for e in Manifest(entries).entries()}  # refuses bad parents

    def resolve(self, path: str) -> Entry | None:
        pending = [p for p in path.split("/") if p][::-1]
        parts: list[str] = []
        hops = 0
        while pending:
            name = pending.pop()
            if name == "..":
                parts = parts[:-1]
                continue
            entry = self.entries.get("/" + "/".join([*parts, name]))
            if entry is None:
                return None
            if entry.kind is Kind.SYMLINK:
                hops += 1
                assert hops < 40, f"symlink loop in the image at {path}"
                assert entry.target is not None
                if entry.target.startswith("/"):
                    parts = []
                pending += [p for p in entry.target.split("/") if p][::-1]
                continue
            parts.append(name)
        return self.entries.get("/" + "/".join(parts))

    def file(self, path: str) -> Entry:
        entry = self.resolve(path)
        assert entry is not None and entry.kind is Kind.FILE, f"{path} is no file in the image"
        return entry


def paths(entries: list[Entry]) -> dict[str, Entry]:
    return {e.path: e for e in entries}
