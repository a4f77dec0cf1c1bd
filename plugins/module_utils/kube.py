# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helm's release records read straight from the Kubernetes API, with Python's standard library.

Helm's default storage driver keeps each revision in a Secret of type ``helm.sh/release.v1``
labelled ``owner=helm,name=<release>``: its ``release`` key holds the release as JSON, gzipped and
base64-encoded (Helm 3 and Helm 4 write the same format). One LIST of those Secrets returns the
whole history with every revision's user values, which ``helm history`` plus one ``helm get values``
per revision would read with as many Helm processes (each about 45 ms, mostly Helm's start-up).

This is a shortcut for reads only, taken when it is sure to see what Helm sees: Helm uses its
default driver, no HELM_KUBE* variable or proxy changes Helm's connection, and the kubeconfig is
one file whose context connects the way client-go would connect it here (TLS settings, a token,
a client certificate or a user name and password; never an exec plugin, an auth provider,
impersonation or a proxy). Otherwise, and on any failure, ``stored_revisions`` returns None and
the caller asks Helm, which reports problems properly. The standard library keeps it cheap: the
``kubernetes`` client costs more to import than a Helm process costs to run.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import http.client
import json
import os
import ssl
import tempfile
from collections import namedtuple
from typing import Any, Dict, List, Optional, Union
from urllib.parse import quote, urlencode, urlsplit

RELEASE_SECRET_TYPE = "helm.sh/release.v1"
_GZIP_MAGIC = b"\x1f\x8b"
# Helm's connection settings from the environment that the reader does not reproduce
# (HELM_KUBETOKEN it does: it is the bearer token, as with api_key).
HELM_CONNECTION_VARIABLES = ("HELM_KUBECONTEXT", "HELM_KUBEAPISERVER", "HELM_KUBECAFILE",
                             "HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "HELM_KUBEASUSER", "HELM_KUBEASGROUPS",
                             "HELM_KUBETLS_SERVER_NAME")
# Go's http.ProxyFromEnvironment reads these; http.client does not.
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
SECRET_DRIVERS = ("", "secret", "secrets")
# A slow or silent API server costs this much before Helm is asked instead.
REQUEST_TIMEOUT = 15
# kubeconfig user fields the reader does not reproduce
_UNSUPPORTED_USER_FIELDS = ("exec", "auth-provider", "as", "as-uid", "as-groups", "as-user-extra")

# Where and how to send the LIST: ``server`` is the API server URL; ``ca_file``/``ca_data`` the CA
# (None: the system's); ``cert``/``key`` each a (path or None, PEM data or None) pair;
# ``authorization`` the header value or None.
Endpoint = namedtuple("Endpoint", "server ca_file ca_data insecure cert key authorization")


def shortcut_blocker(environ: Dict[str, str]) -> Optional[str]:
    """Why Helm's records cannot be read directly in this environment, or None when they can."""
    driver = environ.get("HELM_DRIVER", "").lower()
    if driver not in SECRET_DRIVERS:
        return "HELM_DRIVER=%s keeps releases elsewhere than in Secrets" % environ["HELM_DRIVER"]
    overridden = [name for name in HELM_CONNECTION_VARIABLES + PROXY_VARIABLES if environ.get(name)]
    if overridden:
        return "%s changes how Helm connects" % ", ".join(overridden)
    return None


def kubeconfig_file(kubeconfig_path: Optional[str], environ: Dict[str, str]) -> Union[str, None]:
    """The one kubeconfig file Helm reads (the option, else KUBECONFIG, else ~/.kube/config), or None
    when KUBECONFIG names several files (client-go merges them; the reader does not)."""
    if kubeconfig_path:
        return kubeconfig_path
    listed = [path for path in environ.get("KUBECONFIG", "").split(os.pathsep) if path]
    if len(listed) > 1:
        return None
    return listed[0] if listed else os.path.join(os.path.expanduser("~"), ".kube", "config")


def endpoint(config: Any, base_dir: str, params: Dict[str, Any], environ: Dict[str, str]) -> Union[Endpoint, str]:
    """How client-go would reach the API server for this kubeconfig (a dict), context and the module's
    connection options (host, api_key, ca_cert, validate_certs; HELM_KUBETOKEN as api_key), or a string
    saying why the reader cannot reproduce it. Relative paths are relative to ``base_dir``."""
    config = config if isinstance(config, dict) else {}
    context_name = params.get("context") or config.get("current-context")
    context = _named(config.get("contexts"), context_name, "context")
    cluster = _named(config.get("clusters"), context.get("cluster"), "cluster")
    user = _named(config.get("users"), context.get("user"), "user")
    server = params.get("host") or cluster.get("server")
    if not server:
        return "no API server for context %r" % context_name
    scheme = urlsplit(server).scheme
    if scheme not in ("https", "http"):
        return "API server URL %r is neither https nor http" % server
    for field in ("proxy-url", "tls-server-name"):
        if cluster.get(field):
            return "the cluster sets %s" % field
    unsupported = [field for field in _UNSUPPORTED_USER_FIELDS if user.get(field)]
    if unsupported:
        return "the user authenticates with %s" % ", ".join(unsupported)
    if scheme == "http":
        # client-go sends no credentials and uses no TLS settings without TLS
        return Endpoint(server, None, None, False, None, None, None)

    insecure = params.get("validate_certs") is False or cluster.get("insecure-skip-tls-verify") is True
    ca_file = params.get("ca_cert") or (None if cluster.get("certificate-authority-data") else
                                        _path(cluster.get("certificate-authority"), base_dir))
    ca_data = None if params.get("ca_cert") else _pem(cluster.get("certificate-authority-data"))
    if insecure and (ca_file or ca_data):
        return "a CA is set together with insecure-skip-tls-verify (client-go refuses that)"
    cert = _material(user, "client-certificate", base_dir)
    key = _material(user, "client-key", base_dir)
    token = params.get("api_key") or environ.get("HELM_KUBETOKEN") or user.get("token")
    if not token and user.get("tokenFile"):
        token = _read_text(_path(user["tokenFile"], base_dir)).strip()
    authorization = None
    if token:
        authorization = "Bearer " + token
    elif user.get("username") and user.get("password"):
        pair = ("%s:%s" % (user["username"], user["password"])).encode("utf-8")
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return Endpoint(server, ca_file, ca_data, insecure, cert if any(cert) else None, key if any(key) else None,
                    authorization)


def _named(entries: Any, name: Any, field: str) -> Dict[str, Any]:
    """The ``field`` mapping of the entry called ``name`` (clusters, users, contexts), or {}."""
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and name is not None and entry.get("name") == name:
            value = entry.get(field)
            return value if isinstance(value, dict) else {}
    return {}


def _path(path: Optional[str], base_dir: str) -> Optional[str]:
    if not path:
        return None
    return os.path.join(base_dir, os.path.expanduser(path))


def _pem(data: Optional[str]) -> Optional[str]:
    # kubeconfig *-data fields are base64 of the PEM text
    return base64.b64decode(data).decode("ascii") if data else None


def _material(user: Dict[str, Any], field: str, base_dir: str):
    """(path, PEM data) of a client certificate or key; the data wins, as in client-go."""
    data = _pem(user.get(field + "-data"))
    return (None, data) if data else (_path(user.get(field), base_dir), None)


def _read_text(path: str) -> str:
    with open(path, "r") as handle:
        return handle.read()


def ssl_context(target: Endpoint) -> ssl.SSLContext:
    """TLS as client-go would set it up: the given CA (else the system's), the client certificate."""
    context = ssl.create_default_context(cafile=target.ca_file, cadata=target.ca_data)
    if target.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if target.cert:
        with _pem_file(target.cert) as cert_file, _pem_file(target.key) as key_file:
            context.load_cert_chain(cert_file, key_file)
    return context


class _pem_file(object):
    """A path for (path, data): the path itself, or the data in a private temp file removed on exit."""

    def __init__(self, material):
        self.path, self.data = material or (None, None)
        self.temporary = None

    def __enter__(self):
        if self.data is None:
            return self.path
        handle, self.temporary = tempfile.mkstemp(prefix="matih-helm-", suffix=".pem")  # mode 0600
        with os.fdopen(handle, "w") as stream:
            stream.write(self.data)
        return self.temporary

    def __exit__(self, *exc):
        if self.temporary:
            os.remove(self.temporary)


# The records of every release's deployed revision (Helm keeps the status in a label, as in the record).
DEPLOYED_SELECTOR = "owner=helm,status=deployed"


def release_selector(name: str) -> str:
    """The label selector of a release's Secrets, as Helm's Secrets driver lists them."""
    return "owner=helm,name=%s" % name


def list_release_secrets(target: Endpoint, name: str, namespace: str) -> List[Dict[str, Any]]:
    """One LIST of the release's Secrets (the label selector Helm's driver uses)."""
    url = urlsplit(target.server)
    query = urlencode({"labelSelector": release_selector(name)})
    path = "%s/api/v1/namespaces/%s/secrets?%s" % (url.path.rstrip("/"), quote(namespace, safe=""), query)
    headers = {"Accept": "application/json", "User-Agent": "matih.helm"}
    if url.scheme == "https":
        connection = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=REQUEST_TIMEOUT,
                                                 context=ssl_context(target))
        if target.authorization:
            headers["Authorization"] = target.authorization
    else:
        connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise ValueError("the API server answered %d" % response.status)
    return json.loads(body).get("items") or []


