"""`@` words of a boot entry: what the sysroot and the stock recipes provide, so that a
boot needs no file the user has to find first.

`@kernel` is the sysroot's kernel, as a recipe's `kernel.image: /boot/vmlinuz-*` finds it
(on / itself the running one when /boot holds several). `@NAME` in the initrd list is the
initramfs of the recipe NAME (a stock name such as `stage2`, or a path), built against the
same sysroot into a temporary directory, as `compose NAME --initramfs FILE` would build it.
"""

from __future__ import annotations

from pathlib import Path

from composer.errors import InputError
from composer.qemu.tftproot import BootEntry

KERNEL_WORD = "@kernel"
SYSROOT_KERNEL = "/boot/vmlinuz-*"


def has_words(entries: list[BootEntry]) -> bool:
    return any(e.kernel.startswith("@") or any(i.startswith("@") for i in e.initrds)
               for e in entries)


def resolve_words(entries: list[BootEntry], sysroot: Path, work: Path) -> list[BootEntry]:
    """The entries with every `@` word replaced by a host file (built into `work`)."""
    built: dict[str, str] = {}

    def initrd(word: str) -> str:
        if not word.startswith("@"):
            return word
        if word not in built:
            built[word] = str(_build_initrd(word[1:], sysroot, work))
        return built[word]

    return [BootEntry(e.label, _kernel(e.kernel, sysroot), tuple(initrd(i) for i in e.initrds),
                      e.append) for e in entries]


def _kernel(word: str, sysroot: Path) -> str:
    if not word.startswith("@"):
        return word
    if word != KERNEL_WORD:
        raise InputError(f"--entry kernel {word!r}: the only @ word for a kernel is "
                         f"{KERNEL_WORD} (the sysroot's {SYSROOT_KERNEL})")
    from composer.image.kernel import kernel_in

    return str(kernel_in(sysroot, SYSROOT_KERNEL).path)


def _build_initrd(name: str, sysroot: Path, work: Path) -> Path:
    from composer.build.pipeline import BuildRequest, build
    from composer.recipe.stock import recipe_argument

    if not name:
        raise InputError("--entry initrd '@': name a recipe after the @, e.g. @stage2")
    out = work / f"{len(list(work.iterdir()))}-{Path(name).stem}.img"
    build(BuildRequest(recipe=recipe_argument(name), sysroot=sysroot, initramfs=out))
    return out
