"""The compression formats of an initramfs, each defined once for writing and reading.

One `Format` per codec says everything composer knows about it: its name, the magic the
kernel recognises it by (lib/decompress.c, `compressed_formats`), the kernel config
option that must be set for the kernel to unpack it, the levels composer writes, and
how to open an encoder and a decoder. The writer, the segment reader, the kernel-config
check and `inspect` all read this table, so the two directions cannot drift apart.

The options are the ones the kernel's decoders require: its XZ decoder only knows the
CRC32 (and no) integrity check, and its LZ4 decoder only reads the *legacy* frame
(`lz4 -l`). Encoders are deterministic for a given level and thread count (no
timestamps, no file names). Each codec's library is imported only when a stream of
that codec is opened, so a build pays for the codec it uses and no other.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from composer.archive.decoders import (
    BlockDecoder,
    Decoder,
    RawInput,
    StepDecoder,
    ZlibStep,
    ZstdDecoder,
)
from composer.archive.lz4legacy import MAGIC_BYTES as LZ4_MAGIC
from composer.archive.lz4legacy import Encoder as Lz4Encoder
from composer.archive.lz4legacy import decoded_blocks as lz4_blocks
from composer.errors import InputError


class Codec(StrEnum):
    NONE = "none"
    GZIP = "gzip"
    XZ = "xz"
    ZSTD = "zstd"
    LZ4 = "lz4"  # the legacy frame, the only LZ4 the kernel reads
    LZMA = "lzma"
    BZIP2 = "bzip2"
    LZO = "lzo"  # recognised when reading; composer neither writes nor decodes it
    LZ4_FRAME = "lz4-frame"  # what plain `lz4` makes by mistake; read, never written


class Encoder(Protocol):
    """An incremental compressor: `compress` takes input, `flush` ends the stream."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


ZSTD_OUTPUT_CHUNK = 1 << 20
LZMA_MEMLIMIT = 256 << 20  # dictionaries of xz -9 (64 MiB) fit with room to spare
XZ_CHECKS = {0: "none", 1: "CRC32", 4: "CRC64", 10: "SHA-256"}


def _gzip_encoder(level: int, threads: int) -> Encoder:
    from composer.archive.libdeflate import load

    library = load()
    if library is not None:  # members, each compressed whole: see archive/members.py
        from composer.archive.gzipmembers import GzipMembers, MemberCache

        return GzipMembers(library, level, threads, MemberCache.open(library, level))
    if threads:
        from composer.archive.pigz import ParallelGzip
        from composer.cache.deflate import DeflateCache

        cache = DeflateCache.open(ParallelGzip.block_parameters(level))
        return ParallelGzip(level, threads, cache)
    # wbits 31: a gzip wrapper whose header zlib fills with mtime 0 and no name.
    return zlib.compressobj(level, zlib.DEFLATED, 31, 9)


def gzip_engine() -> str:
    """Which deflate writes gzip here: the bytes of a gzip image depend on it."""
    from composer.archive.libdeflate import load

    return "zlib" if load() is None else "libdeflate"


def _xz_encoder(level: int, threads: int) -> Encoder:
    import lzma

    return lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, preset=level)


def _lzma_encoder(level: int, threads: int) -> Encoder:
    import lzma

    return lzma.LZMACompressor(format=lzma.FORMAT_ALONE, preset=level)


def _bzip2_encoder(level: int, threads: int) -> Encoder:
    import bz2

    return bz2.BZ2Compressor(level)


class _ZstdEncoder:
    """The chunker writes the same bytes as compressobj(), but with worker threads it
    peaks at half the memory (2 threads, incompressible input: 84 vs 175 MB)."""

    def __init__(self, level: int, threads: int) -> None:
        import zstandard

        params = zstandard.ZstdCompressionParameters.from_level(
            level, threads=threads, write_checksum=True)
        self._chunker = zstandard.ZstdCompressor(compression_params=params).chunker(
            chunk_size=ZSTD_OUTPUT_CHUNK)

    def compress(self, data: bytes, /) -> bytes:
        return b"".join(self._chunker.compress(data))

    def flush(self) -> bytes:
        return b"".join(self._chunker.finish())  # type: ignore[no-untyped-call]


def _lz4_encoder(level: int, threads: int) -> Encoder:
    return Lz4Encoder(level)


def _gzip_decoder(raw: RawInput) -> Decoder:
    return StepDecoder("gzip", ZlibStep(), raw, (zlib.error,))


def _xz_decoder(raw: RawInput) -> Decoder:
    import lzma

    step = lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=LZMA_MEMLIMIT)
    return StepDecoder("xz", step, raw, (lzma.LZMAError, EOFError))


def _lzma_decoder(raw: RawInput) -> Decoder:
    import lzma

    step = lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=LZMA_MEMLIMIT)
    return StepDecoder("lzma", step, raw, (lzma.LZMAError, EOFError))


def _bzip2_decoder(raw: RawInput) -> Decoder:
    import bz2

    return StepDecoder("bzip2", bz2.BZ2Decompressor(), raw, (OSError, EOFError))


def _lz4_frame_decoder(raw: RawInput) -> Decoder:
    import lz4.frame

    return StepDecoder("lz4-frame", lz4.frame.LZ4FrameDecompressor(), raw,
                       (RuntimeError, EOFError))


def _lz4_decoder(raw: RawInput) -> Decoder:
    return BlockDecoder(lz4_blocks(raw))


def _xz_caveat(head: bytes) -> str | None:
    check = head[7] & 0x0F if len(head) >= 8 else 1
    if check in (0, 1):
        return None
    name = XZ_CHECKS.get(check, f"type {check}")
    return f"xz with a {name} check: the kernel's decoder needs --check=crc32"


