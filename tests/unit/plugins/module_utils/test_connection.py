# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""connection.py: client-go's kubeconfig rules, Helm's overrides, and what the HTTP client gets.

Kubeconfigs are real files under tmp_path, exec plugins real scripts that record how they were run,
and TLS is checked with a real handshake against a server on 127.0.0.1 that asks for a client
certificate."""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import os
import socket
import ssl
import stat
import sys
import threading
from collections import namedtuple

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.matih.helm.plugins.module_utils import connection, helm_client
from ansible_collections.matih.helm.plugins.module_utils.args import argument_spec
from ansible_collections.matih.helm.plugins.module_utils.connection import (
    Connection, connection_environ, connection_flags, kubeconfig_problem, kubeconfig_secrets, proxy_for, tls_override_problem,
)
from ansible_collections.matih.helm.plugins.module_utils.errors import (
    ACCESS_DENIED, INVALID_KUBECONFIG, NO_API_SERVER, UNSUPPORTED_KUBECONFIG, KubeError, TaskError,
)
from ansible_collections.matih.helm.tests.unit.plugins.module_args import patch_module_args

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError:  # ansible-core depends on it; without it only the TLS tests are skipped
    x509 = None

SECRET = "tok-3f9a-never-on-argv"
V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"


# --- scaffolding ------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def fresh_exec_cache(monkeypatch):
    # the credential cache lives as long as the process: each test starts without one
    monkeypatch.setattr(connection, "_EXEC_CREDENTIALS", {})


def kubeconfig(clusters=None, users=None, contexts=None, current=None):
    """A kubeconfig dict from {name: mapping} sections."""
    config = {"apiVersion": "v1", "kind": "Config"}
    for section, field, entries in (("clusters", "cluster", clusters), ("users", "user", users),
                                    ("contexts", "context", contexts)):
        if entries is not None:
            config[section] = [{"name": name, field: entry} for name, entry in entries.items()]
    if current is not None:
        config["current-context"] = current
    return config


def single(server="https://k.test:6443", user=None, **cluster):
    """One cluster "k", one user "u", one current context "c"."""
    return kubeconfig({"k": dict(cluster, server=server)}, {"u": user or {}}, {"c": {"cluster": "k", "user": "u"}}, "c")


def write(path, config):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return str(path)


def environment(tmp_path, **variables):
    """A clean environment: a HOME without ~/.kube/config, the real PATH, and ``variables``."""
    environ = {"HOME": str(tmp_path / "home"), "PATH": os.environ.get("PATH", os.defpath)}
    environ.update(variables)
    return environ


def connect(tmp_path, config=None, params=None, **variables):
    """A Connection whose kubeconfig (when given) is a file passed like Helm's --kubeconfig."""
    path = write(tmp_path / "kube" / "config", config) if config is not None else None
    return Connection.from_params(params or {}, path, environment(tmp_path, **variables))


def b64(text):
    return base64.b64encode(text.encode("ascii") if isinstance(text, str) else text).decode("ascii")


def make_module(**params):
    params.setdefault("name", "web")
    params.setdefault("release_namespace", "shop")
    with patch_module_args(params):
        return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


# --- certificates and a TLS server ------------------------------------------------------------------

