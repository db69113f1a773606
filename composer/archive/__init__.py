"""The initramfs as bytes: newc records (newc), segments (segments), the compression
formats (codec; their streams in compress and decode) and the streaming reader (reader).
The segment writer's names are the package's."""

from composer.archive.segments import (
    InitramfsStats,
    Segment,
    split_segments,
    write_initramfs,
)

__all__ = ["InitramfsStats", "Segment", "split_segments", "write_initramfs"]
