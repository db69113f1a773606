"""One table of compression formats serves writing, reading and the kernel-config check.

For every format composer writes, what its encoder makes must be what the reader's
detection and decoder take back: the magic, the bytes, and the end of the stream (the
next segment starts exactly there). The kernel-config check reads each format's option
from the same table, and the recipe schema offers exactly the formats that can be written.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from composer.archive.codec import FORMATS, WRITABLE, Codec, Compression, detect, kernel_supports
from composer.archive.decompress import DecodedStream
from composer.errors import InputError
from composer.recipe.schema import recipe_schema

DATA = b"".join(random.Random(12).randbytes(64) * 40 for _ in range(200))  # ~512 KiB


class Raw:
    """Compressed input with give-back, as the reader provides it."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def unread(self, data: bytes) -> None:
        self.pos -= len(data)


def encode(compression: Compression, data: bytes) -> bytes:
    encoder = compression.encoder()
    return encoder.compress(data[:1000]) + encoder.compress(data[1000:]) + encoder.flush()


COMPRESSED = [c for c in WRITABLE if c is not Codec.NONE]


@pytest.mark.parametrize("codec", COMPRESSED)
def test_what_a_format_writes_its_own_decoder_reads_back(codec: Codec) -> None:
    threads = [0, 2] if FORMATS[codec].threads else [0]
    for n in threads:
        packed = encode(Compression(codec, threads=n), DATA)
        assert packed.startswith(FORMATS[codec].magic)
        assert detect(packed[:16]) is codec
        # A legacy LZ4 stream has no end: it runs to zero padding, as in the kernel.
        tail = b"\0" * 4 if codec is Codec.LZ4 else b"0707010000"
        raw = Raw(packed + tail)
        stream = DecodedStream(codec, raw, lambda produced, consumed: None)
        out = b""
        while chunk := stream.read(1 << 16):
            out += chunk
        assert out == DATA
        assert stream.consumed == len(packed) and raw.data[raw.pos:] == tail


@pytest.mark.parametrize("codec", COMPRESSED)
def test_every_level_in_the_table_is_accepted_and_decodes(codec: Codec) -> None:
    low, high = FORMATS[codec].levels or (0, 0)
    for level in sorted({low, FORMATS[codec].default_level, high}):
        Compression(codec, level).check()
        packed = encode(Compression(codec, level), DATA[:20000])
        stream = DecodedStream(codec, Raw(packed), lambda produced, consumed: None)
        assert stream.read(1 << 20) == DATA[:20000]
    with pytest.raises(InputError, match=f"out of range for {codec} \\({low}..{high}\\)"):
        Compression(codec, high + 1).check()


def test_formats_composer_only_reads_are_refused_for_writing() -> None:
    for codec in (Codec.LZO, Codec.LZ4_FRAME):
        assert codec not in WRITABLE
        with pytest.raises(InputError, match=f"composer cannot write {codec}"):
            Compression(codec).check()
    with pytest.raises(InputError, match="cannot decompress lzo"):
        DecodedStream(Codec.LZO, Raw(b""), lambda produced, consumed: None)


@pytest.mark.parametrize("codec", COMPRESSED)
def test_the_kernel_config_check_reads_the_formats_option(codec: Codec) -> None:
    option = FORMATS[codec].kernel_option
    assert option == f"CONFIG_RD_{codec.upper()}"
    assert kernel_supports(f"CONFIG_X=y\n{option}=y\n", codec) is True
    assert kernel_supports(f"# {option} is not set\n", codec) is False
    assert kernel_supports(f"{option}=m\n", codec) is False
    assert kernel_supports("CONFIG_OTHER=y\n", codec) is None
    assert kernel_supports("", Codec.NONE) is True


def test_the_recipe_schema_offers_exactly_the_formats_composer_writes() -> None:
    assert recipe_schema()["$defs"]["CompressionSpec"]["anyOf"][0]["enum"] == list(WRITABLE)


def test_magics_identify_one_format_each() -> None:
    magics = [f.magic for f in FORMATS.values() if f.magic]
    assert len(magics) == len(FORMATS) - 1  # all but "none"
    assert not any(a != b and b.startswith(a) for a in magics for b in magics)
    assert detect(b"070701") is None and detect(b"") is None


def test_codec_libraries_are_imported_only_when_a_stream_is_opened() -> None:
    code = ("import sys, composer.archive.codec, composer.archive.compress, "
            "composer.archive.decompress, composer.archive.reader; "
            "print(sorted(m for m in ('lz4', 'zstandard', 'composer.archive.pigz') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.stdout.strip() == "[]"