Certificates = namedtuple("Certificates", "ca other_ca ca_file other_ca_file server_cert server_key client_cert "
                                          "client_key client_cert_file client_key_file")


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, key, issuer, issuer_key, ca=False, dns=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, another CA, a server certificate for kube.test (not for 127.0.0.1) and a client
    certificate for "alice", both signed by the CA."""
    if x509 is None:
        pytest.skip("cryptography is not installed")
    directory = tmp_path_factory.mktemp("certs")
    ca_key, other_key, server_key, client_key = _key(), _key(), _key(), _key()
    ca = _certificate("matih test CA", ca_key, "matih test CA", ca_key, ca=True)
    other_ca = _certificate("matih other CA", other_key, "matih other CA", other_key, ca=True)
    files = {}
    for name, text in (("ca.pem", ca), ("other-ca.pem", other_ca),
                       ("alice.pem", _certificate("alice", client_key, "matih test CA", ca_key)),
                       ("alice-key.pem", _key_pem(client_key))):
        (directory / name).write_text(text)
        files[name] = str(directory / name)
    return Certificates(ca, other_ca, files["ca.pem"], files["other-ca.pem"],
                        _certificate("kube.test", server_key, "matih test CA", ca_key, dns="kube.test"),
                        _key_pem(server_key), (directory / "alice.pem").read_text(),
                        (directory / "alice-key.pem").read_text(), files["alice.pem"], files["alice-key.pem"])


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers with what it saw: the client certificate's name and the credential headers."""

    def do_GET(self):  # pylint: disable=invalid-name
        peer = self.connection.getpeercert() or {}
        subject = dict(item[0] for item in peer.get("subject", ()))
        body = json.dumps({"client": subject.get("commonName"), "authorization": self.headers.get("Authorization"),
                           "groups": self.headers.get_all("Impersonate-Group") or []}).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(certs, tmp_path):
    """https://127.0.0.1:PORT with a certificate for kube.test; a client certificate is optional."""
    (tmp_path / "server.pem").write_text(certs.server_cert + certs.server_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "server.pem"))
    context.load_verify_locations(cadata=certs.ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "https://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def get(access):
    """GET / through ``access`` as kube_client connects: its SSL context, tls_server_name as SNI and
    hostname to verify, its headers. The server's JSON answer."""
    port = int(access.server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with access.ssl_context().wrap_socket(raw, server_hostname=access.tls_server_name or "127.0.0.1") as stream:
            lines = ["GET / HTTP/1.0", "Host: kube.test"] + ["%s: %s" % header for header in access.headers()]
            stream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
            data = b""
            while True:
                chunk = stream.recv(65536)
                if not chunk:
                    break
                data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def loaded_cas(access):
    """The common names of the CAs the SSL context trusts from the kubeconfig or options."""
    names = set()
    for certificate in access.ssl_context().get_ca_certs():
        names.update(value for item in certificate["subject"] for key, value in item if key == "commonName")
    return names & {"matih test CA", "matih other CA"}


# --- Helm's flags and environment: exactly connection_flags/connection_environ -------------------------

@pytest.mark.parametrize("params, kubeconfig_path, flags", [
    ({}, None, []),
    ({"validate_certs": True}, "/tmp/kc", ["--kubeconfig", "/tmp/kc"]),
    ({"context": "prod", "host": "https://api:6443", "ca_cert": "/etc/ca.pem"}, None,
     ["--kube-context", "prod", "--kube-apiserver", "https://api:6443", "--kube-ca-file", "/etc/ca.pem"]),
    ({"validate_certs": False}, None, ["--kube-insecure-skip-tls-verify"]),
    ({"api_key": SECRET, "host": "https://api:6443"}, None, ["--kube-apiserver", "https://api:6443"]),
    ({"api_key": SECRET, "kubeconfig": "/k", "context": "c", "validate_certs": False}, "/k",
     ["--kubeconfig", "/k", "--kube-context", "c", "--kube-insecure-skip-tls-verify"]),
])
def test_helm_flags_and_environ_never_carry_the_token(params, kubeconfig_path, flags):
    # HELM_KUBE* variables are Helm's to read: they never become flags
    made = Connection.from_params(params, kubeconfig_path, {"HELM_KUBETOKEN": "env", "HELM_KUBECONTEXT": "x"})
    assert made.helm_flags() == connection_flags(params, kubeconfig_path) == flags
    assert made.helm_environ() == connection_environ(params) == ({"HELM_KUBETOKEN": SECRET} if params.get("api_key") else {})
    assert made.kubeconfig_path == kubeconfig_path


# --- kubeconfig files: KUBECONFIG merged as client-go merges it --------------------------------------

FILE_A = kubeconfig(
    clusters={"shared": {"server": "https://a.test"}, "only-a": {"server": "https://only-a.test"}},
    users={"shared": {"token": "token-a"}},
    contexts={"shared": {"cluster": "shared", "user": "shared"}, "ctx-a": {"cluster": "only-a", "user": "shared"}})
FILE_B = kubeconfig(
    clusters={"shared": {"server": "https://b.test"}, "only-b": {"server": "https://only-b.test"}},
    users={"shared": {"token": "token-b"}, "user-b": {"token": "token-b2"}},
    contexts={"shared": {"cluster": "only-b", "user": "user-b"}, "ctx-b": {"cluster": "only-b", "user": "user-b"}},
    current="ctx-b")


@pytest.mark.parametrize("files, params, server, token", [
    pytest.param(["a", "b"], {}, "https://only-b.test", "token-b2", id="current-context-from-the-file-that-sets-it"),
    pytest.param(["a", "b"], {"context": "shared"}, "https://a.test", "token-a", id="first-file-wins-each-name"),
    pytest.param(["b", "a"], {"context": "shared"}, "https://only-b.test", "token-b2", id="order-decides"),
    # a context of one file, with the user of the same name from the other file
    pytest.param(["b", "a"], {"context": "ctx-a"}, "https://only-a.test", "token-b", id="entries-merge-by-name"),
    pytest.param(["a-current", "b"], {}, "https://only-a.test", "token-a", id="first-current-context-wins"),
    pytest.param(["a", "missing", "b"], {}, "https://only-b.test", "token-b2", id="missing-files-skipped"),
    pytest.param(["missing", "b", "b"], {"context": "shared"}, "https://only-b.test", "token-b2", id="duplicates"),
])
def test_kubeconfig_files_are_merged_as_client_go_merges_them(tmp_path, files, params, server, token):
    paths = {"a": write(tmp_path / "a" / "config", FILE_A), "b": write(tmp_path / "b" / "config", FILE_B),
             "a-current": write(tmp_path / "ac" / "config", dict(FILE_A, **{"current-context": "ctx-a"})),
             "missing": str(tmp_path / "missing" / "config")}
    made = Connection.from_params(params, None, environment(tmp_path, KUBECONFIG=os.pathsep.join(paths[f] for f in files)))
    access = made.api_access()
    assert (access.server, access.headers()) == (server, [("Authorization", "Bearer " + token)])
    assert made.helm_flags() == connection_flags(params)  # Helm reads KUBECONFIG itself


@pytest.mark.parametrize("variables, server", [
    pytest.param({}, "https://home.test", id="home-kube-config"),
    pytest.param({"KUBECONFIG": os.pathsep}, None, id="KUBECONFIG-set-replaces-it-even-empty"),
    pytest.param({"KUBECONFIG": "/nonexistent/config"}, None, id="KUBECONFIG-of-missing-files"),
    pytest.param({"KUBECONFIG": ""}, "https://home.test", id="KUBECONFIG-empty-is-unset"),
])
def test_default_kubeconfig_is_home_kube_config(tmp_path, variables, server):
    write(tmp_path / "home" / ".kube" / "config", single("https://home.test"))
    made = connect(tmp_path, **variables)
    if server:
        assert made.api_access().server == server
    else:
        with pytest.raises(KubeError) as caught:
            made.api_access()
        assert caught.value.kind == NO_API_SERVER


def test_an_explicit_kubeconfig_must_exist(tmp_path):
    with pytest.raises(KubeError) as caught:
        Connection.from_params({}, str(tmp_path / "absent"), environment(tmp_path)).api_access()
    assert caught.value.kind == INVALID_KUBECONFIG and "absent does not exist" in caught.value.message


def test_kubeconfig_option_replaces_kubeconfig_variable(tmp_path):
    listed = write(tmp_path / "listed", single("https://listed.test"))
    access = connect(tmp_path, single("https://given.test/prefix/"), KUBECONFIG=listed).api_access()
    assert access.server == "https://given.test/prefix"
    assert access.describe() == "https://given.test/prefix (context 'c')"


def test_yaml_kubeconfig_files_are_read(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("apiVersion: v1\nclusters:\n- name: k\n  cluster:\n    server: https://yaml.test\n"
                    "contexts:\n- name: c\n  context: {cluster: k, user: u}\ncurrent-context: c\n"
                    "users:\n- name: u\n  user: {token: yaml-token}\n")
    access = Connection.from_params({}, None, environment(tmp_path, KUBECONFIG=str(path))).api_access()
    assert (access.server, access.headers()) == ("https://yaml.test", [("Authorization", "Bearer yaml-token")])


def test_json_kubeconfig_needs_no_pyyaml(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml fails
    made = connect(tmp_path, single(user={"token": "t"}))
    assert made.api_problem is None and made.api_access().server == "https://k.test:6443"


# --- selection and overrides ----------------------------------------------------------------------

@pytest.fixture
def two_contexts(certs):
    """Contexts "c" (the current one; CA data, tls-server-name, a token) and "other"."""
    return kubeconfig(
        clusters={"k": {"server": "https://k.test:6443", "certificate-authority-data": b64(certs.ca),
                        "tls-server-name": "kube.test"},
                  "o": {"server": "https://other.test", "insecure-skip-tls-verify": True}},
        users={"u": {"token": "kube-token"}, "o": {"token": "other-token"}},
        contexts={"c": {"cluster": "k", "user": "u"}, "other": {"cluster": "o", "user": "o"}}, current="c")


def observe(access):
    """What the HTTP client gets, in one comparable dict."""
    context = access.ssl_context()
    return dict(server=access.server, tls_server_name=access.tls_server_name, headers=access.headers(),
                verified=context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname, cas=loaded_cas(access))


OTHER_TOKEN = ("Authorization", "Bearer other-token")
KUBE = dict(server="https://k.test:6443", tls_server_name="kube.test", headers=[("Authorization", "Bearer kube-token")],
            verified=True, cas={"matih test CA"})


@pytest.mark.parametrize("params, variables, expected", [
    pytest.param({}, {}, KUBE, id="current-context"),
    pytest.param({"context": "other"}, {}, dict(server="https://other.test", tls_server_name=None, headers=[OTHER_TOKEN],
                                                verified=False, cas=set()), id="context-option"),
    pytest.param({}, {"HELM_KUBECONTEXT": "other"}, dict(server="https://other.test", tls_server_name=None,
                                                         headers=[OTHER_TOKEN], verified=False, cas=set()),
                 id="HELM_KUBECONTEXT"),
    pytest.param({"context": "c"}, {"HELM_KUBECONTEXT": "other"}, KUBE, id="context-option-beats-HELM_KUBECONTEXT"),
    # another server: the kubeconfig's tls-server-name named the old one's certificate
    pytest.param({"host": "https://h.test/"}, {}, dict(KUBE, server="https://h.test", tls_server_name=None), id="host"),
    pytest.param({}, {"HELM_KUBEAPISERVER": "https://e.test"}, dict(KUBE, server="https://e.test", tls_server_name=None),
                 id="HELM_KUBEAPISERVER"),
    pytest.param({"host": "https://h.test"}, {"HELM_KUBEAPISERVER": "https://e.test"},
                 dict(KUBE, server="https://h.test", tls_server_name=None), id="host-beats-HELM_KUBEAPISERVER"),
    pytest.param({"host": "https://h.test"}, {"HELM_KUBETLS_SERVER_NAME": "name.test"},
                 dict(KUBE, server="https://h.test", tls_server_name="name.test"), id="HELM_KUBETLS_SERVER_NAME"),
    pytest.param({"api_key": "api"}, {}, dict(KUBE, headers=[("Authorization", "Bearer api")]), id="api_key"),
    pytest.param({}, {"HELM_KUBETOKEN": "env"}, dict(KUBE, headers=[("Authorization", "Bearer env")]),
                 id="HELM_KUBETOKEN"),
    pytest.param({"api_key": "api"}, {"HELM_KUBETOKEN": "env"}, dict(KUBE, headers=[("Authorization", "Bearer api")]),
                 id="api_key-beats-HELM_KUBETOKEN"),
    # insecure replaces the kubeconfig's CA (client-go would refuse the two together otherwise)
    pytest.param({"validate_certs": False}, {}, dict(KUBE, verified=False, cas=set()), id="validate_certs-false"),
    pytest.param({}, {"HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "true"}, dict(KUBE, verified=False, cas=set()),
                 id="HELM_KUBEINSECURE_SKIP_TLS_VERIFY-true"),
    pytest.param({}, {"HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "1"}, dict(KUBE, verified=False, cas=set()),
                 id="HELM_KUBEINSECURE_SKIP_TLS_VERIFY-1"),
    pytest.param({}, {"HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "yes"}, KUBE, id="not-a-Go-bool-is-false"),
    pytest.param({"ca_cert": "OTHER_CA"}, {}, dict(KUBE, cas={"matih other CA"}), id="ca_cert-replaces-the-CA"),
    pytest.param({}, {"HELM_KUBECAFILE": "OTHER_CA"}, dict(KUBE, cas={"matih other CA"}), id="HELM_KUBECAFILE"),
    pytest.param({"context": "other", "ca_cert": "OTHER_CA"}, {},
                 dict(server="https://other.test", tls_server_name=None, headers=[OTHER_TOKEN], verified=True,
                      cas={"matih other CA"}), id="ca_cert-clears-insecure"),
    pytest.param({}, {"HELM_KUBEASUSER": "bob", "HELM_KUBEASGROUPS": ",devs,ops,"},
                 dict(KUBE, headers=KUBE["headers"] + [("Impersonate-User", "bob"), ("Impersonate-Group", "devs"),
                                                       ("Impersonate-Group", "ops")]), id="HELM_KUBEASUSER-and-GROUPS"),
])
def test_selection_and_helm_overrides(tmp_path, certs, two_contexts, params, variables, expected):
    params = {key: certs.other_ca_file if value == "OTHER_CA" else value for key, value in params.items()}
    variables = {key: certs.other_ca_file if value == "OTHER_CA" else value for key, value in variables.items()}
    assert observe(connect(tmp_path, two_contexts, params, **variables).api_access()) == expected


def test_host_alone_needs_no_kubeconfig(tmp_path, certs):
    access = connect(tmp_path, None, {"host": "https://h.test:6443", "api_key": "api", "ca_cert": certs.ca_file}).api_access()
    assert observe(access) == dict(server="https://h.test:6443", tls_server_name=None, verified=True,
                                   headers=[("Authorization", "Bearer api")], cas={"matih test CA"})
    assert access.describe() == "https://h.test:6443 (host override, no kubeconfig context)"


# --- what client-go refuses, refused here with the fix named ---------------------------------------

@pytest.mark.parametrize("config, params, variables, kind, fragments", [
    pytest.param(single(**{"certificate-authority-data": b64("ca"), "insecure-skip-tls-verify": True}), {}, {},
                 INVALID_KUBECONFIG, ["certificate authority and insecure-skip-tls-verify", "drop the CA"],
                 id="ca-and-insecure-in-kubeconfig"),
    pytest.param(single(), {"ca_cert": "CA_FILE", "validate_certs": False}, {}, INVALID_KUBECONFIG,
                 ["certificate authority and insecure-skip-tls-verify", "validate_certs: true"],
                 id="ca_cert-and-validate_certs-false"),
    pytest.param(single(user={"token": "t", "username": "ann", "password": "pw"}), {}, {}, INVALID_KUBECONFIG,
                 ["both a token", "one authentication method"], id="token-and-basic"),
    pytest.param(single(user={"username": "ann", "password": "pw"}), {"api_key": "api"}, {}, INVALID_KUBECONFIG,
                 ["api_key or HELM_KUBETOKEN count", "drop one"], id="api_key-over-a-basic-auth-user"),
    pytest.param(single(user={"client-certificate": "CLIENT_CERT", "client-certificate-data": b64("x"),
                              "client-key": "CLIENT_KEY"}), {}, {}, INVALID_KUBECONFIG,
                 ["both client-certificate and client-certificate-data", "keep one"], id="cert-file-and-data"),
    pytest.param(single(user={"client-certificate": "CLIENT_CERT"}), {}, {}, INVALID_KUBECONFIG,
                 ["no client-key or client-key-data"], id="cert-without-key"),
    pytest.param(single(user={"client-certificate": "/nonexistent/c.pem", "client-key": "CLIENT_KEY"}), {}, {},
                 INVALID_KUBECONFIG, ["client-certificate /nonexistent/c.pem of user 'u' cannot be read"],
                 id="unreadable-client-certificate"),
    pytest.param(single(**{"certificate-authority": "/nonexistent/ca.pem"}), {}, {}, INVALID_KUBECONFIG,
                 ["certificate-authority /nonexistent/ca.pem of cluster 'k' cannot be read"], id="unreadable-ca"),
    pytest.param(single(**{"certificate-authority": "CA_FILE", "certificate-authority-data": b64("x")}), {}, {},
                 INVALID_KUBECONFIG, ["both certificate-authority and certificate-authority-data"], id="ca-file-and-data"),
    pytest.param(single(), {}, {"HELM_KUBEASGROUPS": "devs"}, INVALID_KUBECONFIG,
                 ["without a user to impersonate", "HELM_KUBEASUSER"], id="groups-without-user"),
    pytest.param(single(), {"context": "nope"}, {}, INVALID_KUBECONFIG,
                 ["context 'nope' is not in kubeconfig", "(contexts: c)", "set the context option"], id="unknown-context"),
    pytest.param(dict(single(), **{"current-context": "gone"}), {}, {}, INVALID_KUBECONFIG,
                 ["current-context 'gone' is not among the contexts (c)"], id="unknown-current-context"),
    pytest.param(dict(single(), clusters=single()["clusters"] * 2), {}, {}, INVALID_KUBECONFIG,
                 ["lists clusters 'k' twice"], id="duplicate-name-in-a-file"),
    pytest.param(single("ftp://k.test"), {}, {}, INVALID_KUBECONFIG, ["is not an https:// (or http://) URL"],
                 id="server-scheme"),
    pytest.param(single("k.test:6443"), {}, {}, INVALID_KUBECONFIG, ["no https:// in front", "https://k.test:6443"],
                 id="server-without-scheme"),
    pytest.param(single(**{"proxy-url": "ftp://proxy:21"}), {}, {}, INVALID_KUBECONFIG,
                 ["proxy-url ftp://proxy:21", "not http, https or socks5"], id="proxy-scheme"),
    pytest.param(single(**{"certificate-authority-data": "not base64!"}), {}, {}, INVALID_KUBECONFIG,
                 ["certificate-authority-data of cluster 'k' is not base64"], id="bad-base64"),
    pytest.param(single(user={"exec": {"apiVersion": V1, "command": "x"}}), {}, {}, INVALID_KUBECONFIG,
                 ["sets no interactiveMode", "interactiveMode: Never"], id="exec-v1-without-interactiveMode"),
    pytest.param(single(user={"exec": {"apiVersion": V1BETA1, "command": "", "env": [{"value": "v"}]}}), {}, {},
                 INVALID_KUBECONFIG, ["has no command", "exec.env entry of user 'u' has no name"], id="exec-fields"),
    pytest.param(kubeconfig(), {}, {}, NO_API_SERVER, ["no kubeconfig", "not running in a pod"], id="nothing"),
    pytest.param(single(""), {}, {}, NO_API_SERVER, ["cluster 'k' of context 'c' has no server URL", "host option"],
                 id="cluster-without-server"),
    pytest.param(dict(single(), clusters=[]), {}, {}, NO_API_SERVER,
                 ["context 'c' names cluster 'k', which kubeconfig", "(clusters: none)"], id="context-without-its-cluster"),
])
def test_what_client_go_refuses(tmp_path, certs, config, params, variables, kind, fragments):
    replace = {"CA_FILE": certs.ca_file, "CLIENT_CERT": certs.client_cert_file, "CLIENT_KEY": certs.client_key_file}
    config = json.loads(json.dumps(config), object_hook=lambda item: {
        key: replace.get(value, value) if isinstance(value, str) else value for key, value in item.items()})
    params = {key: replace.get(value, value) for key, value in params.items()}
    made = connect(tmp_path, config if config != kubeconfig() else None, params, **variables)
    assert made.api_problem is None  # not a missing feature: Helm fails on it too
    with pytest.raises(KubeError) as caught:
        made.api_access()
    assert caught.value.kind == kind
    for fragment in fragments:
        assert fragment in caught.value.message
    assert made.helm_flags() == connection_flags(params, made.kubeconfig_path)  # Helm still gets its flags


def test_an_unreadable_kubeconfig_variable_file_is_named(tmp_path):
    (tmp_path / "bad.yaml").write_text("clusters: [unclosed\n")
    made = Connection.from_params({}, None, environment(tmp_path, KUBECONFIG=str(tmp_path / "bad.yaml")))
    with pytest.raises(KubeError) as caught:
        made.api_access()
    assert caught.value.kind == INVALID_KUBECONFIG and "bad.yaml is not valid YAML" in caught.value.message


# --- relative paths, data and files ------------------------------------------------------------------

def test_relative_paths_are_relative_to_their_own_file(tmp_path, certs):
    # the cluster comes from one file, the user from another: each file's paths from its own directory
    (tmp_path / "one" / "pki").mkdir(parents=True)
    (tmp_path / "one" / "pki" / "ca.pem").write_text(certs.ca)
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "token").write_text("file-token\n")
    first = write(tmp_path / "one" / "config", kubeconfig(
        {"k": {"server": "https://k.test", "certificate-authority": "pki/ca.pem"}}, contexts={"c": {"cluster": "k",
                                                                                              "user": "u"}}, current="c"))
    second = write(tmp_path / "two" / "config", kubeconfig(users={"u": {"tokenFile": "token"}}))
    made = Connection.from_params({}, None, environment(tmp_path, KUBECONFIG=first + os.pathsep + second))
    assert observe(made.api_access())["cas"] == {"matih test CA"}
    assert made.api_access().headers() == [("Authorization", "Bearer file-token")]


@pytest.mark.parametrize("user, cluster", [
    pytest.param({"client-certificate-data": "CERT_DATA", "client-key-data": "KEY_DATA"},
                 {"certificate-authority-data": "CA_DATA"}, id="data"),
    pytest.param({"client-certificate": "CERT_FILE", "client-key": "KEY_FILE"}, {"certificate-authority": "CA_FILE"},
                 id="files"),
    pytest.param({"client-certificate-data": "CERT_DATA", "client-key": "KEY_FILE"}, {"certificate-authority": "CA_FILE"},
                 id="mixed"),
])
def test_client_certificate_and_ca_from_data_or_files(tmp_path, certs, tls_server, user, cluster):
    values = {"CERT_DATA": b64(certs.client_cert), "KEY_DATA": b64(certs.client_key), "CA_DATA": b64(certs.ca),
              "CERT_FILE": certs.client_cert_file, "KEY_FILE": certs.client_key_file, "CA_FILE": certs.ca_file}
    user = {key: values[value] for key, value in user.items()}
    cluster = {key: values[value] for key, value in cluster.items()}
    access = connect(tmp_path, single(tls_server, user, **dict(cluster, **{"tls-server-name": "kube.test"}))).api_access()
    assert get(access) == {"client": "alice", "authorization": None, "groups": []}
    # data goes to a private file only while it loads
    assert not list(tmp_path.glob("matih-helm-*"))


@pytest.mark.parametrize("cluster, params, works", [
    pytest.param({"certificate-authority": "CA_FILE", "tls-server-name": "kube.test"}, {}, True, id="tls-server-name"),
    pytest.param({"certificate-authority": "CA_FILE"}, {}, False, id="the-url-host-is-checked"),
    pytest.param({"certificate-authority": "OTHER_CA", "tls-server-name": "kube.test"}, {}, False, id="another-ca"),
    pytest.param({"certificate-authority": "CA_FILE"}, {"validate_certs": False}, True, id="insecure"),
])
def test_tls_server_verification(tmp_path, certs, tls_server, cluster, params, works):
    cluster = {key: {"CA_FILE": certs.ca_file, "OTHER_CA": certs.other_ca_file}.get(value, value)
               for key, value in cluster.items()}
    access = connect(tmp_path, single(tls_server, {"token": "t"}, **cluster), params).api_access()
    if works:
        assert get(access)["authorization"] == "Bearer t"
    else:
        with pytest.raises(ssl.SSLCertVerificationError):
            get(access)


# --- token files, basic auth, impersonation ----------------------------------------------------------

def test_token_file_is_read_again_when_it_changes(tmp_path):
    token = tmp_path / "token"
    token.write_text("first\n")
    access = connect(tmp_path, single(user={"tokenFile": str(token)})).api_access()
    assert access.headers() == [("Authorization", "Bearer first")]
    token.write_text("second-and-longer\n")
    assert access.headers() == [("Authorization", "Bearer second-and-longer")]
    assert access.invalidate() is False  # read again: nothing newer than what was sent
    token.write_text("third-and-longest\n")
    assert access.invalidate() is True
    token.unlink()  # a failed read keeps the last token
    assert access.headers() == [("Authorization", "Bearer third-and-longest")]


@pytest.mark.parametrize("user, params, authorization", [
    pytest.param({"tokenFile": "TOKEN_FILE", "token": "inline"}, {}, "Bearer from-file", id="file-wins-over-token"),
    pytest.param({"tokenFile": "/nonexistent", "token": "inline"}, {}, "Bearer inline", id="token-is-the-fallback"),
    # Helm's --kube-token does not clear a kubeconfig tokenFile (client-go merges non-empty values only)
    pytest.param({"tokenFile": "TOKEN_FILE"}, {"api_key": "api"}, "Bearer from-file", id="api_key-under-a-token-file"),
    pytest.param({"password": "pw"}, {}, None, id="password-alone-is-no-credential"),
    pytest.param({"token": "t", "client-certificate": "CERT", "client-key": "KEY"}, {}, "Bearer t",
                 id="token-and-client-certificate"),
])
def test_credentials(tmp_path, certs, user, params, authorization):
    (tmp_path / "token").write_text("from-file")
    values = {"TOKEN_FILE": str(tmp_path / "token"), "CERT": certs.client_cert_file, "KEY": certs.client_key_file}
    user = {key: values.get(value, value) for key, value in user.items()}
    headers = connect(tmp_path, single(user=user), params).api_access().headers()
    assert headers == ([("Authorization", authorization)] if authorization else [])


def test_a_token_file_that_cannot_be_read_without_a_token_is_refused(tmp_path):
    with pytest.raises(KubeError) as caught:
        connect(tmp_path, single(user={"tokenFile": str(tmp_path / "absent")})).api_access()
    assert caught.value.kind == INVALID_KUBECONFIG and "absent cannot be read" in caught.value.message


@pytest.mark.parametrize("user, variables, headers", [
    pytest.param({"as": "bob", "as-uid": "42", "as-groups": ["devs", "ops"],
                  "as-user-extra": {"reason": ["audit", "fix"], "scopes/x": "one"}}, {},
                 [("Impersonate-User", "bob"), ("Impersonate-Uid", "42"), ("Impersonate-Group", "devs"),
                  ("Impersonate-Group", "ops"), ("Impersonate-Extra-reason", "audit"), ("Impersonate-Extra-reason", "fix"),
                  ("Impersonate-Extra-scopes%2Fx", "one")], id="kubeconfig"),
    pytest.param({"as": "bob", "as-groups": ["devs"]}, {"HELM_KUBEASUSER": "carol", "HELM_KUBEASGROUPS": "a,b"},
                 [("Impersonate-User", "carol"), ("Impersonate-Group", "a"), ("Impersonate-Group", "b")],
                 id="helm-variables-win"),
    pytest.param({}, {"HELM_KUBEASUSER": "carol"}, [("Impersonate-User", "carol")], id="helm-user-only"),
])
def test_impersonation_headers(tmp_path, user, variables, headers):
    access = connect(tmp_path, single(user=dict(user, token="t")), **variables).api_access()
    assert access.headers() == [("Authorization", "Bearer t")] + headers


def test_impersonated_groups_reach_the_server_as_repeated_headers(tmp_path, certs, tls_server):
    access = connect(tmp_path, single(tls_server, {"token": "t", "as": "bob", "as-groups": ["devs", "ops"]},
                                      **{"certificate-authority": certs.ca_file, "tls-server-name": "kube.test"})
                     ).api_access()
    assert get(access)["groups"] == ["devs", "ops"]


# --- proxies ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("server, proxy_url, variables, expected", [
    pytest.param("https://k.test", "http://proxy:3128", {"HTTPS_PROXY": "http://env:1"}, "http://proxy:3128",
                 id="proxy-url-beats-the-environment"),
    pytest.param("https://k.test", "http://proxy:3128", {"NO_PROXY": "*"}, "http://proxy:3128",
                 id="NO_PROXY-is-for-the-environment-only"),
    pytest.param("https://k.test", "https://u:p@proxy", {}, "https://u:p@proxy:443", id="proxy-url-userinfo-kept"),
    pytest.param("https://k.test", None, {"HTTPS_PROXY": "http://env:8080"}, "http://env:8080", id="HTTPS_PROXY"),
    pytest.param("https://k.test", None, {"https_proxy": "env:8080"}, "http://env:8080", id="no-scheme-is-http"),
    pytest.param("https://k.test", None, {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1"},
                 "http://upper:1", id="uppercase-first"),
    pytest.param("https://k.test", None, {"HTTP_PROXY": "http://plain:1"}, None, id="HTTP_PROXY-not-for-https"),
    pytest.param("http://k.test", None, {"HTTP_PROXY": "http://plain:1"}, "http://plain:1", id="HTTP_PROXY-for-http"),
    pytest.param("https://localhost:6443", None, {"HTTPS_PROXY": "http://env:1"}, None, id="localhost-never"),
    pytest.param("https://127.0.0.5", None, {"HTTPS_PROXY": "http://env:1"}, None, id="loopback-never"),
    pytest.param("https://k.test", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "k.test"}, None, id="host"),
    pytest.param("https://api.k.test", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "k.test"}, None,
                 id="domain-matches-subdomains"),
    pytest.param("https://notk.test", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "k.test"}, "http://env:1",
                 id="not-a-suffix-of-the-name"),
    pytest.param("https://k.test", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": ".k.test"}, "http://env:1",
                 id="leading-dot-not-the-domain-itself"),
    pytest.param("https://a.k.test", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*.k.test"}, None,
                 id="star-dot-subdomains"),
    pytest.param("https://k.test", None, {"HTTPS_PROXY": "http://env:1", "no_proxy": "other, K.TEST "}, None,
                 id="lowercase-variable-list-case-and-spaces"),
    pytest.param("https://k.test:6443", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "k.test:6443"}, None,
                 id="port-matches"),
    pytest.param("https://k.test", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "k.test:6443"}, "http://env:1",
                 id="port-differs-443"),
    pytest.param("https://10.1.2.3:6443", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "10.1.2.3"}, None, id="ip"),
    pytest.param("https://10.1.2.3:6443", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "10.0.0.0/8"}, None,
                 id="cidr"),
    pytest.param("https://11.1.2.3:6443", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "10.0.0.0/8"},
                 "http://env:1", id="outside-the-cidr"),
    pytest.param("https://[fd00::1]:6443", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "[fd00::1]:6443"}, None,
                 id="ipv6-with-port"),
    pytest.param("https://k.test", None, {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"}, None, id="star"),
])
def test_proxy_for(server, proxy_url, variables, expected):
    assert proxy_for(server, proxy_url, variables) == expected


