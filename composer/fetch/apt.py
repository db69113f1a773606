"""apt-get and apt-cache confined to a private state directory for one architecture.

apt itself does the downloading and hash checking, pointed by `-o` options at a state
under ~/.cache/composer/apt-<arch>/ (sources.list for Debian bookworm, bookworm-updates
and bookworm-security, signed by debian-archive-keyring; lists, cache, an empty dpkg
status; `APT::Architecture(s)=<arch>`), so neither root nor the host's apt or dpkg
configuration is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from composer.fetch.debian import FetchError, Package, parse_packages

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SOURCES = (
    ("http://deb.debian.org/debian", "bookworm"),
    ("http://deb.debian.org/debian", "bookworm-updates"),
    ("http://deb.debian.org/debian-security", "bookworm-security"),
)

Progress = Callable[[str], None]


class Apt:
    def __init__(self, state: Path, arch: str, progress: Progress) -> None:
        self.state = state
        self.arch = arch
        self.progress = progress
        for tool in ("apt-get", "apt-cache", "dpkg-deb"):
            if shutil.which(tool) is None:
                raise FetchError(f"{tool} not found: fetching a sysroot needs Debian's apt "
                                 "and dpkg (packages apt and dpkg) on the PATH")
        if not KEYRING.is_file():
            raise FetchError(f"{KEYRING} is missing: install the debian-archive-keyring "
                             "package so apt can check Debian's signatures")
        (state / "parts").mkdir(parents=True, exist_ok=True)
        (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        (state / "debs").mkdir(exist_ok=True)
        (state / "status").touch()
        lines = [f"deb [signed-by={KEYRING}] {uri} {suite} main" for uri, suite in SOURCES]
        (state / "sources.list").write_text("\n".join(lines) + "\n")

    def options(self) -> list[str]:
        s = self.state
        settings = {
            "Dir::Etc::SourceList": s / "sources.list",
            "Dir::Etc::SourceParts": s / "parts",
            "Dir::Etc::Preferences": s / "parts" / "none",
            "Dir::Etc::PreferencesParts": s / "parts",
            "Dir::State::Lists": s / "lists",
            "Dir::State::status": s / "status",
            "Dir::State::extended_states": s / "extended_states",
            "Dir::Cache": s / "cache",
            "APT::Architecture": self.arch,
            "APT::Architectures": self.arch,
            "Acquire::Languages": "none",
        }
        if os.geteuid() == 0:
            # As root apt hands downloads to the _apt user, who cannot write our cache.
            settings["APT::Sandbox::User"] = "root"
        return [arg for key, value in settings.items() for arg in ("-o", f"{key}={value}")]

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        command = [tool, "-q", *self.options(), *args]
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        # apt-get update exits 0 when every download failed; its warnings say so.
        problems = [line for line in result.stderr.splitlines()
                    if line.startswith("E:") or line.startswith("W: Failed to fetch")]
        if result.returncode != 0 or problems:
            detail = problems[0] if problems else result.stderr.strip()[-300:]
            raise FetchError(f"{tool} {args[0]} failed ({' '.join(detail.split())}); "
                             "is the network up?")
        return result.stdout

    def has_lists(self) -> bool:
        return any((self.state / "lists").glob(f"*_binary-{self.arch}_Packages*"))

    def update(self) -> None:
        self.progress(f"apt-get update ({self.arch})")
        self.run("apt-get", "update")
        if not self.has_lists():
            raise FetchError(f"apt-get update fetched no package list for {self.arch} from "
                             "deb.debian.org; is the network up and the architecture right?")

    def available(self) -> dict[str, Package]:
        return parse_packages(self.run("apt-cache", "dumpavail"), self.arch)

    def download(self, packages: list[Package]) -> list[Path]:
        debs = self.state / "debs"
        missing = [p for p in packages if not (debs / p.deb_name).is_file()]
        if missing:
            self.progress(f"downloading {len(missing)} package(s): "
                          + " ".join(p.name for p in missing))
            with tempfile.TemporaryDirectory(dir=self.state) as tmp:
                self.run("apt-get", "download", *(f"{p.name}={p.version}" for p in missing),
                         cwd=Path(tmp))
                for package in missing:
                    got = Path(tmp) / package.deb_name
                    if not got.is_file():
                        raise FetchError(f"apt-get download did not produce {package.deb_name}")
                    got.replace(debs / package.deb_name)
        return [debs / p.deb_name for p in packages]
