"""Resolve what a recipe names (binaries, libraries, modules) from a sysroot into entries.

Everything here reads the sysroot as the target would see it after a chroot, and parses
ELF files in-process, so an s390x image can be planned on an x86 host without running
any of its programs.
"""
