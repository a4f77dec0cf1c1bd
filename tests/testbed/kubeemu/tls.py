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
    """A self-signed CA plus one server certificate it signed, both in PEM; ``issue`` signs more."""

    def __init__(self, common_name="kubeemu-ca"):
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = _name(common_name)
        self.ca_pem = _certificate(self._name, self._name, self._key.public_key(), self._key, [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True), True),
            (x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), False),
        ]).public_bytes(serialization.Encoding.PEM)
        self.server_pem, self._server_key_pem = self.issue("kubeemu", dns_names=SERVER_NAMES, ip_addresses=SERVER_ADDRESSES)

    def issue(self, common_name, organizations=(), dns_names=(), ip_addresses=(), client=False):
        """Sign a new key: a server certificate for the names and addresses given, or with
        ``client=True`` a client certificate (Kubernetes reads the user from ``common_name``
        and the groups from ``organizations``).  Returns (certificate PEM, PKCS#8 key PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in organizations] +
                            [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]) if organizations else _name(common_name)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        extensions = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(digital_signature=True, key_encipherment=True), True),
            (x509.ExtendedKeyUsage([usage]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), False),
        ]
        alt_names = [x509.DNSName(name) for name in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        if alt_names:
            extensions.append((x509.SubjectAlternativeName(alt_names), False))
        certificate = _certificate(subject, self._name, key.public_key(), self._key, extensions)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return certificate.public_bytes(serialization.Encoding.PEM), key_pem

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
