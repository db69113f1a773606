"""The hostile and broken inputs: each one a reader error or an extraction refusal.

Well-formed pieces come from composer's header packer (`cpio.pack_header`); the breakage is
done by hand on top, one field or one byte at a time, so each case tests one thing.
Real-tool outputs (GNU cpio's odc and binary formats) are made at test time.

Run `python tests/hostile/corpus.py DIR` to write every case as a file (to feed
`compose inspect` by hand, or as fuzzing seeds).
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from composer.cpio import pack_header

FILE, DIR, LINK = 0o100644, 0o040755, 0o120777
NAMESIZE, FILESIZE, MODE = 11, 6, 1  # field indexes in the 13-field header


def entry(name: bytes, *, mode: int = FILE, data: bytes = b"", ino: int = 1,
          nlink: int = 1) -> bytes:
    size = len(data)
    return pack_header(ino=ino, mode=mode, uid=0, gid=0, nlink=nlink, mtime=1_700_000_000,
                       size=size, rmajor=0, rminor=0, name=name) + data + bytes(-size % 4)


def link(name: bytes, target: bytes) -> bytes:
    return entry(name, mode=LINK, data=target)


TRAILER = entry(b"TRAILER!!!", mode=0)


def archive(*entries: bytes) -> bytes:
    return b"".join(entries) + TRAILER


def patch(data: bytes, field: int, value: str, at: int = 0) -> bytes:
    """Overwrite one 8-character header field of the header starting at `at`."""
    start = at + 6 + 8 * field
    return data[:start] + value.encode() + data[start + 8:]


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    problem: str  # a phrase the error message must contain


def _gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def malformed() -> list[Case]:
    """Inputs the reader must refuse with a clear InputError."""
    ok = archive(entry(b"hello", data=b"hello world\n"))
    gz = _gzip(ok)
    return [
        Case("truncated-header", ok[:60], "input ends inside a cpio header"),
        Case("wrong-magic", b"070703" + ok[6:], "no cpio header"),
        Case("non-hex-field", patch(ok, MODE, "0000ZZZZ"), "not 8 hex digits"),
        Case("hex-prefix-field", patch(ok, MODE, "0x81A4  "), "not 8 hex digits"),
        Case("name-size-past-end", patch(ok, NAMESIZE, "00000F00")[:300],
             "input ends inside a file name"),
        Case("name-size-huge", patch(ok, NAMESIZE, "FFFFFFFF"), "name size"),
        Case("name-size-zero", patch(ok, NAMESIZE, "00000000"), "name size 0"),
        Case("name-not-terminated", patch(ok, NAMESIZE, "00000005"),
             "not one NUL-terminated string"),
        Case("nul-inside-name", archive(entry(b"a\0b")), "not one NUL-terminated"),
        Case("huge-file-size", patch(ok, FILESIZE, "FFFFFFFF"),
             "input ends inside the data of 'hello'"),
        Case("truncated-data", ok[:120], "input ends inside the data"),
        Case("unknown-file-type", archive(entry(b"odd", mode=0o170644)), "no known file type"),
        Case("symlink-target-too-long", archive(link(b"l", b"x" * 5000)),
             "symlink target size 5000"),
        Case("symlink-target-empty", archive(entry(b"l", mode=LINK)), "symlink target size 0"),
        Case("junk-after-archive", ok + b"garbage!", "unrecognised data at offset"),
        Case("misaligned-archive", b"\0\0" + ok, "not a multiple of 4"),
        Case("broken-padding", ok + b"\0\0" + gz, "broken padding"),
        Case("junk-in-compressed", _gzip(ok + b"junk"), "junk at decompressed offset"),
        Case("truncated-gzip", gz[:-10], "gzip data is truncated"),
        Case("corrupt-gzip", gz[:20] + bytes([gz[20] ^ 0xFF]) + gz[21:], "gzip data is corrupt"),
        Case("lzo", b"\x89LZO\0\r\n\x1a\n" + bytes(40), "LZO"),
        Case("not-an-initramfs", b"\x7fELF" + bytes(100), "neither an s390 boot image"),
        Case("empty-file", b"", "it is empty"),
    ]


def bomb(size: int = 64 << 20) -> bytes:
    """A gzip'd archive holding one file of `size` zero bytes (about 1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(pack_header(ino=1, mode=FILE, uid=0, gid=0, nlink=1, mtime=0,
                                         size=size, rmajor=0, rminor=0, name=b"zeros"))]
    zeros = bytes(1 << 20)
    for _ in range(size >> 20):
        parts.append(packer.compress(zeros))
    parts.append(packer.compress(TRAILER))
    parts.append(packer.flush())
    return b"".join(parts)


def escapes(victim: str) -> list[Case]:
    """Archives that parse but try to write outside the extraction directory.

    `victim` is an absolute directory next to the extraction directory; the symlinks
    point at it (one relatively), or at /etc. Each archive also holds a harmless file,
    which must still be extracted.
    """
    v = victim.encode()
    sibling = b"../" + v.rsplit(b"/", 1)[-1]
    ok = entry(b"harmless", data=b"fine\n")
    return [
        Case("absolute-path", archive(entry(v + b"/absolute", data=b"x"), ok), "absolute"),
        Case("absolute-etc", archive(entry(b"/etc/composer-test-evil", data=b"x"), ok),
             "absolute"),
        Case("dotdot", archive(entry(b"../dotdot", data=b"x"), ok), "'..'"),
        Case("dotdot-deep", archive(entry(b"a/b/../../../dotdot-deep", data=b"x"), ok), "'..'"),
        Case("dotdot-dir", archive(entry(b"..", mode=DIR), ok), "'..'"),
        Case("dot-dotdot", archive(entry(b"./../dot-dotdot", data=b"x"), ok), "'..'"),
        Case("through-symlink", archive(link(b"x", v), entry(b"x/through", data=b"x"), ok),
             "symbolic link"),
        Case("through-symlink-etc", archive(link(b"y", b"/etc"),
                                            entry(b"y/composer-test-evil", data=b"x"), ok),
             "symbolic link"),
        Case("through-relative-symlink", archive(link(b"up", sibling),
                                                 entry(b"up/relative", data=b"x"), ok),
             "symbolic link"),
        Case("through-deep-symlink", archive(entry(b"d", mode=DIR), link(b"d/s", v),
                                             entry(b"d/s/deep", data=b"x"), ok),
             "symbolic link"),
        Case("symlink-loop", archive(link(b"a", b"b"), link(b"b", b"a"),
                                     entry(b"a/loop", data=b"x"), ok), "symbolic link"),
        Case("dir-replaced-by-symlink", archive(entry(b"r", mode=DIR), link(b"r", v),
                                                entry(b"r/replaced", data=b"x"), ok),
             "symbolic link"),
    ]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for case in malformed() + escapes("/tmp/composer-victim"):
        (out / f"{case.name}.cpio").write_bytes(case.data)
    (out / "gzip-bomb.cpio.gz").write_bytes(bomb())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
