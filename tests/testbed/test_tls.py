"""The emulator over TLS: bearer tokens and CA certificates as real Helm 3 and 4 use them.

Helm (client-go) sends a kubeconfig's bearer token only over HTTPS, so the ``api_key``,
``ca_cert`` and ``validate_certs`` paths of the collection can only be exercised here.
"""

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import yaml
from cryptography import x509

import kubeemu
import scenarios

TESTBED_DIR = os.path.dirname(os.path.abspath(__file__))
UNAUTHORIZED = "the server has asked for the client to provide credentials"
UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"


def helm(binary, kubeconfig, *args, env=None):
    environ = dict(os.environ, KUBECONFIG=str(kubeconfig), HELM_NO_PLUGINS="1")
    environ.pop("HELM_KUBETOKEN", None)
    environ.update(env or {})
    return subprocess.run([binary] + list(args), env=environ, capture_output=True, text=True, timeout=60, check=False)


def variant(cluster, tmp_path, name, **changes):
    """A copy of the TLS cluster's kubeconfig with ``changes`` (see Emulator.write_kubeconfig)."""
    path = tmp_path / name
    cluster.emulator.write_kubeconfig(str(path), **changes)
    return path


def get(url, context=None, token=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10, context=context) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


# --- real Helm --------------------------------------------------------------------------------

def test_helm_works_with_the_kubeconfig_token_and_ca(helm_binary, tls_cluster, release_name):
    namespace = "tls-" + release_name[-6:]
    installed = scenarios.install(helm_binary, tls_cluster.kubeconfig, release_name, namespace, wait=True)  # writes and a watch over TLS

    listed = helm(helm_binary, tls_cluster.kubeconfig, "list", "-n", namespace, "-o", "json")

    assert installed.returncode == 0
    assert listed.returncode == 0, listed.stderr
    assert [(r["name"], r["status"]) for r in json.loads(listed.stdout)] == [(release_name, "deployed")]


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no-token", "wrong-token"])
def test_helm_without_the_right_token_is_unauthorized(helm_binary, tls_cluster, tmp_path, token):
    kubeconfig = variant(tls_cluster, tmp_path, "kubeconfig", token=token)

    result = helm(helm_binary, kubeconfig, "list", "-A")

    assert result.returncode == 1
    # Helm 3: "Kubernetes cluster unreachable: ...", Helm 4: "kubernetes cluster unreachable: ..."
    assert "cluster unreachable: " + UNAUTHORIZED in result.stderr


@pytest.mark.parametrize("how", ["HELM_KUBETOKEN", "--kube-token"])
def test_helm_token_from_the_environment_or_flag(helm_binary, tls_cluster, tmp_path, how):
    """The modules' api_key goes to HELM_KUBETOKEN; --kube-token is the same setting as a flag."""
    kubeconfig = variant(tls_cluster, tmp_path, "kubeconfig", token=None)

    if how == "HELM_KUBETOKEN":
        result = helm(helm_binary, kubeconfig, "list", "-A", env={"HELM_KUBETOKEN": tls_cluster.token})
    else:
        result = helm(helm_binary, kubeconfig, "list", "-A", "--kube-token", tls_cluster.token)

    assert result.returncode == 0, result.stderr


def test_helm_without_the_ca_rejects_the_certificate(helm_binary, tls_cluster, tmp_path):
    kubeconfig = variant(tls_cluster, tmp_path, "kubeconfig", certificate_authority=None)

    rejected = helm(helm_binary, kubeconfig, "list", "-A")
    insecure = helm(helm_binary, kubeconfig, "list", "-A", "--kube-insecure-skip-tls-verify")
    ca_flag = helm(helm_binary, kubeconfig, "list", "-A", "--kube-ca-file", tls_cluster.ca_cert)

    assert rejected.returncode == 1
    assert "tls: failed to verify certificate: " + UNKNOWN_AUTHORITY in rejected.stderr
    assert insecure.returncode == 0, insecure.stderr
    assert ca_flag.returncode == 0, ca_flag.stderr


def test_helm_with_another_ca_rejects_the_certificate(helm_binary, tls_cluster, tmp_path):
    other = kubeemu.tls.CertificateAuthority().write_ca(str(tmp_path / "other-ca.crt"))
    kubeconfig = variant(tls_cluster, tmp_path, "kubeconfig", certificate_authority=other)

    result = helm(helm_binary, kubeconfig, "list", "-A")

    assert result.returncode == 1 and UNKNOWN_AUTHORITY in result.stderr


