"""What the image trusts, put into it by the build: the CA bundle its HTTPS client
verifies against, and the OpenPGP keyring its signature check uses.

Four recipe variables carry the choice (docs/pxelinux.md, "Trust"); the build gives a
meaning to two of them, the host files:
- `https_ca`: a PEM file of CA certificates. It *replaces* Debian's bundle: a site
  that names its own CA trusts that CA alone for its boot server, not also the 140-odd
  public ones (to trust both, concatenate Debian's bundle into the file). Empty: the
  bundle is made from the sysroot's ca-certificates (/usr/share/ca-certificates/
  mozilla/*.crt, the files Debian's postinst concatenates into
  /etc/ssl/certs/ca-certificates.crt), in name order, so the same sysroot always gives
  the same bytes.
- `signing_keys`: a binary OpenPGP keyring (`gpg --export KEY >FILE`), for gpgv; needed
  when `signatures` is `warn` or `require`.
A relative path starts where the value was set: the directory of the recipe file (or
--vars file) that sets it, the working directory for --set. Both files are host paths a
recipe names, so they are confined as `source:` is (composer/recipe/confine.py).
A recipe that declares neither variable gets neither file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from composer.errors import InputError
from composer.inputfile import UnreadableFile, read_regular_file
from composer.manifest import Entry, Kind
from composer.recipe.confine import HINT, Confinement, variable_place

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
KEYRING = "/etc/pxeboot/signing-keys.gpg"
DEBIAN_CERTS = "usr/share/ca-certificates/mozilla"
POLICIES = ("off", "warn", "require")
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
MAX_TRUST_FILE = 16 << 20

def _where(origins: Mapping[str, str], name: str) -> str:
    at = origins.get(f"variables.{name}", "")
    return f"{at}: variables.{name}" if at else f"variables.{name}"


def _host_file(name: str, raw: str, top: Path, origins: Mapping[str, str],
               confinement: Confinement) -> tuple[Path, bytes]:
    base, tree = variable_place(origins.get(f"variables.{name}", ""), top)
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else base / path
    where = _where(origins, name)
    reason = confinement.refusal(path, tree)
    if reason is not None:
        raise InputError(f"{where}: {raw} {reason}", hint=HINT)
    try:
        return path, read_regular_file(path, MAX_TRUST_FILE)
    except UnreadableFile as error:
        raise InputError(f"{where}: {path} {error.message}") from None


def debian_bundle(sysroot: Path | None) -> bytes | None:
    """The sysroot's CA certificates as one PEM bundle, or None when it has none."""
    if sysroot is None:
        return None
    folder = sysroot / DEBIAN_CERTS
    names = sorted(p.name for p in folder.glob("*.crt")) if folder.is_dir() else []
    parts = []
    for name in names:
        data = (folder / name).read_bytes()
        parts.append(data if data.endswith(b"\n") else data + b"\n")
    return b"".join(parts) or None


def ca_bundle(variables: Mapping[str, object], sysroot: Path | None, top: Path,
              origins: Mapping[str, str], confinement: Confinement) -> Entry | None:
    raw = str(variables.get("https_ca") or "")
    if raw:
        path, data = _host_file("https_ca", raw, top, origins, confinement)
        if PEM_CERTIFICATE not in data:
            raise InputError(f"{_where(origins, 'https_ca')}: {path} holds no PEM "
                             "certificate (-----BEGIN CERTIFICATE-----)",
                             hint="https_ca is the CA's certificate in PEM form")
        return Entry(CA_BUNDLE, Kind.FILE, 0o644, source=path,
                     origin=f"{_where(origins, 'https_ca')} ({path})")
    bundle = debian_bundle(sysroot)
    if bundle is None:
        return None
    return Entry(CA_BUNDLE, Kind.FILE, 0o644, data=bundle,
                 origin=f"Debian's ca-certificates ({DEBIAN_CERTS} in the sysroot)")


def keyring(variables: Mapping[str, object], top: Path, origins: Mapping[str, str],
            confinement: Confinement) -> Entry | None:
    policy = str(variables.get("signatures") or "off")
    if policy not in POLICIES:
        raise InputError(f"{_where(origins, 'signatures')}: '{policy}' is not one of "
                         f"{', '.join(POLICIES)}")
    raw = str(variables.get("signing_keys") or "")
    if not raw:
        if policy != "off":
            raise InputError(f"{_where(origins, 'signatures')}: '{policy}' needs "
                             "signing_keys, the keyring the signatures are checked against",
                             hint="gpg --export KEYID >keys.gpg; --set signing_keys=keys.gpg")
        return None
    path, data = _host_file("signing_keys", raw, top, origins, confinement)
    if not data or not data[0] & 0x80:
        armored = data.lstrip().startswith(b"-----BEGIN PGP")
        raise InputError(
            f"{_where(origins, 'signing_keys')}: {path} is not a binary OpenPGP keyring",
            hint="gpgv reads what `gpg --export` writes; `gpg --dearmor` converts an "
                 "armored (.asc) file" if armored else "make it with gpg --export KEYID")
    return Entry(KEYRING, Kind.FILE, 0o644, source=path,
                 origin=f"{_where(origins, 'signing_keys')} ({path})")


def trust_entries(variables: Mapping[str, object], *, sysroot: Path | None, top: Path,
                  origins: Mapping[str, str], confinement: Confinement | None = None
                  ) -> list[Entry]:
    """The CA bundle (when the recipe declares https_ca) and the keyring (when it
    declares signing_keys and gives one). TOP is the recipe named on the command line."""
    confinement = confinement or Confinement()
    out = []
    if "https_ca" in variables:
        bundle = ca_bundle(variables, sysroot, top, origins, confinement)
        if bundle is not None:
            out.append(bundle)
    if "signing_keys" in variables or "signatures" in variables:
        keys = keyring(variables, top, origins, confinement)
        if keys is not None:
            out.append(keys)
    return out