def test_proxy_reaches_the_access(tmp_path):
    made = connect(tmp_path, single(**{"proxy-url": "http://proxy.corp:3128"}), NO_PROXY="k.test")
    assert made.api_access().proxy_url == "http://proxy.corp:3128"
    assert connect(tmp_path, single(), HTTPS_PROXY="http://env:8080").api_access().proxy_url == "http://env:8080"


# --- plain http: never a credential ------------------------------------------------------------------

def test_http_gets_no_credentials(tmp_path, certs):
    counter = tmp_path / "runs"
    plugin = {"apiVersion": V1BETA1, "command": "sh", "args": ["-c", "echo run >> %s; exit 1" % counter]}
    for user in ({"token": "t", "as": "bob"}, {"username": "ann", "password": "pw"}, {"exec": plugin},
                 {"client-certificate": certs.client_cert_file, "client-key": certs.client_key_file},
                 {"auth-provider": {"name": "oidc"}}):
        made = connect(tmp_path, single("http://k.test:8080", user))
        assert made.api_problem is None
        access = made.api_access()
        assert (access.server, access.headers(), access.ssl_context()) == ("http://k.test:8080", [], None)
        assert access.invalidate() is False
    assert not counter.exists()  # the plugin never ran
    for host in ("http://h.test", "HTTP://h.test", "Http://h.test/"):  # urlsplit lower-cases the scheme: so must we
        access = connect(tmp_path, None, {"host": host, "api_key": "api"}).api_access()
        assert (access.server, access.headers(), access.ssl_context()) == ("http://h.test", [], None)


