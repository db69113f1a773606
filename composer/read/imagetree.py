"""The image the self-check reads (`composer.read.imagecheck.ImageTree`), built from what
is at hand: a plan's entries before they are written, or any archive, read once.

A plan's files are read only when a rule asks (an executable's first bytes, then the
libraries it names), so checking a build touches a few dozen files, not its modules.
An archive is a stream, so each file's facts are taken as it goes by: the `#!` line,
the ELF headers of an ELF file (held whole for that moment: its dynamic section may
sit anywhere), the text of modules.dep, a plain module's `.modinfo depends=`.
"""

from __future__ import annotations

import posixpath
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from composer.manifest import Entry
from composer.read.imagecheck import NO_FACTS, FileFacts, Finding, ImageTree, Node, check_image
from composer.resolve.elf import ELF_MAGIC, ElfError, elf_info
from composer.resolve.elfsection import SectionError, elf_section
from composer.resolve.modfile import split_module_name
from composer.resolve.modinfo import ModinfoError, parse_modinfo

if TYPE_CHECKING:  # a build checks its plan's entries: the archive reader is not needed
    from composer.archive.reader import InitramfsReader, Limits, Member
    from composer.read.inspect import Image

HEAD = 256  # BINPRM_BUF_SIZE: the kernel reads no more of a #! line
MAX_ELF = 256 << 20  # larger ELF files are not parsed (none a boot loads is that big)
MAX_TEXT = 16 << 20  # modules.dep of a whole distribution kernel is a few hundred KiB
MODULES_DEP = re.compile(r"^/lib/modules/[^/]+/modules\.dep$")


def script_interpreter(head: bytes) -> str | None:
    """The program word of a `#!` line, or None when the file is no script (or names
    none, which the kernel refuses with ENOEXEC: the rules report it as missing "")."""
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "surrogateescape").strip()
    return line.split(None, 1)[0] if line else ""


def facts_of(path: str, data: bytes, whole: bool) -> FileFacts:
    """The facts of a file from its bytes (`whole`: all of them, else its head)."""
    if MODULES_DEP.match(path):
        return FileFacts(text=data.decode("utf-8", "replace"))
    if data.startswith(ELF_MAGIC):
        if not whole:
            return FileFacts(problem="too large to read")
        found = split_module_name(posixpath.basename(path))
        if found is not None and not found[1]:
            return _module(data)
        try:
            return FileFacts(elf=elf_info(data, path))
        except ElfError as error:
            return FileFacts(problem=error.message)
    return FileFacts(script=script_interpreter(data[:HEAD]))


def _module(data: bytes) -> FileFacts:
    try:
        section = elf_section(data, b".modinfo")
        return FileFacts(modinfo_depends=parse_modinfo(section or b"").depends)
    except (ModinfoError, SectionError, struct.error):
        return NO_FACTS


def _needs_bytes(node: Node) -> bool:
    """Files whose bytes a rule may ask for: programs, libraries, modules, modules.dep."""
    if node.kind != "file":
        return False
    if node.executable or MODULES_DEP.match(node.path):
        return True
    name = posixpath.basename(node.path)
    return ".so" in name or split_module_name(name) is not None


# --- a plan's entries ---------------------------------------------------------------

def tree_of_entries(entries: Iterable[Entry], cmdline: str | None = None, *,
                    boot_image: bool = True) -> ImageTree:
    """The tree of a plan: entries are in place already (the manifest followed the
    image's directory links), and their bytes are read when a rule asks."""
    by_path: dict[str, Entry] = {}
    nodes: dict[str, Node] = {}
    for entry in entries:
        by_path[entry.path] = entry
        nodes[entry.path] = Node(entry.path, str(entry.kind), entry.mode, entry.target,
                                 entry.origin)

    def read(node: Node) -> FileFacts:
        entry = by_path.get(node.path)
        if entry is None or node.kind != "file":
            return NO_FACTS
        if entry.data is not None:
            return facts_of(node.path, entry.data, True)
        assert entry.source is not None
        with open(entry.source, "rb") as f:
            head = f.read(HEAD)
            if head.startswith(ELF_MAGIC) or MODULES_DEP.match(node.path):
                size = f.seek(0, 2)
                if size > MAX_ELF:
                    return facts_of(node.path, head, False)
                f.seek(0)
                return facts_of(node.path, f.read(), True)
        return facts_of(node.path, head, False)

    return ImageTree(nodes, read, rdinit_of(cmdline), needs_init(cmdline, boot_image))


# --- any archive --------------------------------------------------------------------

def tree_of_archive(reader: InitramfsReader, cmdline: str | None = None, *,
                    boot_image: bool = False) -> ImageTree:
    """The tree of an initramfs as the kernel unpacks it: a later member replaces an
    earlier one of the same path; hard links share the data of the member that has it."""
    nodes: dict[str, Node] = {}
    facts: dict[str, FileFacts] = {}
    links: dict[tuple[int, int, int], list[str]] = {}  # (archive, dev, ino) -> paths
    for member in reader:
        record = member.record
        path = record.path
        if path == "/":
            continue
        node = Node(path, record.kind, record.permissions, record.target)
        nodes[path] = node
        facts.pop(path, None)
        if record.nlink > 1 and record.kind == "file":
            key = (record.archive, record.dev_major << 32 | record.dev_minor, record.ino)
            group = links.setdefault(key, [])
            group.append(path)
            if record.size:
                found = _member_facts(node, member)
                for linked in group:
                    facts[linked] = found
            continue
        if _needs_bytes(node):
            facts[path] = _member_facts(node, member)

    def read(node: Node) -> FileFacts:
        return facts.get(node.path, NO_FACTS)

    return ImageTree(nodes, read, rdinit_of(cmdline), needs_init(cmdline, boot_image))


def _member_facts(node: Node, member: Member) -> FileFacts:
    if not _needs_bytes(node):
        return NO_FACTS
    chunks = member.chunks()
    head = next(chunks, b"")
    if not (head.startswith(ELF_MAGIC) or MODULES_DEP.match(node.path)):
        return facts_of(node.path, head, False)
    if member.record.size > MAX_ELF:
        return facts_of(node.path, head, False)
    return facts_of(node.path, head + b"".join(chunks), True)


def needs_init(cmdline: str | None, boot_image: bool) -> bool:
    """Whether the image must hold its init: a boot image must, unless its command line
    names a root= for the kernel to mount instead; an initramfs alone may supplement
    another (its command line is the boot loader's)."""
    return boot_image and not any(w.startswith("root=") for w in (cmdline or "").split())


def rdinit_of(cmdline: str | None) -> str:
    """The init the kernel runs from the initramfs: `rdinit=` (the last one wins, as
    for every parameter the kernel parses), else /init."""
    found = "/init"
    for word in (cmdline or "").split():
        if word.startswith("rdinit="):
            found = word[len("rdinit="):] or found
    return found


def check_file(path: Path, limits: Limits | None = None) -> tuple[Image, list[Finding]]:
    """The self-check of any boot image or initramfs on disk, whoever built it; the
    boot image's command line says which init the kernel will run (rdinit=)."""
    from composer.read.inspect import open_image

    with open_image(path, limits) as (image, reader):
        cmdline = image.header.cmdline if image.header is not None else None
        tree = tree_of_archive(reader, cmdline, boot_image=image.header is not None)
    return image, check_image(tree)