def test_helm_sends_no_token_over_plain_http(helm_binary):
    """Why TLS mode exists: over http:// the token in the kubeconfig never reaches the server."""
    with kubeemu.Emulator(require_token=True) as emulator:
        with open(emulator.kubeconfig_path, encoding="utf-8") as handle:
            assert yaml.safe_load(handle)["users"][0]["user"] == {"token": emulator.token}

        result = helm(helm_binary, emulator.kubeconfig_path, "list", "-A")

    assert result.returncode == 1 and UNAUTHORIZED in result.stderr


# --- the emulator on its own ------------------------------------------------------------------

def test_tls_emulator_files_and_kubeconfig():
    with kubeemu.Emulator(tls=True) as emulator:
        ca_path, kubeconfig = emulator.ca_cert_path, emulator.kubeconfig_path
        with open(kubeconfig, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        with open(ca_path, "rb") as handle:
            ca = x509.load_pem_x509_certificate(handle.read())

        assert emulator.url.startswith("https://127.0.0.1:")
        assert ca_path == kubeconfig + ".ca.crt"
        assert config["clusters"][0]["cluster"] == {"server": emulator.url, "certificate-authority": ca_path}
        assert config["users"][0]["user"] == {"token": emulator.token}
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert os.stat(kubeconfig).st_mode & 0o777 == 0o600
    assert not os.path.exists(ca_path) and not os.path.exists(kubeconfig)


def test_tls_server_certificate_names_loopback():
    authority = kubeemu.tls.CertificateAuthority()
    server = x509.load_pem_x509_certificate(authority.server_pem)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sorted(str(address) for address in names.get_values_for_type(x509.IPAddress)) == ["127.0.0.1", "::1"]


def test_tls_emulator_checks_the_token():
    with kubeemu.Emulator(tls=True, require_token=True, token="s3cret") as emulator:
        context = emulator.client_ssl_context()

        missing = get(emulator.url + "/api/v1/namespaces", context)
        wrong = get(emulator.url + "/api/v1/namespaces", context, token="nope")
        right = get(emulator.url + "/api/v1/namespaces", context, token="s3cret")
        admin = get(emulator.url + "/_emulator/state", context)

    assert missing == wrong == (401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    assert right[0] == 200 and right[1]["kind"] == "NamespaceList"
    assert admin[0] == 200  # the admin API needs no token


def test_tls_emulator_refuses_unverified_clients_and_plain_http():
    with kubeemu.Emulator(tls=True) as emulator:
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            get(emulator.url + "/version", ssl.create_default_context())
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            get(emulator.url.replace("https://", "http://") + "/version")
        # The server survives both and still serves a verified client.
        assert get(emulator.url + "/version", emulator.client_ssl_context())[0] == 200


def test_tls_stop_ends_watches():
    emulator = kubeemu.Emulator(tls=True).start()
    outcome = {}

    def watch():
        url = emulator.url + "/api/v1/namespaces/default/secrets?watch=true&resourceVersion=1"
        with urllib.request.urlopen(url, timeout=10, context=emulator.client_ssl_context()) as response:
            try:
                outcome["events"] = list(response)
            except (http.client.IncompleteRead, OSError):
                outcome["events"] = []  # cut off before the last chunk: ended all the same

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.3)
    emulator.stop()
    watcher.join(5)
    assert not watcher.is_alive() and outcome["events"] == []


def test_command_line_tls(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    argv = [sys.executable, "-m", "kubeemu", "--kubeconfig", str(kubeconfig), "--tls", "--require-token"]
    with subprocess.Popen(argv, cwd=TESTBED_DIR, stdout=subprocess.PIPE, text=True) as process:
        line = process.stdout.readline()
        assert line.startswith("kubeemu serving https://127.0.0.1:")
        assert "CA %s.ca.crt" % kubeconfig in line
        context = ssl.create_default_context(cafile=str(kubeconfig) + ".ca.crt")
        assert get(line.split()[2] + "/version", context)[0] == 401
        assert get(line.split()[2] + "/version", context, token=kubeemu.DEFAULT_TOKEN)[0] == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    assert not os.path.exists(str(kubeconfig) + ".ca.crt")