# --- exec credential plugins ---------------------------------------------------------------------------

PLUGIN = r'''
import json, os, sys
with open(os.environ["COUNTER"], "a") as counter:
    counter.write("run\n")
request = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
with open(os.environ["SEEN"], "w") as seen:
    json.dump({"argv": sys.argv[1:], "request": request, "stdin_is_terminal": sys.stdin.isatty(),
               "stdin": sys.stdin.read(), "env": {name: os.environ.get(name) for name in ("FROM_ENTRY", "FROM_TASK")}},
              seen)
mode = os.environ.get("MODE", "token")
api_version = os.environ.get("ANSWER_VERSION") or request["apiVersion"]
status = {}
if mode == "token":
    status["token"] = "exec-" + "-".join(sys.argv[1:])
elif mode == "cert":
    status["clientCertificateData"] = open(os.environ["CERT"]).read()
    status["clientKeyData"] = open(os.environ["KEY"]).read()
elif mode == "fail":
    sys.stderr.write("first line\nlogin expired: run aws sso login\n")
    sys.exit(3)
elif mode == "garbage":
    print("Welcome! not JSON")
    sys.exit(0)
elif mode == "half":
    status["clientCertificateData"] = "cert only"
if os.environ.get("EXPIRES"):
    status["expirationTimestamp"] = os.environ["EXPIRES"]
print(json.dumps({"apiVersion": api_version, "kind": "ExecCredential", "status": status}))
'''