def decode_release(encoded: str) -> Dict[str, Any]:
    """One release from a Secret's ``data.release`` (base64 as the API returns it, around Helm's own
    base64 of the gzipped JSON). ValueError when it is not a Helm release record."""
    try:
        payload = base64.b64decode(base64.b64decode(encoded))
        if payload[:2] == _GZIP_MAGIC:
            payload = gzip.decompress(payload)
        release = json.loads(payload)
    except (TypeError, ValueError, OSError, EOFError, binascii.Error) as error:
        raise ValueError("not a Helm release record: %s" % error)
    if not isinstance(release, dict) or not isinstance(release.get("version"), int):
        raise ValueError("not a Helm release record: no revision number")
    return release


def releases_of(secrets: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The revisions among the Secrets the LIST returned, oldest first, read as Helm's Secrets driver
    reads them: every Secret the label selector matched is a record. ValueError for a record Helm could
    not read either (undecodable, or without the ``info`` Helm dereferences), so that Helm reads
    and reports it."""
    releases = {}
    for secret in secrets:
        release = decode_release((secret.get("data") or {}).get("release"))
        if not isinstance(release.get("info"), dict):
            raise ValueError("release record of revision %s has no info" % release["version"])
        releases[release["version"]] = release
    return [releases[version] for version in sorted(releases)]


def history_entry(release: Dict[str, Any]) -> Dict[str, Any]:
    """A revision as ``helm history -o json`` prints it (Helm's formatChartname and formatAppVersion;
    Helm 4.3 records a rollback's target as ``info.rollback_revision`` and prints it when set)."""
    info = release.get("info") or {}
    metadata = (release.get("chart") or {}).get("metadata")
    entry = {
        "revision": release["version"],
        "updated": info.get("last_deployed") or "",
        "status": info.get("status") or "",
        "chart": "%s-%s" % (metadata.get("name"), metadata.get("version")) if metadata else "MISSING",
        "app_version": (metadata.get("appVersion") or "") if metadata else "MISSING",
        "description": info.get("description") or "",
    }
    if info.get("rollback_revision"):  # omitted when 0, as Helm's omitempty; release.rollback_target checks it
        entry["rollback_revision"] = info["rollback_revision"]
    return entry


def user_values(release: Dict[str, Any]) -> Dict[str, Any]:
    """The user-supplied values, as ``helm get values -o json`` prints them (none: {})."""
    return release.get("config") or {}


def stored_revisions(params: Dict[str, Any], kubeconfig_path: Optional[str], name: str, namespace: str,
                     environ: Optional[Dict[str, str]] = None) -> Optional[List[Dict[str, Any]]]:
    """Every stored revision of the release, oldest first, from one LIST; None when the shortcut is not
    available or fails in any way (the caller then asks Helm). [] means no record was found."""
    environ = dict(os.environ) if environ is None else environ
    if shortcut_blocker(environ) is not None:
        return None
    try:
        path = kubeconfig_file(kubeconfig_path, environ)
        config = _load_kubeconfig(path) if path and os.path.isfile(path) else None
        if config is None and not params.get("host"):
            return None
        target = endpoint(config, os.path.dirname(os.path.abspath(path)) if path else os.getcwd(), params, environ)
        if not isinstance(target, Endpoint):
            return None
        return releases_of(list_release_secrets(target, name, namespace))
    except Exception:  # pylint: disable=broad-except  # any failure: Helm reads instead, and reports it
        return None


def _load_kubeconfig(path: str) -> Any:
    with open(path, "rb") as handle:
        text = handle.read()
    try:
        return json.loads(text)  # kubeconfigs written from a dictionary are JSON: no YAML parser needed
    except ValueError:
        pass
    return load_yaml(text)


def load_yaml(text: bytes) -> Any:
    """YAML with libyaml's safe loader when PyYAML was built with it (the same result, several times
    faster). ImportError without PyYAML, yaml.YAMLError for bad YAML."""
    import yaml  # pylint: disable=import-outside-toplevel  # PyYAML comes with ansible-core
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
