"""Certificates made by a test: a CA of its own, server certificates it issues (good,
expired, for another name), and a self-signed one, with python's `cryptography`.

    ca = TestCA()
    cert = ca.issue(["127.0.0.1"])            # valid now, for 127.0.0.1 (an IP SAN)
    ca.pem                                    # what the image's https_ca holds
    HttpServer(root, tls=cert.context(tmp))   # an HTTPS server presenting it

EC P-256 keys: made in milliseconds, and what curl and OpenSSL check like any other.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = datetime.timedelta(days=1)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _alternatives(names: list[str]) -> x509.SubjectAlternativeName:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(out)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Certificate:
    """A server's certificate chain (PEM) and key (PEM)."""

    pem: bytes
    key: bytes

    def context(self, directory: Path) -> ssl.SSLContext:
        """An SSLContext for a server presenting this certificate."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "server.pem").write_bytes(self.pem)
        (directory / "server.key").write_bytes(self.key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "server.pem", directory / "server.key")
        return context


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TestCA:
    """A certificate authority of the test's own."""

    __test__ = False  # not a pytest class

    def __init__(self, common: str = "composer test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        self.cert = (x509.CertificateBuilder()
                     .subject_name(_name(common)).issuer_name(_name(common))
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - DAY).not_valid_after(now + 30 * DAY)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .add_extension(x509.KeyUsage(
                         digital_signature=True, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=True, crl_sign=True, encipher_only=False,
                         decipher_only=False), True)
                     .sign(self.key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, names: list[str], *, not_before: datetime.datetime | None = None,
              not_after: datetime.datetime | None = None) -> Certificate:
        """A server certificate for NAMES, valid from a day ago for 30 days unless told."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(_name(names[0])).issuer_name(self.cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before or now - DAY)
                .not_valid_after(not_after or now + 30 * DAY)
                .add_extension(_alternatives(names), False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .sign(self.key, hashes.SHA256()))
        return Certificate(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def self_signed(names: list[str]) -> Certificate:
    """A certificate that is its own issuer: trusted by nobody."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(_name(names[0])).issuer_name(_name(names[0]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY).not_valid_after(now + 30 * DAY)
            .add_extension(_alternatives(names), False)
            .sign(key, hashes.SHA256()))
    return Certificate(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))
