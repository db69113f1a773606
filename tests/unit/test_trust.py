"""composer/build/trust.py: the CA bundle and the signing keyring the build puts into the image."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.build.trust import CA_BUNDLE, KEYRING, debian_bundle, trust_entries
from composer.errors import InputError
from composer.recipe.confine import Confinement

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
    [entry] = trust_entries({"https_ca": "site.pem"}, sysroot=root, top=tmp_path / "r.yaml",
                            origins={})
    assert entry.path == CA_BUNDLE and entry.source == site
    [debian] = trust_entries({"https_ca": ""}, sysroot=root, top=tmp_path / "r.yaml", origins={})
    assert debian.data == CERT


def test_no_variables_no_files(tmp_path: Path) -> None:
    assert trust_entries({}, sysroot=None, top=tmp_path / "r.yaml", origins={}) == []


def test_https_ca_must_hold_a_certificate(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(InputError, match=r"/r.yaml:3:3: variables.https_ca: .*ca.pem holds "
                                         r"no PEM certificate"):
        trust_entries({"https_ca": "ca.pem"}, sysroot=None, top=tmp_path / "r.yaml",
                      origins={"variables.https_ca": f"{tmp_path}/r.yaml:3:3"})


def test_a_missing_https_ca_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"variables.https_ca: .*gone.pem not found"):
        trust_entries({"https_ca": "gone.pem"}, sysroot=None, top=tmp_path / "r.yaml", origins={})


def test_signing_keys_is_put_into_the_image(tmp_path: Path) -> None:
    (tmp_path / "keys.gpg").write_bytes(b"\x99\x01\x0d rest of a key packet")
    [entry] = trust_entries({"signatures": "require", "signing_keys": "keys.gpg"},
                            sysroot=None, top=tmp_path / "r.yaml", origins={})
    assert entry.path == KEYRING and entry.source == tmp_path / "keys.gpg"


def test_an_armored_keyring_is_refused_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "keys.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    with pytest.raises(InputError, match="is not a binary OpenPGP keyring") as caught:
        trust_entries({"signatures": "warn", "signing_keys": "keys.asc"}, sysroot=None,
                      top=tmp_path / "r.yaml", origins={})
    assert "gpg --dearmor" in str(caught.value)


@pytest.mark.parametrize("policy", ["warn", "require"])
def test_a_policy_without_keys_is_an_error(tmp_path: Path, policy: str) -> None:
    with pytest.raises(InputError, match=f"'{policy}' needs signing_keys"):
        trust_entries({"signatures": policy, "signing_keys": ""}, sysroot=None,
                      top=tmp_path / "r.yaml", origins={})


def test_an_unknown_policy_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'always' is not one of off, warn, require"):
        trust_entries({"signatures": "always"}, sysroot=None, top=tmp_path / "r.yaml", origins={})


def test_host_paths_in_variables_are_confined(tmp_path: Path) -> None:
    """https_ca and signing_keys name host files: outside the recipe's tree they are
    refused, naming where the value was set, unless --allow-path allows it."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/ca.pem").write_bytes(CERT)
    (tmp_path / "site").mkdir()
    top = tmp_path / "site/r.yaml"
    origins = {"variables.https_ca": f"{top}:4:13"}
    with pytest.raises(InputError, match=r"r.yaml:4:13: variables.https_ca: ../outside/ca.pem "
                                         r"is .*/outside/ca.pem, outside the recipe's "
                                         r"directory .*/site: refused"):
        trust_entries({"https_ca": "../outside/ca.pem"}, sysroot=None, top=top,
                      origins=origins)
    allowed = Confinement.of([tmp_path / "outside"])
    [entry] = trust_entries({"https_ca": "../outside/ca.pem"}, sysroot=None, top=top,
                            origins=origins, confinement=allowed)
    assert entry.source == tmp_path / "site/../outside/ca.pem"


def test_a_set_value_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site/ca.pem").write_bytes(CERT)
    monkeypatch.chdir(tmp_path / "site")
    [entry] = trust_entries({"https_ca": "ca.pem"}, sysroot=None, top=tmp_path / "site/r.yaml",
                            origins={"variables.https_ca": "--set"})
    assert entry.source == tmp_path / "site/ca.pem"
