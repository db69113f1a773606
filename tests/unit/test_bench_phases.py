"""bench/boot_phases.py's reading of a stamped console: the figures BENCHMARKS.md reports
for issue 28 (phases, our own work, TCG's flushes, the kexec'd kernel's start) come from
these few lines, so a pattern that stops matching, or a phase counted from the wrong
line, would change every table without any boot going wrong."""

from __future__ import annotations

import pytest

from bench.boot_phases import MIB, phases

# One TFTP boot as the bench stamps it (host seconds since QEMU started), with the
# count lines of --tcg-flushes among them: the firmware's "starting kernel" comes first,
# the boot script's last, and the kexec'd kernel says "Run /init" a second time.
CONSOLE = [
    (0.10, "#tcg-flushes 0"),
    (1.00, "Network loading done, starting kernel..."),
    (4.50, "[    3.411301] Run /init as init process"),
    (4.60, "#tcg-flushes 1"),
    (4.70, "init: DHCP on eth0 (the boot device 0.0.0000)"),
    (4.90, "udhcpc: bound: eth0 10.0.2.15/24 router 10.0.2.2, server 10.0.2.2"),
    (5.00, "pxeboot: TFTP server 10.0.2.2 (from siaddr), path prefix ''"),
    (5.30, "pxeboot: config pxelinux.cfg/default: booting label 'bench' from DEFAULT"),
    (5.80, "pxeboot: vmlinuz: 1.9 MB, 2.5 MB/s"),
    (6.00, "#tcg-flushes 3"),
    (6.50, "pxeboot: vmlinuz: 4.8 MB, 4.0 MB/s"),
    (6.90, "pxeboot: kernel vmlinuz"),
    (6.95, "pxeboot: loading with kexec -l (this image's kernel has no kexec_file_load)"),
    (7.00, "pxeboot: starting kernel vmlinuz"),
    (8.00, "#tcg-flushes 4"),
    (10.20, "[    2.946297] Run /init as init process"),
    (10.40, "STAGE2-CMDLINE BOOT_IMAGE=vmlinuz"),
]


def test_a_boot_is_cut_into_its_phases_at_the_lines_that_end_them() -> None:
    result = phases(CONSOLE, 6 * MIB)
    expected = {"firmware": 1.0, "our kernel": 3.5, "modules and interface": 0.2,
                "DHCP": 0.2, "(nothing printed)": 0.1, "config search": 0.3,
                # the kernel's last progress line, not its first
                "kernel transfer": 1.2, "(after the download)": 0.4, "initrd, kexec": 0.1,
                # the kexec'd kernel's own "Run /init", not the first one again
                "second kernel": 3.2}
    assert {name: round(result[name], 3) for name in expected} == expected
    assert result["rate"] == 4.0
    assert result["init to kexec"] == pytest.approx(2.5)
    # 6 MiB at the last progress line's 4.0 MB/s is 1.5 s of receiving; the rest is ours.
    assert result["receiving"] == pytest.approx(1.5)
    assert result["own work"] == pytest.approx(1.0)
    # Flushes from the first kernel's "Run /init" to the boot script's "starting kernel":
    # the count before the window (0) to the last one within it (3), not the 4th after.
    assert result["tcg flushes"] == 3


def test_without_count_lines_no_flush_figure_is_made_up() -> None:
    console = [(when, line) for when, line in CONSOLE if not line.startswith("#tcg")]
    assert "tcg flushes" not in phases(console, 6 * MIB)


def test_a_boot_that_did_not_reach_a_phase_is_not_measured() -> None:
    # kexec failed: no second kernel; the bench says which phase is missing.
    console = [entry for entry in CONSOLE if entry[0] < 10]
    with pytest.raises(ValueError, match="'second kernel'"):
        phases(console, 6 * MIB)