@pytest.fixture
def plugin(tmp_path):
    """A credential plugin: tmp_path/bin/kube-login (a shell wrapper, so no shebang length limit),
    counting its runs in tmp_path/runs and recording what it got in tmp_path/seen.json."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "plugin.py").write_text(PLUGIN)
    wrapper = tmp_path / "bin" / "kube-login"
    wrapper.write_text('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (sys.executable, tmp_path / "plugin.py"))
    wrapper.chmod(0o755)

    def exec_config(api_version=V1, mode="token", args=("a", "b"), command=str(wrapper), **extra):
        env = [{"name": "COUNTER", "value": str(tmp_path / "runs")}, {"name": "SEEN", "value": str(tmp_path / "seen.json")},
               {"name": "MODE", "value": mode}, {"name": "FROM_ENTRY", "value": "entry"}]
        env += [{"name": name, "value": value} for name, value in extra.pop("env", {}).items()]
        config = dict(apiVersion=api_version, command=command, args=list(args), env=env, interactiveMode="Never")
        config.update(extra)
        return config
    return exec_config


def runs(tmp_path):
    path = tmp_path / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


def seen(tmp_path):
    return json.loads((tmp_path / "seen.json").read_text())


@pytest.mark.parametrize("api_version", [V1, V1BETA1])
def test_exec_plugin_token(tmp_path, plugin, api_version):
    made = connect(tmp_path, single(user={"exec": plugin(api_version)}), FROM_TASK="task")
    assert made.api_problem is None
    assert made.api_access().headers() == [("Authorization", "Bearer exec-a-b")]
    assert seen(tmp_path) == {"argv": ["a", "b"], "stdin_is_terminal": False, "stdin": "",
                              "env": {"FROM_ENTRY": "entry", "FROM_TASK": "task"},
                              "request": {"apiVersion": api_version, "kind": "ExecCredential",
                                          "spec": {"interactive": False}}}


def test_exec_plugin_gets_the_cluster_when_it_asks(tmp_path, plugin, certs):
    extension = {"audience": "kube", "when": 1}
    cluster = {"certificate-authority": certs.ca_file, "tls-server-name": "kube.test", "proxy-url": "http://p:3128",
               "extensions": [{"name": "client.authentication.k8s.io/exec", "extension": extension},
                              {"name": "other", "extension": {"x": 1}}]}
    config = single("https://k.test:6443/", {"exec": plugin(provideClusterInfo=True)}, **cluster)
    connect(tmp_path, config).api_access().headers()
    assert seen(tmp_path)["request"]["spec"] == {"interactive": False, "cluster": {
        "server": "https://k.test:6443", "tls-server-name": "kube.test", "proxy-url": "http://p:3128",
        "certificate-authority-data": b64(certs.ca), "config": extension}}


def test_exec_plugin_client_certificate(tmp_path, plugin, certs, tls_server):
    user = {"exec": plugin(mode="cert", env={"CERT": certs.client_cert_file, "KEY": certs.client_key_file})}
    access = connect(tmp_path, single(tls_server, user, **{"certificate-authority": certs.ca_file,
                                                           "tls-server-name": "kube.test"})).api_access()
    assert access.headers() == []
    assert get(access) == {"client": "alice", "authorization": None, "groups": []}
    assert runs(tmp_path) == 1 and not list(tmp_path.glob("matih-helm-*"))


def _timestamp(delta):
    return (datetime.datetime.now(datetime.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")


@pytest.mark.parametrize("expires, runs_for_two_reads", [
    pytest.param(None, 1, id="no-expiry-for-the-life-of-the-process"),
    pytest.param(_timestamp(datetime.timedelta(hours=1)), 1, id="future-expiry-reused"),
    pytest.param(_timestamp(-datetime.timedelta(minutes=1)), 2, id="past-expiry-runs-again"),
    pytest.param("2999-01-01T00:00:00+02:00", 1, id="offset"),
])
def test_exec_credential_is_reused_until_it_expires(tmp_path, plugin, expires, runs_for_two_reads):
    user = {"exec": plugin(env={"EXPIRES": expires} if expires else {})}
    access = connect(tmp_path, single(user=user)).api_access()
    assert access.headers() == access.headers() == [("Authorization", "Bearer exec-a-b")]
    assert runs(tmp_path) == runs_for_two_reads
    # another connection of the same process with the same plugin and cluster shares the credential
    connect(tmp_path, single(user=user)).api_access().headers()
    assert runs(tmp_path) == runs_for_two_reads + (runs_for_two_reads - 1)


def test_invalidate_runs_the_plugin_again(tmp_path, plugin):
    access = connect(tmp_path, single(user={"exec": plugin()})).api_access()
    assert access.invalidate() is True  # a plugin can always be asked anew
    access.headers()
    assert access.invalidate() is True
    assert access.headers() == [("Authorization", "Bearer exec-a-b")]
    assert runs(tmp_path) == 2


def test_invalidate_keeps_the_credential_another_thread_fetched(tmp_path, plugin):
    access = connect(tmp_path, single(user={"exec": plugin()})).api_access()
    access.headers()  # this thread sent the first credential

    def refused_then_refreshed():  # another thread's request was refused: it fetches a second one
        access.headers()
        assert access.invalidate() is True
        access.headers()
    other = threading.Thread(target=refused_then_refreshed)
    other.start()
    other.join()
    assert runs(tmp_path) == 2
    # this thread's refused request must not throw away the credential the other thread just fetched
    assert access.invalidate() is True
    access.headers()
    assert runs(tmp_path) == 2


@pytest.mark.parametrize("overrides, fragments", [
    pytest.param(dict(command="no-such-kube-login", installHint="Install it: brew install \x1b[1mkube-login\x1b[0m"),
                 ["exec plugin no-such-kube-login, which was not found on PATH", "installHint says: Install it: brew "
                  "install [1mkube-login[0m"], id="not-found-with-hint"),
    pytest.param(dict(command="./missing/login"), ["missing/login, which was not found;"], id="missing-path"),
    pytest.param(dict(mode="fail", installHint="see the wiki"),
                 ["exited 3 (login expired: run aws sso login)", "installHint says: see the wiki"], id="nonzero-exit"),
    pytest.param(dict(mode="garbage"), ["printed no usable credential: its output is not JSON"], id="not-json"),
    pytest.param(dict(mode="half"), ["certificate or key without the other"], id="half-a-certificate"),
    pytest.param(dict(mode="empty"), ["neither a token nor a certificate and key"], id="empty-status"),
    pytest.param(dict(env={"ANSWER_VERSION": V1BETA1}),
                 ["answered with %s ExecCredential instead of %s" % (V1BETA1, V1)], id="other-api-version"),
    pytest.param(dict(env={"EXPIRES": "tomorrow"}), ["expirationTimestamp 'tomorrow' is not an RFC 3339 time"],
                 id="bad-expiry"),
])
def test_exec_plugin_failures_name_the_plugin(tmp_path, plugin, overrides, fragments):
    made = connect(tmp_path, single(user={"exec": plugin(**overrides)}))
    with pytest.raises(KubeError) as caught:
        made.api_access().headers()
    assert caught.value.kind == ACCESS_DENIED and "kubeconfig user 'u'" in caught.value.message
    for fragment in fragments:
        assert fragment in caught.value.message
    assert "first line" not in caught.value.message and "\x1b" not in caught.value.message


def test_exec_command_on_path_and_relative_to_the_kubeconfig(tmp_path, plugin):
    on_path = connect(tmp_path, single(user={"exec": plugin(command="kube-login")}), PATH=str(tmp_path / "bin"))
    assert on_path.api_access().headers() == [("Authorization", "Bearer exec-a-b")]
    # a path with a separator is relative to the kubeconfig file's directory (tmp_path/kube)
    relative = connect(tmp_path, single(user={"exec": plugin(command="../bin/kube-login", args=["rel"])}), PATH="")
    assert relative.api_access().headers() == [("Authorization", "Bearer exec-rel")]


@pytest.mark.parametrize("user, params", [
    pytest.param({"token": "inline"}, {}, id="kubeconfig-token"),
    pytest.param({}, {"api_key": "inline"}, id="api_key"),
])
def test_a_token_overrides_the_exec_plugin(tmp_path, plugin, user, params):
    # client-go does not run the plugin when a token is there ("kubectl --token" works without it)
    made = connect(tmp_path, single(user=dict(user, exec=plugin(api_version="client.authentication.k8s.io/v1alpha1"))),
                   params)
    assert made.api_problem is None
    assert made.api_access().headers() == [("Authorization", "Bearer inline")]
    assert runs(tmp_path) == 0


def test_exec_credentials_are_masked_in_module_output(tmp_path, plugin):
    module = make_module(kubeconfig=write(tmp_path / "kube" / "config", single(user={"exec": plugin()})))
    Connection.from_module(module, environment(tmp_path)).api_access().headers()
    assert "exec-a-b" in module.no_log_values


# --- what only Helm can use: api_problem -------------------------------------------------------------

@pytest.mark.parametrize("user, cluster, variables, fragments", [
    pytest.param({"auth-provider": {"name": "oidc", "config": {"id-token": "x"}}}, {}, {},
                 ["user 'u' authenticates with auth-provider oidc (deprecated)", "Helm still connects with it",
                  "for the drift checks, which read only through the API"], id="auth-provider"),
    pytest.param({"token": "t", "auth-provider": {"name": "gcp"}}, {}, {}, ["auth-provider gcp"],
                 id="auth-provider-wins-over-a-token"),
    pytest.param({"exec": {"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}}, {}, {},
                 ["speaks client.authentication.k8s.io/v1alpha1"], id="exec-v1alpha1"),
    pytest.param({"exec": {"apiVersion": "example.com/v9", "command": "x", "interactiveMode": "Never"}}, {}, {},
                 ["speaks example.com/v9"], id="exec-unknown-api"),
    pytest.param({"exec": {"apiVersion": V1, "command": "x", "interactiveMode": "Always"}}, {}, {},
                 ["needs a terminal (interactiveMode: Always)", "set interactiveMode: IfAvailable or Never"],
                 id="exec-interactive-always"),
    pytest.param({"username": "ann", "password": "p:w"}, {}, {},
                 ["user 'u' authenticates with a username and password (basic auth", "no longer accepts"],
                 id="basic-auth"),
    pytest.param({"username": "ann"}, {}, {}, ["(basic auth"], id="basic-without-password"),
    pytest.param({"token": "t"}, {"proxy-url": "https://proxy:3128"}, {},
                 ["through the https proxy https://proxy:3128", "use an HTTP proxy"], id="https-proxy-url"),
    pytest.param({"token": "t"}, {"proxy-url": "socks5://proxy:1080"}, {},
                 ["through the socks5 proxy socks5://proxy:1080", "use an HTTP proxy"], id="socks-proxy-url"),
    pytest.param({"token": "t"}, {}, {"HTTPS_PROXY": "socks5://u:p@proxy"},
                 ["through the socks5 proxy socks5://proxy:1080"], id="socks-proxy-from-the-environment"),
])
def test_features_only_helm_has_give_an_api_problem(tmp_path, user, cluster, variables, fragments):
    made = connect(tmp_path, single(user=user, **cluster), {"context": "c"}, **variables)
    problem = made.api_problem
    for fragment in fragments:
        assert fragment in problem
    with pytest.raises(KubeError) as caught:
        made.api_access()
    assert (caught.value.kind, caught.value.message) == (UNSUPPORTED_KUBECONFIG, problem)
    assert made.helm_flags()[2:] == ["--kube-context", "c"]  # Helm is unaffected
    assert "u:p" not in problem


def test_a_yaml_kubeconfig_without_pyyaml_is_an_api_problem(tmp_path, monkeypatch):
    (tmp_path / "config").write_text("clusters: []\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    made = Connection.from_params({}, None, environment(tmp_path, KUBECONFIG=str(tmp_path / "config")))
    assert "is YAML and PyYAML is not installed" in made.api_problem and "pip install pyyaml" in made.api_problem


# --- in-cluster configuration ----------------------------------------------------------------------------

@pytest.fixture
def pod(tmp_path, certs, monkeypatch):
    """A service account mount with a token and the CA, where connection.py looks for it."""
    mount = tmp_path / "serviceaccount"
    mount.mkdir()
    (mount / "token").write_text("sa-token\n")
    (mount / "ca.crt").write_text(certs.ca)
    monkeypatch.setattr(connection, "IN_CLUSTER_TOKEN_FILE", str(mount / "token"))
    monkeypatch.setattr(connection, "IN_CLUSTER_CA_FILE", str(mount / "ca.crt"))
    return mount


IN_POD = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}


@pytest.mark.parametrize("config, params, variables, expected", [
    pytest.param(None, {}, IN_POD, ("https://10.0.0.1:443", "Bearer sa-token", {"matih test CA"}), id="pod"),
    pytest.param(None, {}, dict(IN_POD, KUBERNETES_SERVICE_HOST="fd00::1"),
                 ("https://[fd00::1]:443", "Bearer sa-token", {"matih test CA"}), id="ipv6"),
    pytest.param(None, {"api_key": "api"}, IN_POD, ("https://10.0.0.1:443", "Bearer api", {"matih test CA"}),
                 id="api_key-replaces-the-service-account"),
    pytest.param(None, {}, dict(IN_POD, HELM_KUBECAFILE="OTHER_CA"),
                 ("https://10.0.0.1:443", "Bearer sa-token", {"matih other CA"}), id="ca-override"),
    pytest.param(kubeconfig(users={"u": {}}, contexts={"c": {"user": "u"}}, current="c"), {}, IN_POD,
                 ("https://10.0.0.1:443", "Bearer sa-token", {"matih test CA"}), id="kubeconfig-without-cluster"),
    pytest.param(single("https://k.test", {"token": "t"}), {}, IN_POD, ("https://k.test", "Bearer t", set()),
                 id="a-kubeconfig-server-wins"),
    pytest.param(None, {}, dict(IN_POD, HTTPS_PROXY="socks5://proxy"), UNSUPPORTED_KUBECONFIG, id="socks-proxy"),
    pytest.param(None, {}, dict(IN_POD, HTTPS_PROXY="http://proxy", NO_PROXY="10.0.0.0/8"),
                 ("https://10.0.0.1:443", "Bearer sa-token", {"matih test CA"}), id="no-proxy-for-the-service-ip"),
    pytest.param(None, {}, {}, NO_API_SERVER, id="not-in-a-pod"),
    pytest.param(None, {}, dict(IN_POD, HELM_KUBEASUSER="bob"), NO_API_SERVER, id="impersonation-is-no-default"),
])
def test_in_cluster_config(tmp_path, certs, pod, config, params, variables, expected):
    variables = {key: certs.other_ca_file if value == "OTHER_CA" else value for key, value in variables.items()}
    made = connect(tmp_path, config, params, **variables)
    if expected == UNSUPPORTED_KUBECONFIG:
        assert "through the socks5 proxy socks5://proxy:1080" in made.api_problem
        return
    if expected == NO_API_SERVER:
        with pytest.raises(KubeError) as caught:
            made.api_access()
        assert caught.value.kind == NO_API_SERVER and "set the kubeconfig, context or host option" in caught.value.message
        return
    access = made.api_access()
    assert (access.server, access.headers()[0][1], loaded_cas(access), access.proxy_url) == expected + (None,)


def test_in_cluster_token_is_read_again_when_rotated(tmp_path, pod):
    access = connect(tmp_path, None, **IN_POD).api_access()
    assert access.describe() == "https://10.0.0.1:443 (in-cluster service account)"
    assert access.headers() == [("Authorization", "Bearer sa-token")]
    (pod / "token").write_text("rotated-sa-token\n")
    assert access.headers() == [("Authorization", "Bearer rotated-sa-token")]


def test_no_token_mount_is_no_pod(tmp_path, pod):
    (pod / "token").unlink()
    with pytest.raises(KubeError) as caught:
        connect(tmp_path, None, **IN_POD).api_access()
    assert caught.value.kind == NO_API_SERVER


def test_api_access_is_built_once(tmp_path):
    made = connect(tmp_path, single(user={"token": "t"}))
    assert made.api_access() is made.api_access()


# --- the kubeconfig option (moved from helm_client with resolve_kubeconfig) --------------------------------

def full_kubeconfig(**user):
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": user}, {"name": "v"}],
    }


def test_inline_kubeconfig_is_private_and_masked():
    config = full_kubeconfig(token=SECRET, **{"client-key-data": "a2V5"})
    module = make_module(kubeconfig=config)
    made = Connection.from_module(module)
    flags = made.helm_flags()
    path = flags[flags.index("--kubeconfig") + 1]
    assert path == made.kubeconfig_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        assert json.load(handle) == config
    assert {SECRET, "a2V5"} <= module.no_log_values
    assert kubeconfig_secrets(config) == [SECRET, "a2V5"]


OIDC_PROVIDER = {"name": "oidc", "config": {
    "client-id": "kubernetes", "client-secret": "oidc-client-secret", "id-token": "eyJ.id.token",
    "refresh-token": "oidc-refresh", "idp-issuer-url": "https://dex.example.com"}}
GCP_PROVIDER = {"name": "gcp", "config": {"access-token": "ya29.access", "cmd-path": "/usr/bin/gcloud",
                                          "expiry": "2025-01-31T10:00:00Z"}}
EKS_EXEC = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws", "args": ["eks", "get-token"],
            "env": [{"name": "AWS_PROFILE", "value": "default"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": "aws-sk"},
                    {"name": "AWS_SESSION_TOKEN", "value": "aws-st"}, {"name": "VAULT_TOKEN", "value": "hvs.vault"},
                    {"name": "GITLAB_PAT", "value": "glpat-x"}, {"name": "DEBUG", "value": "1"},
                    {"name": "EMPTY_TOKEN", "value": ""}, {"value": "nameless"}, "not-a-mapping"]}


@pytest.mark.parametrize("user, secrets", [
    pytest.param({"token": SECRET, "client-key-data": "a2V5"}, [SECRET, "a2V5"], id="token-and-key-data"),
    pytest.param({"username": "admin", "password": "pw"}, ["pw"], id="basic-auth"),
    pytest.param({"client-certificate-data": "Y2VydA=="}, ["Y2VydA=="], id="certificate-data"),
    # client-id and the issuer are not credentials: masking "kubernetes" would blank out Helm's messages
    pytest.param({"auth-provider": OIDC_PROVIDER}, ["oidc-client-secret", "eyJ.id.token", "oidc-refresh"],
                 id="auth-provider-oidc"),
    pytest.param({"auth-provider": GCP_PROVIDER}, ["ya29.access"], id="auth-provider-gcp"),
    # AWS_PROFILE=default and DEBUG=1 stay visible: masking them would hide every namespace "default" and digit 1
    pytest.param({"exec": EKS_EXEC}, ["aws-sk", "aws-st", "hvs.vault", "glpat-x"], id="exec-env"),
    pytest.param({"auth-provider": "oidc", "exec": {"env": "FOO=bar"}}, [], id="malformed-sections"),
    pytest.param({"auth-provider": {"config": None}, "exec": {"env": None}}, [], id="empty-sections"),
    pytest.param({}, [], id="no-credentials"),
])
def test_kubeconfig_secrets(user, secrets):
    assert kubeconfig_secrets(full_kubeconfig(**user)) == secrets


@pytest.mark.parametrize("config", [None, "a string", {"users": "nope"}, {"users": [None, {"user": "x"}]}])
def test_kubeconfig_secrets_of_no_kubeconfig(config):
    assert kubeconfig_secrets(config) == []


def test_inline_kubeconfig_auth_provider_and_exec_credentials_are_masked():
    module = make_module(kubeconfig=full_kubeconfig(**{"auth-provider": OIDC_PROVIDER, "exec": EKS_EXEC}))
    Connection.from_module(module)
    assert {"oidc-client-secret", "eyJ.id.token", "oidc-refresh", "aws-sk", "aws-st", "hvs.vault"} <= module.no_log_values
    assert not {"kubernetes", "default", "1"} & module.no_log_values


def test_kubeconfig_variable_files_are_masked_too(tmp_path):
    listed = write(tmp_path / "listed", full_kubeconfig(token=SECRET))
    module = make_module()
    Connection.from_module(module, environment(tmp_path, KUBECONFIG=listed)).api_access()
    assert SECRET in module.no_log_values


def test_kubeconfig_path_must_exist():
    with pytest.raises(KubeError) as caught:
        Connection.from_module(make_module(kubeconfig="/nonexistent/kubeconfig"))
    assert caught.value.kind == INVALID_KUBECONFIG
    assert "kubeconfig file /nonexistent/kubeconfig does not exist on the managed node" in caught.value.message


@pytest.mark.parametrize("content, fragments", [
    ("{{{ not: yaml ::: [\n", ["is not valid YAML", "set kubeconfig to a kubeconfig file"]),
    ("- a\n- list\n", ["is not a kubeconfig", "got list"]),
    ("foo: bar\n", ["is not a kubeconfig", "keys: foo"]),
    ("", ["is not a kubeconfig", "got nothing"]),
    (json.dumps({k: v for k, v in full_kubeconfig().items() if k != "clusters"}), ["has no clusters", "localhost:8080"]),
])
def test_kubeconfig_file_that_is_no_kubeconfig_is_named(tmp_path, content, fragments):
    path = tmp_path / "config"
    path.write_text(content)
    with pytest.raises(KubeError) as caught:
        Connection.from_module(make_module(kubeconfig=str(path)))
    assert caught.value.kind == INVALID_KUBECONFIG
    assert str(path) in caught.value.message
    for fragment in fragments:
        assert fragment in caught.value.message


ADVICE = (": certificates not verified and verified against a CA at once, which client-go (and so Helm) refuses "
          "before it connects; keep one: validate_certs: true with the CA (an AWX bearer-token credential with Verify "
          "SSL on and its CA), or validate_certs: false without ca_cert")


@pytest.mark.parametrize("params, variables, clause", [
    # AWX's bearer-token credential with Verify SSL off, and a play's module_defaults giving ca_cert
    ({"validate_certs": False, "ca_cert": "/ca.pem"}, {"K8S_AUTH_VERIFY_SSL": "False"},
     "validate_certs is false (K8S_AUTH_VERIFY_SSL=False where the option is not set) and ca_cert is /ca.pem"),
    # the same credential with Verify SSL on (its CA file), and module_defaults giving validate_certs: false: the
    # variable that says true is not where false came from
    ({"validate_certs": False, "ca_cert": "/env/ca"}, {"K8S_AUTH_VERIFY_SSL": "True", "K8S_AUTH_SSL_CA_CERT": "/env/ca"},
     "validate_certs is false and ca_cert is /env/ca (K8S_AUTH_SSL_CA_CERT where the option is not set)"),
    # a CA variable the option overrides is not named
    ({"validate_certs": False, "ca_cert": "/task/ca.pem"}, {"K8S_AUTH_SSL_CA_CERT": "/env/ca"},
     "validate_certs is false and ca_cert is /task/ca.pem"),
    ({"validate_certs": False, "ca_cert": "/ca.pem"}, {"K8S_AUTH_VERIFY_SSL": "yes"},
     "validate_certs is false and ca_cert is /ca.pem"),
    ({"validate_certs": False, "ca_cert": "/ca.pem"}, {"K8S_AUTH_VERIFY_SSL": "no", "K8S_AUTH_SSL_CA_CERT": "/ca.pem"},
     "validate_certs is false (K8S_AUTH_VERIFY_SSL=no where the option is not set) and ca_cert is /ca.pem "
     "(K8S_AUTH_SSL_CA_CERT where the option is not set)"),
    ({"ca_cert": "/ca.pem"}, {"HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "true"},
     "HELM_KUBEINSECURE_SKIP_TLS_VERIFY=true and ca_cert is /ca.pem"),
    ({"validate_certs": False}, {"HELM_KUBECAFILE": "/helm/ca.pem"}, "validate_certs is false and HELM_KUBECAFILE is /helm/ca.pem"),
])
def test_ca_with_verification_off_is_refused_before_helm_runs(tmp_path, params, variables, clause):
    """Helm refuses it too, but as "kubernetes cluster unreachable" (and the release store, whose own client refuses
    it, would hand the read to Helm): refused at once, naming where each half came from (a variable only when it is
    the source of the value)."""
    assert tls_override_problem(dict({"validate_certs": True}, **params), variables) == clause + ADVICE
    with pytest.raises(KubeError) as caught:
        Connection.from_module(make_module(**params), environment(tmp_path, **variables))
    assert caught.value.kind == INVALID_KUBECONFIG
    assert clause + ADVICE in caught.value.message


@pytest.mark.parametrize("params, variables", [
    ({"validate_certs": True, "ca_cert": "/ca.pem"}, {"K8S_AUTH_VERIFY_SSL": "True"}),
    ({"validate_certs": False}, {"K8S_AUTH_VERIFY_SSL": "False"}),
    ({"ca_cert": "/ca.pem"}, {"HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "false"}),
])
def test_ca_or_verification_off_alone_is_no_problem(tmp_path, params, variables):
    assert tls_override_problem(dict({"validate_certs": True}, **params), environment(tmp_path, **variables)) is None
    Connection.from_module(make_module(**params), environment(tmp_path, **variables))


def test_kubeconfig_directory_is_named(tmp_path):
    with pytest.raises(KubeError) as caught:
        Connection.from_module(make_module(kubeconfig=str(tmp_path)))
    assert "is a directory, not a file" in caught.value.message


def test_kubeconfig_file_secrets_are_masked(tmp_path):
    path = tmp_path / "config"
    path.write_text(json.dumps(full_kubeconfig(token=SECRET)))
    module = make_module(kubeconfig=str(path))
    assert Connection.from_module(module).helm_flags()[:2] == ["--kubeconfig", str(path)]
    assert SECRET in module.no_log_values


def _without(config, key):
    return {k: v for k, v in config.items() if k != key}


@pytest.mark.parametrize("config, context, host, fragment", [
    (full_kubeconfig(), None, None, None),
    (full_kubeconfig(), "c", None, None),
    (full_kubeconfig(), "nope", None, "has no context 'nope' (contexts: c); set the context option"),
    (_without(full_kubeconfig(), "clusters"), None, None, "has no clusters"),
    (_without(full_kubeconfig(), "clusters"), None, "https://api:6443", None),
    (_without(full_kubeconfig(), "current-context"), None, None, "sets no current-context"),
    (dict(full_kubeconfig(), **{"current-context": "x"}), None, None, "names current-context 'x'"),
    (dict(full_kubeconfig(), contexts=[{"name": "c", "context": {"cluster": "other"}}]), None, None,
     "uses cluster 'other'"),
    (dict(full_kubeconfig(), clusters=[{"name": "k", "cluster": {}}]), None, None, "cluster 'k' has no server URL"),
    (["not", "a", "mapping"], None, None, "is not a kubeconfig"),
    ({"apiVersion": "v1"}, None, None, "has none of clusters"),
])
def test_kubeconfig_problem(config, context, host, fragment):
    problem = kubeconfig_problem(config, context, host)
    assert (problem is None) if fragment is None else (fragment in problem)


def test_inline_kubeconfig_without_clusters_is_refused():
    with pytest.raises(KubeError) as caught:
        Connection.from_module(make_module(kubeconfig=_without(full_kubeconfig(), "clusters")))
    assert caught.value.kind == INVALID_KUBECONFIG
    assert caught.value.message.startswith("the kubeconfig dictionary has no clusters")


# --- HelmClient and run_task with a Connection ------------------------------------------------------------

def test_helm_client_takes_its_flags_from_the_connection(monkeypatch):
    monkeypatch.setattr(helm_client, "detect_version", lambda module, binary: helm_client.HelmVersion(3, 17, 3))
    module = make_module(binary_path=sys.executable)
    given = Connection.from_params({"context": "prod", "api_key": SECRET}, "/k", {})
    client = helm_client.HelmClient(module, connection=given)
    assert (client.connection, client.connection.kubeconfig_path) == (given, "/k")
    assert client._flags == ["--kubeconfig", "/k", "--kube-context", "prod"]
    assert client._environ == {"HELM_KUBETOKEN": SECRET}


def run_task_result(task, capsys, **params):
    """What run_task makes of ``task(module)``: the JSON the module printed."""
    params.update(name="web", release_namespace="shop")
    with patch_module_args(params):
        module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
        module.run_command = lambda *args, **kwargs: pytest.fail("Helm must not run")
        with pytest.raises(SystemExit):
            helm_client.run_task(module, [], lambda: task(module))
    return json.loads(capsys.readouterr().out)


def test_a_broken_kubeconfig_fails_the_task_before_helm_runs(capsys):
    result = run_task_result(helm_client.HelmClient, capsys, binary_path=sys.executable,
                             kubeconfig="/nonexistent/kubeconfig")
    assert result["failed"] is True and result["error_kind"] == INVALID_KUBECONFIG
    assert "does not exist on the managed node" in result["msg"]


def test_helm_error_is_a_task_error_with_helm_details(capsys):
    error = helm_client.HelmError("timeout", "too slow", 1, "out", "err", ["helm", "x"])
    assert isinstance(error, TaskError)
    assert error.fail_kwargs() == dict(msg="too slow", error_kind="timeout", rc=1, stdout="out", stderr="err",
                                       command=["helm", "x"])

    def task(module):
        raise error
    result = run_task_result(task, capsys)
    assert (result["error_kind"], result["rc"], result["command"]) == ("timeout", 1, ["helm", "x"])
