"""A kernel module file: the module's name in its file name, and its bytes inflated.

depmod and kmod accept `.ko`, `.ko.xz`, `.ko.zst` and `.ko.gz`; the suffix says the
compression. A compressed module is inflated whole, since its section table sits at the
end of the file. `-` and `_` are one character in module names.
"""

from __future__ import annotations

# Suffix -> compression, longest first so `.ko.xz` is not taken for `.ko`.
MODULE_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".ko.xz", "xz"),
    (".ko.zst", "zst"),
    (".ko.gz", "gz"),
    (".ko", ""),
)


def split_module_name(filename: str) -> tuple[str, str] | None:
    """`virtio-net.ko.xz` -> (`virtio_net`, `xz`); None for files that are no module.

    `-` and `_` are the same character in module names (the kernel and kmod compare
    them as equal), so names are kept in the underscore form depmod uses.
    """
    if filename.endswith(".ko"):  # what most trees hold: decided by one test
        return (canonical_name(filename[:-3]), "") if len(filename) > 3 else None
    for suffix, compression in MODULE_SUFFIXES:
        if filename.endswith(suffix) and len(filename) > len(suffix):
            return canonical_name(filename[: -len(suffix)]), compression
    return None


def canonical_name(name: str) -> str:
    return name.replace("-", "_")


class DecompressError(ValueError):
    """A compressed module whose bytes are not what its suffix says."""


def decompress(data: bytes, compression: str) -> bytes:
    """Inflate a compressed module; each codec is imported only by a tree that uses it."""
    try:
        if compression == "xz":
            import lzma

            try:
                return lzma.decompress(data)
            except lzma.LZMAError as error:
                raise DecompressError(str(error)) from None
        if compression == "zst":
            import zstandard

            try:
                # decompressobj copes with frames that do not record their content size.
                result: bytes = zstandard.ZstdDecompressor().decompressobj().decompress(data)
            except zstandard.ZstdError as error:
                raise DecompressError(str(error)) from None
            return result
        if compression == "gz":
            import gzip
            import zlib

            try:
                return gzip.decompress(data)
            except (zlib.error, gzip.BadGzipFile) as error:
                raise DecompressError(str(error)) from None
    except EOFError as error:
        raise DecompressError(str(error)) from None
    return data
