"""ld.so's search path, the one definition: the default directories of an architecture
and the dynamic string tokens of RPATH/RUNPATH. The binary resolver walks it in the
sysroot; the image's self-check walks it inside the finished image."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence

from composer.resolve.elf import Arch


def default_library_dirs(arch: Arch) -> list[str]:
    """Multiarch first, then lib64, then the historical defaults."""
    dirs = [f"{prefix}/{triplet}" for triplet in arch.triplets for prefix in ("/lib", "/usr/lib")]
    if arch.elf_class == 64:
        dirs += ["/lib64", "/usr/lib64"]
    return [*dirs, "/lib", "/usr/lib"]


def expand_tokens(dirs: Sequence[str], origin_dir: str, arch: Arch) -> Iterator[str]:
    """Dynamic string tokens as ld.so expands them for an object whose $ORIGIN is
    `origin_dir`.

    $LIB has no single answer across distributions (Debian: the multiarch directory,
    Fedora: lib64), so each plausible expansion becomes its own directory; $PLATFORM is
    taken as the architecture name (the kernel's AT_PLATFORM on most machines). A
    relative entry is relative to the working directory, which is / for the image's init.
    """
    libs = [f"lib/{t}" for t in arch.triplets] + (["lib64"] if arch.elf_class == 64 else [])
    libs.append("lib")
    for raw in dirs:
        text = raw
        for token in ("$ORIGIN", "${ORIGIN}"):
            text = text.replace(token, origin_dir)
        for token in ("$PLATFORM", "${PLATFORM}"):
            text = text.replace(token, arch.name)
        variants = [text]
        if "$LIB" in text or "${LIB}" in text:
            variants = [text.replace("${LIB}", lib).replace("$LIB", lib) for lib in libs]
        for variant in variants:
            path = posixpath.normpath(variant if variant.startswith("/") else "/" + variant)
            yield "/" + path.lstrip("/")
