# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helm's release records read straight from the Kubernetes API, with the Kubernetes Python client.

Helm's default storage driver keeps each revision in a Secret of type ``helm.sh/release.v1``
labelled ``owner=helm,name=<release>``: its ``release`` key holds the release as JSON, gzipped and
base64-encoded (Helm 3 and Helm 4 write the same format). One LIST of those Secrets returns every
revision's user values, which ``helm get values`` would read with one Helm process per revision.

This is a shortcut for reads only, taken when it is sure to see what Helm sees: the ``kubernetes``
library is installed, Helm uses its default driver and no HELM_KUBE* variable changes Helm's
connection. Callers fall back to Helm whenever ``release_records`` returns None.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from typing import Any, Dict, List, Optional

try:
    # Only the configuration loader and the HTTP pool: the generated API classes cost the
    # kubernetes library's newest versions about a second to import (their pydantic models).
    from kubernetes.client.configuration import Configuration
    from kubernetes.client.rest import RESTClientObject
    from kubernetes.config import kube_config
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

RELEASE_SECRET_TYPE = "helm.sh/release.v1"
_GZIP_MAGIC = b"\x1f\x8b"
# Helm's connection settings from the environment; the Kubernetes client would not see them.
HELM_CONNECTION_VARIABLES = ("HELM_KUBECONTEXT", "HELM_KUBEAPISERVER", "HELM_KUBECAFILE",
                             "HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "HELM_KUBEASUSER", "HELM_KUBEASGROUPS",
                             "HELM_KUBETLS_SERVER_NAME")
SECRET_DRIVERS = ("", "secret", "secrets")


def shortcut_blocker(environ: Dict[str, str]) -> Optional[str]:
    """Why Helm's records cannot be read directly in this environment, or None when they can."""
    if not HAS_KUBERNETES:
        return "the kubernetes Python library is not installed"
    driver = environ.get("HELM_DRIVER", "").lower()
    if driver not in SECRET_DRIVERS:
        return "HELM_DRIVER=%s keeps releases elsewhere than in Secrets" % environ["HELM_DRIVER"]
    overridden = [name for name in HELM_CONNECTION_VARIABLES if environ.get(name)]
    if overridden:
        return "%s changes how Helm connects" % ", ".join(overridden)
    return None


def decode_release(encoded: str) -> Dict[str, Any]:
    """One release from a Secret's ``data.release`` (base64 as the API returns it, around Helm's own
    base64 of the gzipped JSON). ValueError when it is not a Helm release record."""
    try:
        payload = base64.b64decode(base64.b64decode(encoded))
        if payload[:2] == _GZIP_MAGIC:
            payload = gzip.decompress(payload)
        release = json.loads(payload)
    except (TypeError, ValueError, OSError, EOFError) as error:
        raise ValueError("not a Helm release record: %s" % error)
    if not isinstance(release, dict) or not isinstance(release.get("version"), int):
        raise ValueError("not a Helm release record: no revision number")
    return release


def values_by_revision(secrets: List[Dict[str, Any]], name: str, namespace: str) -> Dict[int, Dict[str, Any]]:
    """User values (the release's ``config``, as ``helm get values`` prints them) per revision, from
    the Secrets a LIST returned. Anything that is not this release's record is left out."""
    values = {}
    for secret in secrets:
        data = secret.get("data") or {}
        if secret.get("type") != RELEASE_SECRET_TYPE or "release" not in data:
            continue
        try:
            release = decode_release(data["release"])
        except ValueError:
            continue
        if release.get("name") == name and release.get("namespace", namespace) == namespace:
            values[release["version"]] = release.get("config") or {}
    return values


def connection(params: Dict[str, Any], kubeconfig_path: Optional[str]):
    """A Kubernetes client Configuration for the module's connection options, read the way Helm reads
    them: the kubeconfig (the option, else KUBECONFIG, else ~/.kube/config) and context, then host,
    api_key, ca_cert and validate_certs on top."""
    configuration = Configuration()
    try:
        kube_config.load_kube_config(config_file=kubeconfig_path, context=params.get("context"),
                                     client_configuration=configuration, persist_config=False)
    except kube_config.ConfigException:
        if not params.get("host"):
            raise
    if params.get("host"):
        configuration.host = params["host"]
    if params.get("api_key"):
        # Replaces any credential of the kubeconfig's user, as Helm's --kube-token does.
        configuration.refresh_api_key_hook = None
        configuration.api_key_prefix = {}
        configuration.api_key = {"BearerToken": "Bearer " + params["api_key"],
                                 "authorization": "Bearer " + params["api_key"]}
    if params.get("ca_cert"):
        configuration.ssl_ca_cert = params["ca_cert"]
    if params.get("validate_certs") is False:
        configuration.verify_ssl = False
    return configuration


def auth_headers(configuration) -> Dict[str, str]:
    """The credential headers the client would send (a bearer token, refreshed by an exec plugin)."""
    return {setting["key"]: setting["value"] for setting in configuration.auth_settings().values()
            if setting.get("in") == "header" and setting.get("value")}


def list_release_secrets(configuration, name: str, namespace: str) -> List[Dict[str, Any]]:
    """One LIST of the release's Secrets, with the library's connection pool (TLS, proxy)."""
    url = "%s/api/v1/namespaces/%s/secrets" % (configuration.host.rstrip("/"), namespace)
    pool = RESTClientObject(configuration).pool_manager
    headers = dict(auth_headers(configuration), Accept="application/json")
    response = pool.request("GET", url, fields={"labelSelector": "owner=helm,name=%s" % name}, headers=headers,
                            timeout=30, retries=False)
    if response.status != 200:
        raise ValueError("the API server answered %d" % response.status)
    return json.loads(response.data).get("items") or []


def release_records(params: Dict[str, Any], kubeconfig_path: Optional[str], name: str,
                    namespace: str) -> Optional[Dict[int, Dict[str, Any]]]:
    """Every stored revision's user values from one LIST, or None when the shortcut is not
    available or fails in any way (the caller then asks Helm, which reports errors properly)."""
    if shortcut_blocker(dict(os.environ)) is not None:
        return None
    try:
        secrets = list_release_secrets(connection(params, kubeconfig_path), name, namespace)
    except Exception:  # pylint: disable=broad-except  # any failure: Helm reads the values instead
        return None
    return values_by_revision(secrets, name, namespace)
