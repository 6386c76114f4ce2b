"""A throwaway certificate authority for tests and the demo: a CA, server and client certificates.

Nothing here is for production, where the organisation's own CA signs the broker's certificate
(docs/protocol.md, "Broker identity and TLS"). Keys are EC P-256; files are PEM, keys 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bedwatch.configfile import write_private

_VALID = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as PEM files."""

    cert_file: Path
    key_file: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    write_private(path, data)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bedwatch test rig"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class TestCA:
    """A self-signed CA in `folder` (`ca.pem`, `ca.key`) that issues certificates there.

        ca = TestCA(tmp_path / "pki")
        server = ca.issue_server(["127.0.0.1", "localhost"])
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, folder: Path, name: str = "bedwatch throwaway CA") -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cert_file = self.folder / "ca.pem"
        self.key_file = self.folder / "ca.key"
        now = datetime.datetime.now(datetime.UTC)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()),
                           critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        _write_key(self.key_file, self._key)

    def _issue(self, stem: str, common_name: str, usage: x509.ObjectIdentifier,
               sans: list[x509.GeneralName]) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self._key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        issued = Issued(self.folder / f"{stem}.pem", self.folder / f"{stem}.key")
        issued.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(issued.key_file, key)
        return issued

    def issue_server(self, hosts: list[str], stem: str = "server") -> Issued:
        """Issue a server certificate whose subject alternative names are `hosts`."""
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        return self._issue(stem, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, sans)

    def issue_client(self, name: str) -> Issued:
        """Issue a client certificate with common name `name`."""
        return self._issue(f"client-{name}", name, ExtendedKeyUsageOID.CLIENT_AUTH, [])
