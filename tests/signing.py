"""OpenPGP keys made by a test: gpg in a GNUPGHOME of its own, signatures as a site makes
them (`gpg --detach-sign` beside each file) and the keyring as `gpg --export` writes it."""

from __future__ import annotations

import subprocess
from pathlib import Path


class Keys:
    """Two signing keys in a GNUPGHOME of the test's own: the site's and a stranger's."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(mode=0o700)
        self.site = self._make("Boot Signer <boot@example.org>")
        self.stranger = self._make("Someone Else <else@example.org>")

    def gpg(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["gpg", "--batch", "--quiet", "--homedir", str(self.home),
                               *args], capture_output=True, check=True, timeout=60)

    def _make(self, uid: str) -> str:
        self.gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
        listing = self.gpg("--with-colons", "--list-keys", uid).stdout.decode()
        return next(line.split(":")[9] for line in listing.splitlines()
                    if line.startswith("fpr:"))

    def close(self) -> None:
        """Ends the gpg-agent that signing started for this GNUPGHOME."""
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"],
                       capture_output=True, check=False, timeout=60)

    def export(self, path: Path) -> Path:
        path.write_bytes(self.gpg("--export", self.site).stdout)
        return path

    def sign(self, path: Path, key: str | None = None) -> None:
        """PATH.sig, as `gpg --detach-sign` writes it."""
        self.gpg("--yes", "--local-user", key or self.site, "--output", f"{path}.sig",
                 "--detach-sign", str(path))
