"""A kernel module's `.modinfo`: what it declares about itself, read in-process.

A module is an ELF relocatable object (ET_REL) built for the target, so on an x86 host
an s390x module is a big-endian ELF64 we can only read, never load. Its `.modinfo`
section is a run of NUL-terminated `key=value` strings written by the MODULE_*() macros
(`depends=`, `softdep=`, `firmware=`, `alias=`, `vermagic=`). A plain `.ko` is mapped
rather than read (see `elfsection`): resolving thousands of modules costs a few pages
each; a compressed one is inflated whole (see `modfile`).
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from composer.cache.index import is_strings
from composer.errors import ResolveError
from composer.resolve.elfsection import SectionError, elf_section
from composer.resolve.modfile import DecompressError, canonical_name, decompress


class ModinfoError(ValueError):
    """The bytes are not a module we can read; the caller knows which file it was."""


@dataclass(frozen=True, slots=True)
class ModInfo:
    """What a module declares about itself; empty tuples when it declares nothing."""

    depends: tuple[str, ...] = ()
    softdep_pre: tuple[str, ...] = ()
    softdep_post: tuple[str, ...] = ()
    firmware: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    vermagic: str = ""
    name: str = ""

    @property
    def release(self) -> str:
        """The kernel release a module was built for: the first word of vermagic."""
        return self.vermagic.split(" ", 1)[0]

    def as_tuple(self) -> tuple[object, ...]:
        return (self.depends, self.softdep_pre, self.softdep_post, self.firmware,
                self.aliases, self.vermagic, self.name)

    @classmethod
    def from_tuple(cls, value: object) -> ModInfo | None:
        """The ModInfo `as_tuple` gave, or None for anything else (a damaged cache)."""
        if not isinstance(value, tuple) or len(value) != 7:
            return None
        depends, pre, post, firmware, aliases, vermagic, name = value
        if (is_strings(depends) and is_strings(pre) and is_strings(post) and is_strings(firmware)
                and is_strings(aliases) and isinstance(vermagic, str) and isinstance(name, str)):
            return cls(depends, pre, post, firmware, aliases, vermagic, name)
        return None


def parse_modinfo(section: bytes) -> ModInfo:
    """Fold the `key=value` strings into a ModInfo; unknown keys are ignored."""
    values: dict[str, list[str]] = {}
    for raw in section.split(b"\0"):
        key, sep, value = raw.decode("utf-8", "replace").partition("=")
        if sep:
            values.setdefault(key, []).append(value)
    depends = tuple(
        canonical_name(d) for v in values.get("depends", ()) for d in v.split(",") if d
    )
    pre: list[str] = []
    post: list[str] = []
    for line in values.get("softdep", ()):
        pre_part, post_part = parse_softdep(line)
        pre.extend(pre_part)
        post.extend(post_part)
    return ModInfo(
        depends=depends,
        softdep_pre=tuple(pre),
        softdep_post=tuple(post),
        firmware=tuple(values.get("firmware", ())),
        aliases=tuple(values.get("alias", ())),
        vermagic=(values.get("vermagic") or [""])[0],
        name=canonical_name((values.get("name") or [""])[0]),
    )


def parse_softdep(value: str) -> tuple[list[str], list[str]]:
    """`pre: a b post: c` -> ([a, b], [c]); words before any `pre:`/`post:` are ignored,
    as kmod ignores them."""
    pre: list[str] = []
    post: list[str] = []
    target: list[str] | None = None
    for word in value.split():
        if word == "pre:":
            target = pre
        elif word == "post:":
            target = post
        elif target is not None:
            target.append(canonical_name(word))
    return pre, post


def read_modinfo(path: Path, compression: str) -> ModInfo:
    """The ModInfo of the module file at `path` (a host path inside the sysroot)."""
    try:
        if compression:
            image: bytes | mmap.mmap = decompress(path.read_bytes(), compression)
            section = elf_section(image, b".modinfo")
        else:
            with path.open("rb") as handle:
                if handle.seek(0, 2) == 0:
                    raise ModinfoError("the file is empty")
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    section = elf_section(mapped, b".modinfo")
    except (ModinfoError, SectionError, struct.error) as error:
        raise ResolveError(
            f"kernel module {path} cannot be read: {error}",
            hint="the modules tree may be damaged or not built for this kernel",
        ) from None
    except DecompressError as error:
        raise ResolveError(
            f"kernel module {path} does not decompress as {compression}: {error}",
            hint="the file is damaged or its suffix does not match its compression",
        ) from None
    except OSError as error:
        raise ResolveError(f"kernel module {path} cannot be read: {error.strerror}") from None
    return parse_modinfo(section or b"")
