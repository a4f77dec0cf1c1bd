"""A throwaway certificate authority and a loopback server certificate, made at start.

The CA and the server certificate are ECDSA P-256 (fast to generate, accepted by Go's crypto/tls),
valid from a few minutes ago for a week, and the server certificate names 127.0.0.1, ::1 and
localhost.  Only the CA certificate is written where clients can read it; the server key stays in
memory except for the moment ``ssl`` needs it in a file (a private temporary directory).
"""

import datetime
import ipaddress
import os
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)
BACKDATE = datetime.timedelta(minutes=5)
SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = ("127.0.0.1", "::1")


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubeemu"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(**enabled):
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    flags.update(enabled)
    return x509.KeyUsage(**flags)


def _certificate(subject, issuer, public_key, signing_key, extensions):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now - BACKDATE).not_valid_after(now + VALIDITY))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


class CertificateAuthority:
    """A self-signed CA plus one server certificate it signed, both in PEM."""

    def __init__(self):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("kubeemu-ca")
        self.ca_pem = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True), True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ]).public_bytes(serialization.Encoding.PEM)

        server_key = ec.generate_private_key(ec.SECP256R1())
        alt_names = [x509.DNSName(name) for name in SERVER_NAMES]
        alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in SERVER_ADDRESSES]
        self.server_pem = _certificate(_name("kubeemu"), ca_name, server_key.public_key(), ca_key, [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(digital_signature=True, key_encipherment=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.SubjectAlternativeName(alt_names), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ]).public_bytes(serialization.Encoding.PEM)
        self._server_key_pem = server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def write_ca(self, path):
        with open(path, "wb") as handle:
            handle.write(self.ca_pem)
        return path

    def server_context(self):
        """An ``ssl.SSLContext`` serving the server certificate, HTTP/1.1 only (no h2 via ALPN)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        with tempfile.TemporaryDirectory(prefix="kubeemu-tls-") as private:  # mode 0700
            chain, key = os.path.join(private, "server.crt"), os.path.join(private, "server.key")
            with open(chain, "wb") as handle:
                handle.write(self.server_pem)
            with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
                handle.write(self._server_key_pem)
            context.load_cert_chain(chain, key)
        return context

    def client_context(self):
        """An ``ssl.SSLContext`` for Python clients that trusts only this CA."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