def _lz4_frame_caveat(head: bytes) -> str | None:
    return "LZ4 frame format: the kernel only reads legacy LZ4 (lz4 -l)"


@dataclass(frozen=True)
class Format:
    """One compression format as the kernel and composer see it."""

    codec: Codec
    magic: bytes  # b"" for none: an uncompressed segment starts with a cpio magic
    kernel_option: str | None  # the .config option of the kernel's decoder; None: none
    levels: tuple[int, int] | None = None  # None: composer does not write this format
    default_level: int = 0
    threads: bool = False  # whether the encoder can use worker threads
    encoder: Callable[[int, int], Encoder] | None = None  # (level, threads) -> Encoder
    decoder: Callable[[RawInput], Decoder] | None = None
    caveat: Callable[[bytes], str | None] | None = None  # why the kernel would refuse it

    @property
    def writable(self) -> bool:
        return self.levels is not None


# Default levels are the command-line tools', so "gzip" means what people expect;
# except lz4. liblz4's match finder hashes native-endian 32-bit words and gives up after
# a number of candidates that grows with the level, so levels 1-11 pick different
# matches on s390x than on x86 and the image bytes depend on the build host's byte
# order. Level 12 (the optimal parser, 16384 candidates per position) exhausts the
# chain in all we measured and gave the same bytes on both (scripts/test-s390x-host
# checks it every CI run). Any level decodes alike in the kernel.
FORMATS: dict[Codec, Format] = {f.codec: f for f in (
    Format(Codec.NONE, b"", None, (0, 0), 0),
    Format(Codec.GZIP, b"\x1f\x8b", "CONFIG_RD_GZIP", (1, 9), 6, threads=True,
           encoder=_gzip_encoder, decoder=_gzip_decoder),
    Format(Codec.XZ, b"\xfd7zXZ\x00", "CONFIG_RD_XZ", (0, 9), 6,
           encoder=_xz_encoder, decoder=_xz_decoder, caveat=_xz_caveat),
    Format(Codec.ZSTD, b"\x28\xb5\x2f\xfd", "CONFIG_RD_ZSTD", (1, 19), 3, threads=True,
           encoder=_ZstdEncoder, decoder=ZstdDecoder),
    Format(Codec.LZ4, LZ4_MAGIC, "CONFIG_RD_LZ4", (1, 12), 12,
           encoder=_lz4_encoder, decoder=_lz4_decoder),
    Format(Codec.LZMA, b"\x5d\x00\x00", "CONFIG_RD_LZMA", (0, 9), 6,
           encoder=_lzma_encoder, decoder=_lzma_decoder),
    Format(Codec.BZIP2, b"BZh", "CONFIG_RD_BZIP2", (1, 9), 9,
           encoder=_bzip2_encoder, decoder=_bzip2_decoder),
    Format(Codec.LZO, b"\x89LZO", "CONFIG_RD_LZO"),
    Format(Codec.LZ4_FRAME, b"\x04\x22\x4d\x18", None, decoder=_lz4_frame_decoder,
           caveat=_lz4_frame_caveat),
)}
WRITABLE = tuple(c for c, f in FORMATS.items() if f.writable)
MAGIC_LEN = max(len(f.magic) for f in FORMATS.values())


def detect(head: bytes) -> Codec | None:
    """The compression of a segment from its first bytes, or None for unknown data."""
    for codec, form in FORMATS.items():
        if form.magic and head.startswith(form.magic):
            return codec
    return None


def kernel_caveat(codec: Codec, head: bytes) -> str | None:
    """Why the kernel would refuse a segment that composer itself can read."""
    caveat = FORMATS[codec].caveat
    return caveat(head) if caveat is not None else None


def kernel_supports(config_text: str, codec: Codec) -> bool | None:
    """Whether a kernel .config enables the decoder; None when the config doesn't say."""
    if codec is Codec.NONE:
        return True
    option = FORMATS[codec].kernel_option
    if option is None:
        return False
    for line in config_text.splitlines():
        if line.startswith(option + "="):
            return line.split("=", 1)[1].strip() == "y"
        if line.strip() == f"# {option} is not set":
            return False
    return None


@dataclass(frozen=True)
class Compression:
    """The codec, level and threads a recipe chose for a segment."""

    codec: Codec = Codec.NONE
    level: int | None = None
    threads: int = 0

    @property
    def format(self) -> Format:
        return FORMATS[self.codec]

    @property
    def effective_level(self) -> int:
        return self.format.default_level if self.level is None else self.level

    def check(self) -> None:
        if self.codec is Codec.NONE and self.level is not None:
            raise InputError("compression.level is set but no codec is chosen",
                             hint="set compression.codec (gzip, xz, zstd, lz4, ...)")
        levels = self.format.levels
        if levels is None:
            raise InputError(f"composer cannot write {self.codec} data",
                             hint="choose one of " + ", ".join(WRITABLE))
        low, high = levels
        if self.level is not None and not low <= self.level <= high and self.codec != Codec.NONE:
            raise InputError(f"compression level {self.level} is out of range for "
                             f"{self.codec} ({low}..{high})")
        if self.codec is Codec.GZIP:
            gzip_engine()  # a bad COMPOSER_DEFLATE is refused before anything is written
        if self.threads and not self.format.threads:
            raise InputError(f"compression threads are supported for "
                             f"{' and '.join(c for c, f in FORMATS.items() if f.threads)}, "
                             f"not {self.codec}")

    def encoder(self) -> Encoder:
        """A fresh encoder for one stream; InputError for a codec composer cannot write."""
        make = self.format.encoder
        if make is None:
            raise InputError(f"unknown compression {self.codec}")
        return make(self.effective_level, self.threads)
