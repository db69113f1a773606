"""composer/trust.py: the CA bundle and the signing keyring the build puts into the image."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import InputError
from composer.trust import CA_BUNDLE, KEYRING, debian_bundle, trust_entries

CERT = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def sysroot_with_certs(root: Path, names: dict[str, bytes]) -> Path:
    folder = root / "usr/share/ca-certificates/mozilla"
    folder.mkdir(parents=True)
    for name, data in names.items():
        (folder / name).write_bytes(data)
    return root


def test_debian_bundle_is_the_certificates_in_name_order(tmp_path: Path) -> None:
    """As Debian's update-ca-certificates concatenates them; a file without a final
    newline gets one, so two certificates never share a line."""
    root = sysroot_with_certs(tmp_path, {"B.crt": b"b\n", "A.crt": b"a", "c.pem": b"x\n"})
    assert debian_bundle(root) == b"a\nb\n"
    assert debian_bundle(tmp_path / "nothing") is None
    assert debian_bundle(None) is None


def test_https_ca_replaces_debians_bundle(tmp_path: Path) -> None:
    root = sysroot_with_certs(tmp_path / "root", {"A.crt": CERT})
    site = tmp_path / "site.pem"
    site.write_bytes(CERT + CERT)
    [entry] = trust_entries({"https_ca": "site.pem"}, sysroot=root, base=tmp_path, origins={})
    assert entry.path == CA_BUNDLE and entry.source == site
    [debian] = trust_entries({"https_ca": ""}, sysroot=root, base=tmp_path, origins={})
    assert debian.data == CERT


def test_no_variables_no_files(tmp_path: Path) -> None:
    assert trust_entries({}, sysroot=None, base=tmp_path, origins={}) == []


def test_https_ca_must_hold_a_certificate(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(InputError, match=r"^r.yaml:3:3: variables.https_ca: .*ca.pem holds "
                                         r"no PEM certificate"):
        trust_entries({"https_ca": "ca.pem"}, sysroot=None, base=tmp_path,
                      origins={"variables.https_ca": "r.yaml:3:3"})


def test_a_missing_https_ca_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"variables.https_ca: .*gone.pem not found"):
        trust_entries({"https_ca": "gone.pem"}, sysroot=None, base=tmp_path, origins={})


def test_signing_keys_is_put_into_the_image(tmp_path: Path) -> None:
    (tmp_path / "keys.gpg").write_bytes(b"\x99\x01\x0d rest of a key packet")
    [entry] = trust_entries({"signatures": "require", "signing_keys": "keys.gpg"},
                            sysroot=None, base=tmp_path, origins={})
    assert entry.path == KEYRING and entry.source == tmp_path / "keys.gpg"


def test_an_armored_keyring_is_refused_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "keys.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    with pytest.raises(InputError, match="is not a binary OpenPGP keyring") as caught:
        trust_entries({"signatures": "warn", "signing_keys": "keys.asc"}, sysroot=None,
                      base=tmp_path, origins={})
    assert "gpg --dearmor" in str(caught.value)


@pytest.mark.parametrize("policy", ["warn", "require"])
def test_a_policy_without_keys_is_an_error(tmp_path: Path, policy: str) -> None:
    with pytest.raises(InputError, match=f"'{policy}' needs signing_keys"):
        trust_entries({"signatures": policy, "signing_keys": ""}, sysroot=None,
                      base=tmp_path, origins={})


def test_an_unknown_policy_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'always' is not one of off, warn, require"):
        trust_entries({"signatures": "always"}, sysroot=None, base=tmp_path, origins={})
