# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connection to the Kubernetes API, once per task, for Helm and for our own HTTP client alike.

A ``Connection`` is built from the module's connection options (kubeconfig, context, host, api_key,
ca_cert, validate_certs, with their K8S_AUTH_* fallbacks) and the environment. It gives Helm its
flags and environment (``helm_flags``, ``helm_environ``: the token never goes on the command line)
and gives module_utils/kube_client.py an ``ApiAccess``: the server, TLS, credentials, impersonation
and proxy that Helm's client-go would use for the same options and environment. One set of rules,
client-go's (tools/clientcmd as Helm's cli-runtime drives it):

* the kubeconfig: the ``kubeconfig`` option (Helm's ``--kubeconfig``), else the files of KUBECONFIG
  merged (the first file that names a cluster, user or context wins; the first current-context
  wins; missing files are skipped), else ~/.kube/config; relative paths in a file are relative to
  that file's directory. Without a cluster server, a pod's service account (in-cluster config);
* the context: the ``context`` option, else HELM_KUBECONTEXT, else current-context; then Helm's
  overrides: ``host``/HELM_KUBEAPISERVER, ``api_key``/HELM_KUBETOKEN, ``ca_cert``/HELM_KUBECAFILE,
  ``validate_certs: false``/HELM_KUBEINSECURE_SKIP_TLS_VERIFY, HELM_KUBETLS_SERVER_NAME,
  HELM_KUBEASUSER and HELM_KUBEASGROUPS;
* client-go's validation: what makes Helm fail (two authentication methods, a CA with
  insecure-skip-tls-verify, an unreadable certificate...) fails here too, with the fix named;
* credentials only over TLS: an http:// server gets no Authorization, certificate or exec plugin run.

What Helm can use but our client cannot (an auth-provider, an old exec plugin API, a SOCKS proxy...)
does not fail a task that Helm can do: ``api_problem`` names it and ``api_access()`` refuses, so a
caller that can read through Helm instead checks ``api_problem`` first.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections import namedtuple
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import urlsplit

from ansible_collections.matih.helm.plugins.module_utils.errors import (
    ACCESS_DENIED, INVALID_KUBECONFIG, NO_API_SERVER, UNSUPPORTED_KUBECONFIG, KubeError,
)
from ansible_collections.matih.helm.plugins.module_utils.kube_types import without_userinfo

KUBECONFIG_SECRET_KEYS = ("token", "password", "client-key-data", "client-certificate-data")
# Names of auth-provider config keys (refresh-token, client-secret, id-token, access-token) and exec env
# variables (AWS_SECRET_ACCESS_KEY, VAULT_TOKEN) that hold credentials. Masking works on substrings of the
# whole output, so values under other names (client-id, AWS_PROFILE=default, DEBUG=1) stay visible: masking
# them would blank out namespaces, revision numbers and words everywhere.
_CREDENTIAL_NAME = re.compile(r"token|secret|passw|credential|private|key|auth|session|cookie|cert|"
                              r"(?:^|[_-])pat(?:$|[_-])", re.I)

# rest.InClusterConfig's files (module attributes so that tests can point them elsewhere)
IN_CLUSTER_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
IN_CLUSTER_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
# client-go defaults interactiveMode for these (backwards compatibility); v1 and later must set it
_EXEC_DEFAULT_INTERACTIVE = ("client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1alpha1")
_EXEC_INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
EXEC_CLUSTER_EXTENSION = "client.authentication.k8s.io/exec"
EXEC_INFO_VARIABLE = "KUBERNETES_EXEC_INFO"
# A plugin may log in over the network (aws, gcloud, vault); a task must not hang on one for ever.
EXEC_TIMEOUT = 60
# Proxies our HTTP client tunnels through (HTTP CONNECT); client-go also takes socks5.
SUPPORTED_PROXY_SCHEMES = ("http",)  # an https proxy (TLS inside TLS) is Helm's alone
_PROXY_SCHEMES = ("http", "https", "socks5")
_DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080}
# Go's strconv.ParseBool, which Helm's HELM_KUBEINSECURE_SKIP_TLS_VERIFY goes through
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
# RFC 3339 as Go's metav1.Time reads it (expirationTimestamp)
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")
# RFC 7230 token characters: what an Impersonate-Extra-<key> header name may hold unescaped
_HEADER_TOKEN = re.compile(r"[A-Za-z0-9!#$&'*+.^_`|~-]")
_TO_FIX_API = ("for the drift checks, which read only through the API, give the connection a token (api_key), a "
               "client certificate or an exec plugin")


# --- Helm's side ------------------------------------------------------------------------------------

def connection_flags(params: Dict[str, Any], kubeconfig_path: Optional[str] = None) -> List[str]:
    """Global flags for the connection options. ``api_key`` is deliberately absent (see environ)."""
    flags = []
    if kubeconfig_path:
        flags += ["--kubeconfig", kubeconfig_path]
    if params.get("context"):
        flags += ["--kube-context", params["context"]]
    if params.get("host"):
        flags += ["--kube-apiserver", params["host"]]
    if params.get("ca_cert"):
        flags += ["--kube-ca-file", params["ca_cert"]]
    if params.get("validate_certs") is False:
        flags.append("--kube-insecure-skip-tls-verify")
    return flags


def connection_environ(params: Dict[str, Any]) -> Dict[str, str]:
    """Environment for Helm: the bearer token stays off the command line (and out of ``ps``)."""
    return {"HELM_KUBETOKEN": params["api_key"]} if params.get("api_key") else {}


# --- the kubeconfig option ------------------------------------------------------------------------

def kubeconfig_secrets(config: Any) -> List[str]:
    """Credential values inside a kubeconfig, to be masked in every output: each user's token, password
    and key data, its auth-provider config credentials and its exec plugin's credential env values."""
    secrets = []
    users = config.get("users") if isinstance(config, dict) else None
    for user in _named_list(users):
        details = _mapping(user.get("user"))
        secrets += [str(details[key]) for key in KUBECONFIG_SECRET_KEYS if details.get(key)]
        provider_config = _mapping(_mapping(details.get("auth-provider")).get("config"))
        secrets += [str(value) for key, value in provider_config.items() if value and _CREDENTIAL_NAME.search(str(key))]
        env = _named_list(_mapping(details.get("exec")).get("env"))
        secrets += [str(item["value"]) for item in env if item.get("value") and _CREDENTIAL_NAME.search(str(item.get("name")))]
    return secrets


def _mapping(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _named_list(value: Any) -> List[Dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def resolve_kubeconfig(module) -> Optional[str]:
    """A kubeconfig path for Helm: the given path, or an inline dict written to a 0600 temp file.

    The kubeconfig is checked first (see ``kubeconfig_problem``), so a broken one is named as such
    instead of surfacing as Helm's "cluster unreachable"."""
    kubeconfig = module.params.get("kubeconfig")
    if not kubeconfig:
        return None
    if isinstance(kubeconfig, dict):
        module.no_log_values.update(kubeconfig_secrets(kubeconfig))
        _check_kubeconfig(module, kubeconfig, "the kubeconfig dictionary")
        return write_private_file(module, json.dumps(kubeconfig))
    if not isinstance(kubeconfig, str):
        raise KubeError(INVALID_KUBECONFIG, "kubeconfig must be a file path or a dictionary, got %s; set it to the "
                        "path of a kubeconfig file or to the kubeconfig content" % type(kubeconfig).__name__)
    path = os.path.expanduser(kubeconfig)
    if os.path.isdir(path):
        raise KubeError(INVALID_KUBECONFIG, "kubeconfig %s is a directory, not a file; set kubeconfig to the path of "
                        "a kubeconfig file (for example ~/.kube/config)" % path)
    if not os.path.isfile(path):
        raise KubeError(INVALID_KUBECONFIG, "kubeconfig file %s does not exist on the managed node; set kubeconfig "
                        "to an existing kubeconfig file or to the kubeconfig content (a dictionary)" % path)
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except (IOError, OSError) as error:
        raise KubeError(INVALID_KUBECONFIG, "kubeconfig file %s cannot be read (%s); fix its permissions or set "
                        "kubeconfig to a readable file" % (path, error.strerror or error))
    config = _load_yaml(text, path)
    if config is not _UNCHECKED:
        module.no_log_values.update(kubeconfig_secrets(config if isinstance(config, dict) else None))
        _check_kubeconfig(module, config, "kubeconfig file %s" % path)
    return path


_UNCHECKED = object()


class _NoYaml(Exception):
    """A YAML document to read, and no PyYAML on the managed node."""


def _load_yaml(text: bytes, path: str) -> Any:
    """The parsed kubeconfig file, or _UNCHECKED when it is YAML and PyYAML is not available on the
    managed node (a JSON kubeconfig, as written from a dictionary, needs no YAML parser)."""
    try:
        return _parse_document(text, path)
    except _NoYaml:
        return _UNCHECKED


def _parse_document(text: bytes, path: str) -> Any:
    """JSON or YAML text, parsed (JSON is YAML too: same result). _NoYaml without PyYAML for YAML,
    KubeError for text that is neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml  # pylint: disable=import-outside-toplevel  # optional: JSON kubeconfigs need no YAML parser
    except ImportError:
        if not text.strip():
            return None
        raise _NoYaml(path)
    try:
        # libyaml's safe loader when PyYAML was built with it: the same result, several times faster
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        reason = " ".join(str(error).split())
        raise KubeError(INVALID_KUBECONFIG, "kubeconfig file %s is not valid YAML (%s); set kubeconfig to a "
                        "kubeconfig file (for example ~/.kube/config)" % (path, reason[:300]))


def _check_kubeconfig(module, config: Any, source: str) -> None:
    problem = kubeconfig_problem(config, module.params.get("context"), module.params.get("host"))
    if problem:
        raise KubeError(INVALID_KUBECONFIG, "%s %s" % (source, problem))


def kubeconfig_problem(config: Any, context: Optional[str] = None, host: Optional[str] = None) -> Optional[str]:
    """Why ``config`` (a parsed kubeconfig) cannot connect Helm anywhere, or None when it can.

    Only what Helm would otherwise misreport is checked: client-go silently falls back to
    http://localhost:8080 when no cluster server is found, and names an unknown context as an
    unreachable cluster. With ``host`` set, the kubeconfig's clusters are not needed."""
    fix = "set kubeconfig to a kubeconfig with clusters, users and contexts (as kubectl config view prints it)"
    if not isinstance(config, dict):
        return "is not a kubeconfig: expected a mapping with clusters, users and contexts, got %s; %s" % (
            "nothing" if config is None else type(config).__name__, fix)
    if not any(key in config for key in ("clusters", "contexts", "users", "current-context")):
        return "is not a kubeconfig: it has none of clusters, users, contexts, current-context (keys: %s); %s" % (
            ", ".join(sorted(str(key) for key in config)[:10]) or "none", fix)
    contexts = {str(item.get("name")): item.get("context") or {}
                for item in _named_list(config.get("contexts"))}
    wanted = context or config.get("current-context")
    if context and context not in contexts:
        return "has no context %r (contexts: %s); set the context option to one of them, or leave it unset to use " \
               "current-context" % (context, ", ".join(sorted(contexts)) or "none")
    if host:
        return None
    clusters = {str(item.get("name")): item.get("cluster") or {} for item in _named_list(config.get("clusters"))}
    if not clusters:
        return "has no clusters, so Helm would fall back to http://localhost:8080; %s, or set the host option" % fix
    if not wanted:
        return "sets no current-context; set the context option to one of its contexts (%s)" % (
            ", ".join(sorted(contexts)) or "none")
    if wanted not in contexts:
        return "names current-context %r, which is not among its contexts (%s); set the context option to one of " \
               "them" % (wanted, ", ".join(sorted(contexts)) or "none")
    cluster_name = str(contexts[wanted].get("cluster") or "")
    if cluster_name not in clusters:
        return "context %r uses cluster %r, which is not among its clusters (%s); %s" % (
            wanted, cluster_name, ", ".join(sorted(clusters)), fix)
    if not clusters[cluster_name].get("server"):
        return "cluster %r has no server URL; add one, or set the host option" % cluster_name
    return None


def write_private_file(module, content: str, prefix: str = "kubeconfig-") -> str:
    # mkstemp creates the file 0600; Ansible removes it (and its tmpdir) when the module exits.
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".json", dir=module.tmpdir)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    module.add_cleanup_file(path)
    return path


# --- client-go's loading rules ---------------------------------------------------------------------

# The merged kubeconfig: ``clusters``, ``users``, ``contexts`` map names to their mappings (file
# paths already made absolute), ``files`` are the files read, ``secrets`` their credentials (to mask).
Kubeconfig = namedtuple("Kubeconfig", "files clusters users contexts current_context secrets")

# What Helm's own flags and HELM_KUBE* variables put over the kubeconfig (genericclioptions.ConfigFlags)
Overrides = namedtuple("Overrides", "context server token ca_file insecure tls_server_name as_user as_groups")


def kubeconfig_files(kubeconfig_path: Optional[str], environ: Dict[str, str]) -> Tuple[List[str], bool]:
    """The files client-go loads, and whether they were asked for explicitly (then they must exist):
    the kubeconfig Helm gets with --kubeconfig, else KUBECONFIG's list (duplicates dropped; set, it
    replaces ~/.kube/config even when it lists no file), else ~/.kube/config."""
    if kubeconfig_path:
        return [kubeconfig_path], True
    if environ.get("KUBECONFIG"):
        listed = []
        for path in environ["KUBECONFIG"].split(os.pathsep):
            if path and path not in listed:
                listed.append(path)
        return listed, False
    home = environ.get("HOME") or os.path.expanduser("~")
    return [os.path.join(home, ".kube", "config")], False


def load_kubeconfig(paths: List[str], explicit: bool = False) -> Kubeconfig:
    """The kubeconfig files merged as client-go merges them. KubeError for a file that cannot be read
    or is no kubeconfig; _NoYaml for a YAML file without PyYAML."""
    loaded = [(path, config) for path, config in ((path, _read_kubeconfig(path, explicit)) for path in paths)
              if config is not None]
    clusters, users, contexts, current, secrets = {}, {}, {}, None, []
    for path, config in loaded:
        secrets += kubeconfig_secrets(config)
        base = os.path.dirname(os.path.abspath(path))
        # the first file that names an entry wins it, as the first current-context wins
        for name, cluster in _named_entries(config, "clusters", "cluster", path).items():
            clusters.setdefault(name, _absolute_paths(cluster, ("certificate-authority",), base))
        for name, user in _named_entries(config, "users", "user", path).items():
            users.setdefault(name, _user_with_absolute_paths(user, base))
        for name, context in _named_entries(config, "contexts", "context", path).items():
            contexts.setdefault(name, context)
        current = current or _text(config.get("current-context"))
    return Kubeconfig([path for path, config in loaded], clusters, users, contexts, current, secrets)


def _read_kubeconfig(path: str, explicit: bool) -> Optional[Dict[str, Any]]:
    """One kubeconfig file as a mapping; None for a missing file client-go skips (in KUBECONFIG's list)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except FileNotFoundError:
        if not explicit:
            return None
        raise KubeError(INVALID_KUBECONFIG, "kubeconfig file %s does not exist; set the kubeconfig option to an "
                        "existing kubeconfig file" % path)
    except (IOError, OSError) as error:
        raise KubeError(INVALID_KUBECONFIG, "kubeconfig file %s cannot be read (%s); fix its permissions, or take it "
                        "out of KUBECONFIG" % (path, error.strerror or error))
    config = _parse_document(text, path)
    if config is None:
        return {}  # an empty file is an empty kubeconfig
    if not isinstance(config, dict):
        raise KubeError(INVALID_KUBECONFIG, "kubeconfig file %s is not a kubeconfig (a mapping with clusters, users "
                        "and contexts), it holds a %s; fix or replace it" % (path, type(config).__name__))
    return config


def _named_entries(config: Dict[str, Any], section: str, field: str, path: str) -> Dict[str, Dict[str, Any]]:
    """{name: mapping} of one section (clusters, users, contexts) of one file. client-go refuses a
    file that names an entry twice."""
    entries = {}
    for item in _named_list(config.get(section)):
        name = _text(item.get("name"))
        if name in entries:
            raise KubeError(INVALID_KUBECONFIG, "kubeconfig file %s lists %s %r twice (client-go refuses that); "
                            "remove one" % (path, section, name))
        entries[name] = dict(_mapping(item.get(field)))
    return entries


def _absolute_paths(mapping: Dict[str, Any], keys: Iterable[str], base: str) -> Dict[str, Any]:
    """``mapping`` with the relative file paths under ``keys`` made absolute from ``base``, the directory
    of the file that holds them (client-go's ResolveLocalPaths)."""
    mapping = dict(mapping)
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            mapping[key] = os.path.normpath(os.path.join(base, value))
    return mapping


def _user_with_absolute_paths(user: Dict[str, Any], base: str) -> Dict[str, Any]:
    user = _absolute_paths(user, ("client-certificate", "client-key", "tokenFile"), base)
    plugin = user.get("exec")
    # A command without a path separator is looked up on PATH, as a shell would.
    if isinstance(plugin, dict) and os.sep in _text(plugin.get("command")):
        user["exec"] = _absolute_paths(plugin, ("command",), base)
    return user


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def helm_overrides(params: Dict[str, Any], environ: Dict[str, str]) -> Overrides:
    """What Helm puts over the kubeconfig: the module's options (Helm's flags), else Helm's own
    HELM_KUBE* variables (helm.sh/helm pkg/cli/environment.go reads them the same way)."""
    insecure = params.get("validate_certs") is False or environ.get("HELM_KUBEINSECURE_SKIP_TLS_VERIFY") in _GO_TRUE
    groups = (environ.get("HELM_KUBEASGROUPS") or "").strip(", ")
    return Overrides(
        context=params.get("context") or environ.get("HELM_KUBECONTEXT") or None,
        server=params.get("host") or environ.get("HELM_KUBEAPISERVER") or None,
        token=params.get("api_key") or environ.get("HELM_KUBETOKEN") or None,
        ca_file=params.get("ca_cert") or environ.get("HELM_KUBECAFILE") or None,
        insecure=insecure,
        tls_server_name=environ.get("HELM_KUBETLS_SERVER_NAME") or None,
        as_user=environ.get("HELM_KUBEASUSER") or None,
        as_groups=groups.split(",") if groups else [],
    )


def tls_override_problem(params: Dict[str, Any], environ: Dict[str, str]) -> Optional[str]:
    """Why Helm would refuse the TLS overrides before it connects: a CA (``ca_cert``, HELM_KUBECAFILE) with
    verification off (``validate_certs: false``, HELM_KUBEINSECURE_SKIP_TLS_VERIFY), which client-go refuses
    ("specifying a root certificates file with the insecure flag is not allowed", which Helm reports as the
    cluster unreachable). They often come from two places: AWX's bearer-token credential with Verify SSL off
    injects K8S_AUTH_VERIFY_SSL=False, a play's module_defaults gives ca_cert (or the other way round)."""
    overrides = helm_overrides(params, environ)
    if not (overrides.insecure and overrides.ca_file):
        return None
    # A K8S_AUTH_* variable is named only when it can be the source of the option's value (the option falls back
    # to it when not set): a variable the option's own value overrides is not where that half came from.
    if params.get("validate_certs") is False:
        unverified = "validate_certs is false"
        if _go_false(environ.get("K8S_AUTH_VERIFY_SSL")):
            unverified += " (K8S_AUTH_VERIFY_SSL=%s where the option is not set)" % environ["K8S_AUTH_VERIFY_SSL"]
    else:
        unverified = "HELM_KUBEINSECURE_SKIP_TLS_VERIFY=%s" % environ.get("HELM_KUBEINSECURE_SKIP_TLS_VERIFY")
    if params.get("ca_cert"):
        authority = "ca_cert is %s" % overrides.ca_file
        if _same_path(environ.get("K8S_AUTH_SSL_CA_CERT"), params["ca_cert"]):
            authority += " (K8S_AUTH_SSL_CA_CERT where the option is not set)"
    else:
        authority = "HELM_KUBECAFILE is %s" % overrides.ca_file
    return ("%s and %s: certificates not verified and verified against a CA at once, which client-go (and so Helm) "
            "refuses before it connects; keep one: validate_certs: true with the CA (an AWX bearer-token credential "
            "with Verify SSL on and its CA), or validate_certs: false without ca_cert" % (unverified, authority))


def _go_false(value: Optional[str]) -> bool:
    """Whether an environment value reads as false for a boolean option (Ansible's boolean words)."""
    return value is not None and value.strip().lower() in ("false", "no", "off", "0", "n", "f")


def _same_path(variable: Optional[str], value: Any) -> bool:
    """Whether an environment value is the path option's value (a path option expands ~ and variables)."""
    if not variable:
        return False
    return os.path.expandvars(os.path.expanduser(variable)) == os.path.expandvars(os.path.expanduser(str(value)))


# The context, cluster and user client-go settles on: the mappings with the overrides applied.
Selection = namedtuple("Selection", "context_name cluster_name user_name cluster user")


def select_context(config: Kubeconfig, overrides: Overrides) -> Selection:
    """The context (the override, else current-context), its cluster and user, with Helm's
    overrides applied as clientcmd.DirectClientConfig applies them. KubeError for a context asked
    for that the kubeconfig does not have."""
    context_name = overrides.context or config.current_context
    if overrides.context and overrides.context not in config.contexts:
        raise KubeError(INVALID_KUBECONFIG, "context %r is not in %s (contexts: %s); set the context option (or "
                        "HELM_KUBECONTEXT) to one of them, or leave it unset to use current-context"
                        % (overrides.context, _files_label(config), _names(config.contexts)))
    context = config.contexts.get(context_name) or {}
    cluster_name, user_name = _text(context.get("cluster")), _text(context.get("user"))
    # A context whose cluster or user is missing gets empty ones (client-go requires neither).
    cluster = _cluster_overridden(dict(config.clusters.get(cluster_name) or {}), overrides)
    user = _user_overridden(dict(config.users.get(user_name) or {}), overrides)
    return Selection(context_name, cluster_name, user_name, cluster, user)


def _cluster_overridden(cluster: Dict[str, Any], overrides: Overrides) -> Dict[str, Any]:
    if overrides.server:
        cluster["server"] = overrides.server
    # A CA or insecure override replaces all three, so a kubeconfig CA does not clash with --insecure.
    if overrides.insecure or overrides.ca_file:
        cluster["insecure-skip-tls-verify"] = overrides.insecure
        cluster["certificate-authority"] = overrides.ca_file
        cluster.pop("certificate-authority-data", None)
    # Another server clears the kubeconfig's tls-server-name, which named the old one's certificate.
    if overrides.tls_server_name or overrides.server:
        cluster["tls-server-name"] = overrides.tls_server_name
    return cluster


def _user_overridden(user: Dict[str, Any], overrides: Overrides) -> Dict[str, Any]:
    if overrides.token:
        user["token"] = overrides.token
    if overrides.as_user:
        user["as"] = overrides.as_user
    if overrides.as_groups:
        user["as-groups"] = list(overrides.as_groups)
    return user


def selection_errors(config: Kubeconfig, selection: Selection) -> List[str]:
    """What makes client-go (ConfirmUsable) refuse this context, cluster and user, each with its fix."""
    errors = []
    if selection.context_name and selection.context_name not in config.contexts:
        errors.append("current-context %r is not among the contexts (%s); set the context option to one of them"
                      % (selection.context_name, _names(config.contexts)))
    return errors + _user_errors(selection.user_name, selection.user) + _cluster_errors(
        selection.cluster_name, selection.cluster)


def _user_errors(name: str, user: Dict[str, Any]) -> List[str]:
    errors = []
    if user.get("token") and (user.get("username") or user.get("password")):
        errors.append("user %r has both a token (api_key or HELM_KUBETOKEN count as one) and a username/password; "
                      "client-go allows one authentication method only: drop one" % name)
    if user.get("client-certificate") or user.get("client-certificate-data"):
        errors += _client_certificate_errors(name, user)
    plugin = user.get("exec")
    if plugin is not None:
        errors += _exec_errors(name, user, _mapping(plugin))
    if (user.get("as-uid") or user.get("as-groups") or user.get("as-user-extra")) and not user.get("as"):
        errors.append("user %r asks for impersonated groups, uid or extras (as-groups, as-uid, as-user-extra or "
                      "HELM_KUBEASGROUPS) without a user to impersonate; set as (or HELM_KUBEASUSER) too" % name)
    return errors


def _client_certificate_errors(name: str, user: Dict[str, Any]) -> List[str]:
    errors = []
    for field in ("client-certificate", "client-key"):
        if user.get(field) and user.get(field + "-data"):
            errors.append("user %r sets both %s and %s-data (client-go refuses that); keep one" % (name, field, field))
    if not user.get("client-key") and not user.get("client-key-data"):
        errors.append("user %r has a client certificate but no client-key or client-key-data; add the key" % name)
    for field in ("client-certificate", "client-key"):
        problem = _unreadable(user.get(field))
        if problem:
            errors.append("%s %s of user %r cannot be read (%s); fix the path or its permissions"
                          % (field, user[field], name, problem))
    return errors


def _exec_errors(name: str, user: Dict[str, Any], plugin: Dict[str, Any]) -> List[str]:
    errors = []
    if user.get("auth-provider"):
        errors.append("user %r has both an auth-provider and an exec plugin (client-go refuses that); keep one" % name)
    if not plugin.get("command"):
        errors.append("the exec plugin of user %r has no command; set exec.command" % name)
    api_version = _text(plugin.get("apiVersion"))
    if not api_version:
        errors.append("the exec plugin of user %r has no apiVersion; set exec.apiVersion to "
                      "client.authentication.k8s.io/v1" % name)
    if any(not _text(entry.get("name")) for entry in _named_list(plugin.get("env"))):
        errors.append("an exec.env entry of user %r has no name; give every entry a name" % name)
    mode = _exec_interactive_mode(plugin)
    if not mode:
        errors.append("the exec plugin of user %r sets no interactiveMode, which %s requires; add interactiveMode: "
                      "Never" % (name, api_version or "its apiVersion"))
    elif mode not in _EXEC_INTERACTIVE_MODES:
        errors.append("the exec plugin of user %r has interactiveMode %r; use Never, IfAvailable or Always"
                      % (name, mode))
    return errors


def _exec_interactive_mode(plugin: Dict[str, Any]) -> str:
    mode = _text(plugin.get("interactiveMode"))
    if not mode and _text(plugin.get("apiVersion")) in _EXEC_DEFAULT_INTERACTIVE:
        return "IfAvailable"
    return mode


def _cluster_errors(name: str, cluster: Dict[str, Any]) -> List[str]:
    errors = []
    proxy = cluster.get("proxy-url")
    if proxy and urlsplit(_text(proxy)).scheme not in _PROXY_SCHEMES:
        errors.append("cluster %r has proxy-url %s, whose scheme is not http, https or socks5; fix the proxy-url"
                      % (name, without_userinfo(_text(proxy))))
    if cluster.get("certificate-authority") and cluster.get("certificate-authority-data"):
        errors.append("cluster %r sets both certificate-authority and certificate-authority-data (client-go refuses "
                      "that); keep one" % name)
    problem = _unreadable(cluster.get("certificate-authority"))
    if problem:
        errors.append("certificate-authority %s of cluster %r cannot be read (%s); fix the path (ca_cert, "
                      "HELM_KUBECAFILE or the kubeconfig) or its permissions"
                      % (cluster["certificate-authority"], name, problem))
    return errors


def _unreadable(path: Any) -> Optional[str]:
    """Why the file at ``path`` cannot be read, or None (also when no path is set)."""
    if not path:
        return None
    try:
        with open(_text(path), "rb"):
            return None
    except (IOError, OSError) as error:
        return error.strerror or str(error)


def _files_label(config: Kubeconfig) -> str:
    if not config.files:
        return "the kubeconfig (none found)"
    return "kubeconfig %s" % ", ".join(config.files)


def _names(entries: Dict[str, Any]) -> str:
    return ", ".join(sorted(entries)) or "none"


# --- server, TLS and proxy ------------------------------------------------------------------------

# TLS as client-go sets it up: ``ca_file`` or ``ca_data`` (PEM bytes; neither: the system's CAs),
# ``insecure`` (no verification), ``server_name`` (what the certificate must name instead of the URL's host).
Tls = namedtuple("Tls", "ca_file ca_data insecure server_name")


def server_url(server: str, cluster_name: str) -> str:
    """The API server URL without its trailing slash. KubeError unless it is an http(s) URL with a host:
    client-go reads a server without a scheme as plain http (no TLS, no credentials), which is never
    what a kubeconfig meant."""
    url = urlsplit(server)
    if url.scheme in ("http", "https") and url.hostname:
        # the scheme lower-cased (urlsplit does, the text does not): HTTP:// is plain http too
        return (url.scheme + server[len(url.scheme):]).rstrip("/")
    where = "cluster %r" % cluster_name if cluster_name else "the host option"
    if "://" not in server:
        raise KubeError(INVALID_KUBECONFIG, "the API server %s of %s has no https:// in front; client-go would talk "
                        "plain http to it without credentials. Write https://%s" % (server, where, server))
    raise KubeError(INVALID_KUBECONFIG, "the API server %s of %s is not an https:// (or http://) URL; fix the server "
                    "URL (host option or the kubeconfig cluster's server)" % (without_userinfo(server), where))


def tls_settings(cluster: Dict[str, Any], cluster_name: str) -> Tls:
    """The TLS settings of an https server. KubeError for a CA together with insecure-skip-tls-verify,
    which client-go refuses, and for certificate data that is not base64."""
    ca_data = _decoded(cluster.get("certificate-authority-data"), "certificate-authority-data of cluster %r"
                       % cluster_name)
    ca_file = _text(cluster.get("certificate-authority")) or None
    insecure = cluster.get("insecure-skip-tls-verify") is True
    if insecure and (ca_file or ca_data):
        raise KubeError(INVALID_KUBECONFIG, "cluster %r has a certificate authority and insecure-skip-tls-verify: true "
                        "at once, which client-go (and so Helm) refuses; drop the CA (certificate-authority, ca_cert, "
                        "HELM_KUBECAFILE) or keep certificates verified (validate_certs: true, "
                        "HELM_KUBEINSECURE_SKIP_TLS_VERIFY unset)" % cluster_name)
    return Tls(ca_file, ca_data, insecure, _text(cluster.get("tls-server-name")) or None)


def _decoded(data: Any, what: str) -> Optional[bytes]:
    """The bytes of a kubeconfig ``*-data`` field (base64, as Go's JSON carries []byte)."""
    if not data:
        return None
    try:
        return base64.b64decode("".join(_text(data).split()), validate=True)
    except (binascii.Error, ValueError):
        raise KubeError(INVALID_KUBECONFIG, "%s is not base64 (kubeconfig *-data fields hold the base64 of the PEM "
                        "text); fix it, e.g. with base64 -w0 < file.pem" % what)


def proxy_for(server: str, proxy_url: Optional[str], environ: Dict[str, str]) -> Optional[str]:
    """The proxy for ``server``: the cluster's proxy-url, else HTTPS_PROXY/HTTP_PROXY unless NO_PROXY
    exempts the server (Go's http.ProxyFromEnvironment). Normalized to scheme://[userinfo@]host:port."""
    if proxy_url:
        return _normalized_proxy(proxy_url)
    url = urlsplit(server)
    proxy = _environment_proxy(url.scheme, environ)
    no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    if not proxy or not _proxied(url.hostname or "", url.port or _DEFAULT_PORTS[url.scheme], no_proxy):
        return None
    return _normalized_proxy(proxy)


def _environment_proxy(scheme: str, environ: Dict[str, str]) -> Optional[str]:
    # Go reads the uppercase name first; REQUEST_METHOD (CGI) is not a case a module meets.
    names = ("HTTPS_PROXY", "https_proxy") if scheme == "https" else ("HTTP_PROXY", "http_proxy")
    for name in names:
        if environ.get(name):
            return environ[name]
    return None


def _normalized_proxy(proxy: str) -> str:
    url = urlsplit(proxy)
    if url.scheme not in _PROXY_SCHEMES + ("socks5h",) or not url.hostname:
        # Go reads "proxy:3128" (no or another scheme) as http://proxy:3128
        url = urlsplit("http://" + proxy)
    userinfo = url.netloc.rpartition("@")[0]
    host = "[%s]" % url.hostname if ":" in (url.hostname or "") else url.hostname
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
    return "%s://%s%s:%d" % (url.scheme, userinfo + "@" if userinfo else "", host, port)


def _proxied(host: str, port: int, no_proxy: str) -> bool:
    """Whether a request to host:port goes through the environment's proxy: Go's httpproxy rules
    (localhost and loopback never; NO_PROXY entries: '*', an IP or CIDR, a domain that also matches
    its subdomains, '.domain' or '*.domain' for subdomains only, each with an optional :port)."""
    host = host.lower().strip()
    address = _ip(host)
    if host == "localhost" or (address is not None and address.is_loopback):
        return False
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if entry and _no_proxy_matches(entry, host, port, address):
            return False
    return True


def _no_proxy_matches(entry: str, host: str, port: int, address) -> bool:
    if entry == "*":
        return True
    if "/" in entry:
        try:
            return address is not None and address in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    entry_host, entry_port = _split_host_port(entry)
    if entry_port and entry_port != str(port):
        return False
    entry_address = _ip(entry_host)
    if entry_address is not None:
        return address == entry_address
    if not entry_host:
        return False
    if entry_host.startswith("*."):
        entry_host = entry_host[1:]
    if entry_host.startswith("."):
        return host.endswith(entry_host)
    return host == entry_host or host.endswith("." + entry_host)


def _split_host_port(entry: str) -> Tuple[str, str]:
    """(host, port) of a NO_PROXY entry: host, host:port, [v6]:port or a bare IPv6 address."""
    if entry.startswith("["):
        host, rest = (entry[1:].split("]", 1) + [""])[:2]
        return host, rest[1:] if rest.startswith(":") else ""
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, port
    return entry, ""


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# --- credentials ----------------------------------------------------------------------------------

class _NoCredentials(object):
    """No Authorization header (an anonymous user, or one with a client certificate only)."""

    def authorization(self) -> Optional[str]:
        return None

    def certificate(self) -> Optional[Tuple[str, str]]:
        """(certificate PEM, key PEM) a credential plugin gave, or None."""
        return None

    def invalidate(self) -> bool:
        return False


class _BearerToken(_NoCredentials):
    def __init__(self, token: str):
        self._token = token

    def authorization(self) -> Optional[str]:
        return "Bearer " + self._token


class _TokenFile(_NoCredentials):
    """A bearer token read from a file and read again when the file changes (a projected service
    account token is rotated in place). As in client-go, the file wins over a token given with it
    while it can be read, and the token is the fallback."""

    def __init__(self, path: str, fallback: Optional[str], on_secret: Callable[[Iterable[str]], None]):
        self.path = path
        self._fallback = fallback
        self._on_secret = on_secret
        self._lock = threading.Lock()
        self._stamp = None
        self._token = None
        if not self._current() and not fallback:
            raise KubeError(INVALID_KUBECONFIG, "the token file %s cannot be read or is empty; fix the tokenFile path "
                            "(or the service account token mount), or give a token with api_key" % path)

    def authorization(self) -> Optional[str]:
        return "Bearer " + (self._current() or self._fallback or "")

    def invalidate(self) -> bool:
        """Read the file again now (a rewrite within the file system's timestamp granularity keeps its
        stamp); True when the token changed."""
        with self._lock:
            before, self._stamp = self._token, None
        return self._current() != before

    def _current(self) -> Optional[str]:
        with self._lock:
            try:
                info = os.stat(self.path)
            except OSError:
                return self._token
            stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
            if stamp != self._stamp:
                self._stamp = stamp
                token = _read_token(self.path)
                if token:
                    self._token = token
                    self._on_secret([token])
            return self._token


def _read_token(path: str) -> Optional[str]:
    try:
        with open(path, "r") as handle:
            return handle.read().strip() or None
    except (IOError, OSError, UnicodeDecodeError):
        return None


# --- exec credential plugins ----------------------------------------------------------------------

# How to run one plugin: ``command`` as written (resolved against the kubeconfig's directory when it
# has a path separator), ``env`` [(name, value)], ``cluster`` the ExecCredential spec.cluster or None.
ExecSpec = namedtuple("ExecSpec", "user_name api_version command args env install_hint cluster")
# What a plugin gave: a token and/or a client certificate (PEM text), valid until ``expires`` (UTC
# datetime; None: for the life of the process).
ExecCredential = namedtuple("ExecCredential", "token certificate key expires")

# Credentials are reused until they expire, by every connection of the process that runs the same plugin
# for the same cluster (client-go's cache, keyed the same way).
_EXEC_CREDENTIALS = {}  # type: Dict[str, ExecCredential]
_EXEC_LOCK = threading.Lock()


class _ExecPlugin(_NoCredentials):
    """Credentials from a client-go credential plugin, cached until they expire."""

    def __init__(self, spec: ExecSpec, environ: Dict[str, str], on_secret: Callable[[Iterable[str]], None]):
        self.spec = spec
        self._environ = environ
        self._on_secret = on_secret
        # default=str: a YAML extension may hold dates, which JSON has no type for
        self._key = json.dumps([spec.api_version, spec.command, spec.args, spec.env, spec.cluster], sort_keys=True,
                               default=str)
        self._sent = threading.local()  # per thread: the credential its last request carried

    def authorization(self) -> Optional[str]:
        token = self.credential().token
        return "Bearer " + token if token else None

    def certificate(self) -> Optional[Tuple[str, str]]:
        credential = self.credential()
        return (credential.certificate, credential.key) if credential.certificate else None

    def credential(self) -> ExecCredential:
        with _EXEC_LOCK:
            credential = _EXEC_CREDENTIALS.get(self._key)
            if credential is None or _expired(credential):
                credential = run_exec_plugin(self.spec, self._environ)
                _EXEC_CREDENTIALS[self._key] = credential
                self._on_secret([value for value in (credential.token, credential.key) if value])
            self._sent.credential = credential
            return credential

    def invalidate(self) -> bool:
        """Drop the credential this thread sent (the server refused it), unless another thread already
        replaced or dropped it. Always True: a retry gets a credential the server has not refused yet
        (the one another thread fetched, or a new run of the plugin)."""
        with _EXEC_LOCK:
            if _EXEC_CREDENTIALS.get(self._key) is getattr(self._sent, "credential", None):
                _EXEC_CREDENTIALS.pop(self._key, None)
            return True


def _expired(credential: ExecCredential) -> bool:
    return credential.expires is not None and datetime.datetime.now(datetime.timezone.utc) > credential.expires


def exec_spec(user_name: str, plugin: Dict[str, Any], cluster: Optional[Dict[str, Any]]) -> ExecSpec:
    """The ExecSpec of a kubeconfig user's ``exec`` section; ``cluster`` is passed on only when the
    plugin asks for it (provideClusterInfo)."""
    return ExecSpec(
        user_name=user_name,
        api_version=_text(plugin.get("apiVersion")),
        command=_text(plugin.get("command")),
        args=[_text(arg) for arg in _as_list(plugin.get("args"))],
        env=[(_text(entry.get("name")), _text(entry.get("value"))) for entry in _named_list(plugin.get("env"))],
        install_hint=_printable(_text(plugin.get("installHint"))),
        cluster=cluster if plugin.get("provideClusterInfo") is True else None,
    )


def _printable(text: str) -> str:
    # client-go strips what could drive a terminal (ANSI escapes) from the hint it prints
    return "".join(character for character in text if character.isprintable() or character in "\t\n")


def exec_cluster_info(server: str, cluster: Dict[str, Any], tls: Tls) -> Dict[str, Any]:
    """The ExecCredential spec.cluster of client-go's ConfigToExecCluster: the server and its TLS settings,
    the CA as data, the proxy-url, and the cluster's client.authentication.k8s.io/exec extension."""
    info = {"server": server}
    if tls.server_name:
        info["tls-server-name"] = tls.server_name
    if tls.insecure:
        info["insecure-skip-tls-verify"] = True
    ca_data = tls.ca_data or (_read_bytes(tls.ca_file) if tls.ca_file else None)
    if ca_data:
        info["certificate-authority-data"] = base64.b64encode(ca_data).decode("ascii")
    if cluster.get("proxy-url"):
        info["proxy-url"] = _text(cluster["proxy-url"])
    for extension in _named_list(cluster.get("extensions")):
        if extension.get("name") == EXEC_CLUSTER_EXTENSION and extension.get("extension") is not None:
            info["config"] = extension["extension"]
    return info


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def run_exec_plugin(spec: ExecSpec, environ: Dict[str, str]) -> ExecCredential:
    """Run the plugin as client-go does (an argv, no shell, stdin not a terminal, the ExecCredential
    request in KUBERNETES_EXEC_INFO) and read its credential. KubeError(ACCESS_DENIED) naming the plugin
    when it is missing, fails, or prints no credential."""
    path = _command_path(spec.command, environ)
    if path is None:
        where = "" if os.sep in spec.command else " on PATH (%s)" % (environ.get("PATH") or os.defpath)
        raise KubeError(ACCESS_DENIED, "the kubeconfig user %r gets its credentials from the exec plugin %s, which "
                        "was not found%s; install it on the managed node, or fix exec.command in the kubeconfig%s"
                        % (spec.user_name, spec.command, where, _hint(spec)))
    request = {"apiVersion": spec.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    if spec.cluster is not None:
        request["spec"]["cluster"] = spec.cluster
    env = dict(environ)
    env.update(spec.env)
    env[EXEC_INFO_VARIABLE] = json.dumps(request, default=str)
    try:
        # Not module.run_command: it has no timeout, and Connection.from_params has no module to call it on.
        finished = subprocess.run(  # pylint: disable=ansible-bad-function  # see above
            [path] + list(spec.args), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=EXEC_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise KubeError(ACCESS_DENIED, "the exec credential plugin %s of kubeconfig user %r did not finish within %d "
                        "seconds; run it by hand to see whether it waits for a login or the network"
                        % (spec.command, spec.user_name, EXEC_TIMEOUT))
    except OSError as error:
        raise KubeError(ACCESS_DENIED, "the exec credential plugin %s of kubeconfig user %r could not be started (%s); "
                        "make it an executable the task's user may run%s"
                        % (path, spec.user_name, error.strerror or error, _hint(spec)))
    if finished.returncode != 0:
        raise KubeError(ACCESS_DENIED, "the exec credential plugin %s of kubeconfig user %r exited %d (%s); fix what "
                        "it reports (an expired login, a missing profile or tool), or give a token with api_key%s"
                        % (spec.command, spec.user_name, finished.returncode,
                           _last_line(finished.stderr) or "no error message", _hint(spec)))
    return _exec_credential(spec, finished.stdout)


def _command_path(command: str, environ: Dict[str, str]) -> Optional[str]:
    if os.sep in command:
        return command if os.path.isfile(command) and os.access(command, os.X_OK) else None
    return shutil.which(command, path=environ.get("PATH") or os.defpath)


def _hint(spec: ExecSpec) -> str:
    return "; the kubeconfig's installHint says: %s" % " ".join(spec.install_hint.split()) if spec.install_hint else ""


def _last_line(output: bytes) -> str:
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _exec_credential(spec: ExecSpec, stdout: bytes) -> ExecCredential:
    """The credential in a plugin's output: an ExecCredential of the plugin's own apiVersion."""
    def refuse(reason):
        return KubeError(ACCESS_DENIED, "the exec credential plugin %s of kubeconfig user %r printed no usable "
                         "credential: %s; it must print an ExecCredential (%s) with status.token, or "
                         "status.clientCertificateData and status.clientKeyData" % (spec.command, spec.user_name,
                                                                                    reason, spec.api_version))
    try:
        document = json.loads(stdout)
    except ValueError:
        raise refuse("its output is not JSON")
    document = _mapping(document)
    if document.get("apiVersion") != spec.api_version or document.get("kind") != "ExecCredential":
        raise refuse("it answered with %s %s instead of %s ExecCredential" % (
            document.get("apiVersion") or "no apiVersion", document.get("kind") or "no kind", spec.api_version))
    status = document.get("status")
    if not isinstance(status, dict):
        raise refuse("it has no status")
    token = _text(status.get("token")) or None
    certificate, key = _text(status.get("clientCertificateData")) or None, _text(status.get("clientKeyData")) or None
    if not token and not certificate and not key:
        raise refuse("its status has neither a token nor a certificate and key")
    if bool(certificate) != bool(key):
        raise refuse("its status has a client certificate or key without the other")
    expires = status.get("expirationTimestamp")
    when = _rfc3339(_text(expires)) if expires else None
    if expires and when is None:
        raise refuse("status.expirationTimestamp %r is not an RFC 3339 time" % _text(expires)[:40])
    return ExecCredential(token, certificate, key, when)


def _rfc3339(text: str) -> Optional[datetime.datetime]:
    """An RFC 3339 time as an aware datetime (fractions beyond microseconds dropped), else None."""
    match = _RFC3339.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone in ("Z", "z"):
        offset = datetime.timezone.utc
    else:
        sign = -1 if zone[0] == "-" else 1
        offset = datetime.timezone(sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                                 int((fraction or "0")[:6].ljust(6, "0")), tzinfo=offset)
    except ValueError:
        return None


# --- what our HTTP client connects with -------------------------------------------------------------

class ApiAccess(object):
    """How to reach the API server as Helm would: ``server`` (no trailing slash), ``tls_server_name``,
    ``proxy_url`` (an HTTP CONNECT proxy, scheme://[user:password@]host:port), and, per request,
    ``ssl_context()`` and ``headers()``. Safe to share between threads."""

    def __init__(self, server: str, source: str, tls: Optional[Tls] = None, proxy_url: Optional[str] = None,
                 credentials: Optional[_NoCredentials] = None,
                 client_certificate: Optional[Tuple[Tuple[Optional[str], Optional[bytes]], ...]] = None,
                 impersonation: Iterable[Tuple[str, str]] = ()):
        self.server = server
        self.tls_server_name = tls.server_name if tls else None
        self.proxy_url = proxy_url
        self._source = source
        self._tls = tls
        self._credentials = credentials or _NoCredentials()
        self._client_certificate = client_certificate
        self._impersonation = list(impersonation)
        self._lock = threading.Lock()
        self._context = None
        self._context_certificate = None

    def ssl_context(self) -> Optional[ssl.SSLContext]:
        """The TLS context for the server (None for http://): its CA (else the system's), no verification
        when insecure, the client certificate. Built once, again when a plugin gave a new certificate.
        KubeError when a CA or certificate cannot be loaded."""
        if self._tls is None:
            return None
        plugin_certificate = self._credentials.certificate()
        with self._lock:
            if self._context is None or self._context_certificate != plugin_certificate:
                self._context = _ssl_context(self._tls, self._client_certificate, plugin_certificate, self.describe())
                self._context_certificate = plugin_certificate
            return self._context

    def headers(self) -> List[Tuple[str, str]]:
        """Authorization (a bearer token; a token file or plugin credential refreshed when due) and the
        Impersonate-* headers; none for http://, which never carries credentials."""
        if self._tls is None:
            return []
        authorization = self._credentials.authorization()
        return ([("Authorization", authorization)] if authorization else []) + list(self._impersonation)

    def invalidate(self) -> bool:
        """After a 401: drop a plugin's credential, read a token file again. True when there is a fresher
        credential to retry with (the caller retries once)."""
        return self._credentials.invalidate()

    def describe(self) -> str:
        """The server and where it comes from, for messages (no credentials)."""
        return "%s (%s)" % (without_userinfo(self.server), self._source)


def _ssl_context(tls: Tls, client_certificate, plugin_certificate, described: str) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=tls.ca_file, cadata=tls.ca_data.decode("ascii", "replace")
                                             if tls.ca_data else None)
    except (ssl.SSLError, OSError, ValueError) as error:
        raise KubeError(INVALID_KUBECONFIG, "the certificate authority for %s (%s) cannot be loaded (%s); give the CA "
                        "certificate in PEM (ca_cert, HELM_KUBECAFILE or the kubeconfig cluster)"
                        % (described, tls.ca_file or "certificate-authority-data", error))
    if tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if plugin_certificate:
        pair = ((None, plugin_certificate[0].encode("utf-8")), (None, plugin_certificate[1].encode("utf-8")))
    else:
        pair = client_certificate
    if pair:
        _load_client_certificate(context, pair, described)
    return context


def _load_client_certificate(context: ssl.SSLContext, pair, described: str) -> None:
    """Load (certificate, key), each a (path, PEM data) pair. ssl reads them from files only: data goes
    to an anonymous in-memory file where the system has them (Linux), so a key never touches a disk,
    else to a private temporary file removed once loaded."""
    opened, temporary = [], []
    try:
        paths = []
        for path, data in pair:
            if data is not None:
                path = _in_memory_file(data, opened) or _temporary_file(data, temporary)
            paths.append(path)
        context.load_cert_chain(paths[0], paths[1])
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or error.strerror or error
        raise KubeError(INVALID_KUBECONFIG, "the client certificate and key for %s cannot be loaded (%s); check that "
                        "they are a matching PEM certificate and key" % (described, reason))
    finally:
        for handle in opened:
            os.close(handle)
        for path in temporary:
            os.remove(path)


def _in_memory_file(data: bytes, opened: List[int]) -> Optional[str]:
    """A path to ``data`` in an anonymous in-memory file (its descriptor appended to ``opened``), or None
    where the system has none."""
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        handle = os.memfd_create("matih-helm-pem")
    except OSError:
        return None
    opened.append(handle)
    remaining = memoryview(data)
    while remaining:
        remaining = remaining[os.write(handle, remaining):]
    return "/proc/self/fd/%d" % handle


def _temporary_file(data: bytes, temporary: List[str]) -> str:
    handle, path = tempfile.mkstemp(prefix="matih-helm-", suffix=".pem")  # mode 0600
    temporary.append(path)
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    return path


def _impersonation_headers(user: Dict[str, Any]) -> List[Tuple[str, str]]:
    """client-go's impersonation headers: one Impersonate-Group per group, one Impersonate-Extra-<key>
    per value (the key percent-encoded where a header name cannot hold it)."""
    if not user.get("as"):
        return []
    headers = [("Impersonate-User", _text(user["as"]))]
    if user.get("as-uid"):
        headers.append(("Impersonate-Uid", _text(user["as-uid"])))
    headers += [("Impersonate-Group", _text(group)) for group in _as_list(user.get("as-groups"))]
    extras = _mapping(user.get("as-user-extra"))
    for key in sorted(extras):
        headers += [("Impersonate-Extra-" + _header_key(_text(key)), _text(value)) for value in _as_list(extras[key])]
    return headers


def _as_list(value: Any) -> List[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _header_key(key: str) -> str:
    return "".join(character if _HEADER_TOKEN.match(character) else "".join(
        "%%%02X" % byte for byte in character.encode("utf-8")) for character in key)


# --- putting it together --------------------------------------------------------------------------

def _unsupported(feature: str, fix: str = _TO_FIX_API) -> str:
    return ("%s, which matih.helm's API client does not support; Helm still connects with it, so reads go through "
            "Helm; %s" % (feature, fix))


class _Analysis(namedtuple("_Analysis", "access problem")):
    """An ApiAccess, or why our client cannot have one (``problem``; ``access`` is None then)."""


def analyse(params: Dict[str, Any], kubeconfig_path: Optional[str], environ: Dict[str, str],
            on_secret: Callable[[Iterable[str]], None]) -> _Analysis:
    """The connection client-go would make for these options, as an ApiAccess, or the feature our client
    lacks. KubeError when client-go (and so Helm) could not connect either."""
    files, explicit = kubeconfig_files(kubeconfig_path, environ)
    try:
        config = load_kubeconfig(files, explicit)
    except _NoYaml as missing:
        return _Analysis(None, _unsupported(
            "kubeconfig file %s is YAML and PyYAML is not installed on the managed node" % missing,
            "install PyYAML there (python3 -m pip install pyyaml), or give the kubeconfig as JSON"))
    on_secret(config.secrets)
    overrides = helm_overrides(params, environ)
    if overrides.token:
        on_secret([overrides.token])  # HELM_KUBETOKEN is as secret as api_key, which no_log covers
    selection = select_context(config, overrides)
    errors = selection_errors(config, selection)
    if errors:
        raise KubeError(INVALID_KUBECONFIG, "%s cannot be used for %s: %s" % (
            _files_label(config), _context_label(selection), "; ".join(errors)))
    if not selection.cluster.get("server"):
        if _in_cluster_possible(selection, environ):
            return _in_cluster_access(overrides, environ, on_secret)
        raise KubeError(NO_API_SERVER, _no_server_message(config, selection))
    return _kubeconfig_access(selection, environ, on_secret)


def _context_label(selection: Selection) -> str:
    return "context %r" % selection.context_name if selection.context_name else "no context"


def _no_server_message(config: Kubeconfig, selection: Selection) -> str:
    if selection.cluster_name and selection.cluster_name not in config.clusters:
        return ("No API server is configured: %s names cluster %r, which %s does not have (clusters: %s); fix the "
                "context, set the context option to another one, or set the host option"
                % (_context_label(selection), selection.cluster_name, _files_label(config), _names(config.clusters)))
    if selection.cluster_name:
        return ("No API server is configured: cluster %r of %s has no server URL, so Helm would fall back to "
                "http://localhost:8080; add its server to %s, or set the host option"
                % (selection.cluster_name, _context_label(selection), _files_label(config)))
    if config.files:
        return ("No API server is configured: %s gives %s no cluster server (current-context or the context option "
                "missing, or a context without a cluster); set the context option to a context with a cluster, or "
                "the host option" % (_files_label(config), _context_label(selection)))
    return ("No API server is configured: no kubeconfig (kubeconfig option, KUBECONFIG or ~/.kube/config), no host "
            "option, and not running in a pod with a service account; set the kubeconfig, context or host option")


def _in_cluster_possible(selection: Selection, environ: Dict[str, str]) -> bool:
    """client-go turns to the pod's service account when the kubeconfig gives it nothing but client-go's
    defaults (impersonation or a proxy-url make the configuration another one) and the pod has one."""
    if not environ.get("KUBERNETES_SERVICE_HOST") or not environ.get("KUBERNETES_SERVICE_PORT"):
        return False
    if selection.user.get("as") or selection.cluster.get("proxy-url"):
        return False
    return os.path.isfile(IN_CLUSTER_TOKEN_FILE)


def _in_cluster_access(overrides: Overrides, environ: Dict[str, str],
                       on_secret: Callable[[Iterable[str]], None]) -> _Analysis:
    """rest.InClusterConfig with the only overrides client-go applies to it: a token and a CA file."""
    host = environ["KUBERNETES_SERVICE_HOST"]
    server = "https://%s:%s" % ("[%s]" % host if ":" in host else host, environ["KUBERNETES_SERVICE_PORT"])
    proxy, problem = _supported_proxy(proxy_for(server, None, environ))
    if problem:
        return _Analysis(None, problem)
    ca_file = overrides.ca_file or (IN_CLUSTER_CA_FILE if _unreadable(IN_CLUSTER_CA_FILE) is None else None)
    if overrides.token:
        credentials = _BearerToken(overrides.token)
    else:
        credentials = _TokenFile(IN_CLUSTER_TOKEN_FILE, None, on_secret)
    return _Analysis(ApiAccess(server, "in-cluster service account", Tls(ca_file, None, False, None), proxy,
                               credentials), None)


def _supported_proxy(proxy: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """(proxy, None), or (None, problem) for a proxy our client cannot tunnel through."""
    if proxy and urlsplit(proxy).scheme not in SUPPORTED_PROXY_SCHEMES:
        return None, _unsupported("the API server is reached through the %s proxy %s" % (
            urlsplit(proxy).scheme, without_userinfo(proxy)), "use an HTTP proxy (proxy-url or HTTPS_PROXY) or none "
                                                              "for helm_release_drift")
    return proxy, None


def _kubeconfig_access(selection: Selection, environ: Dict[str, str],
                       on_secret: Callable[[Iterable[str]], None]) -> _Analysis:
    cluster, user = selection.cluster, selection.user
    server = server_url(_text(cluster["server"]), selection.cluster_name)
    proxy, problem = _supported_proxy(proxy_for(server, _text(cluster.get("proxy-url")) or None, environ))
    source = _context_label(selection) if selection.context_name else "host override, no kubeconfig context"
    if urlsplit(server).scheme == "http":
        # client-go reads no credentials for a server without TLS: nothing secret crosses the network in clear
        return _Analysis(None if problem else ApiAccess(server, source, None, proxy), problem)
    tls = tls_settings(cluster, selection.cluster_name)
    problem = problem or _user_problem(selection.user_name, user)
    if problem:
        return _Analysis(None, problem)
    credentials = _credentials(selection.user_name, user, lambda: exec_cluster_info(server, cluster, tls), environ,
                               on_secret)
    return _Analysis(ApiAccess(server, source, tls, proxy, credentials, _client_certificate(selection.user_name, user),
                               _impersonation_headers(user)), None)


def _uses_exec(user: Dict[str, Any]) -> bool:
    """client-go runs the plugin only when the user has no other credential (a token overrides it)."""
    other = user.get("token") or user.get("tokenFile") or user.get("username") or user.get("client-certificate") or \
        user.get("client-certificate-data")
    return isinstance(user.get("exec"), dict) and not other


def _user_problem(name: str, user: Dict[str, Any]) -> Optional[str]:
    """The credential feature of this user our client lacks, or None."""
    if user.get("auth-provider"):
        provider = _text(_mapping(user["auth-provider"]).get("name")) or "?"
        return _unsupported("the kubeconfig user %r authenticates with auth-provider %s (deprecated)" % (name, provider))
    if user.get("username") and not (user.get("token") or user.get("tokenFile")):
        # kube-apiserver dropped basic auth in 1.19; only a proxy in front of it could take it
        return _unsupported("the kubeconfig user %r authenticates with a username and password (basic auth, which "
                            "kube-apiserver no longer accepts since 1.19)" % name)
    if not _uses_exec(user):
        return None
    plugin = user["exec"]
    if _text(plugin.get("apiVersion")) not in EXEC_API_VERSIONS:
        return _unsupported("the exec plugin of kubeconfig user %r speaks %s (only %s are supported)" % (
            name, _text(plugin.get("apiVersion")), " and ".join(EXEC_API_VERSIONS)))
    if _exec_interactive_mode(plugin) == "Always":
        return _unsupported("the exec plugin of kubeconfig user %r needs a terminal (interactiveMode: Always), and a "
                            "task has none" % name, "set interactiveMode: IfAvailable or Never if the plugin can work "
                                                    "without one, or " + _TO_FIX_API)
    return None


def _credentials(name: str, user: Dict[str, Any], cluster_info: Callable[[], Dict[str, Any]], environ: Dict[str, str],
                 on_secret: Callable[[Iterable[str]], None]) -> _NoCredentials:
    """client-go's order: a token file (the token its fallback), a token, a username and password, and
    the exec plugin only when there is no other credential (``cluster_info`` makes its spec.cluster)."""
    if user.get("tokenFile"):
        return _TokenFile(_text(user["tokenFile"]), _text(user.get("token")) or None, on_secret)
    if user.get("token"):
        return _BearerToken(_text(user["token"]))
    if _uses_exec(user):
        return _ExecPlugin(exec_spec(name, user["exec"], cluster_info()), environ, on_secret)
    return _NoCredentials()


def _client_certificate(name: str, user: Dict[str, Any]):
    """((certificate path, data), (key path, data)) from the kubeconfig user, or None."""
    if not user.get("client-certificate") and not user.get("client-certificate-data"):
        return None
    return tuple((_text(user.get(field)) or None, _decoded(user.get(field + "-data"), "%s-data of user %r" % (field, name)))
                 for field in ("client-certificate", "client-key"))


class Connection(object):
    """One task's connection: Helm's flags and environment, and our HTTP client's ApiAccess, from the
    same options and environment."""

    def __init__(self, params: Dict[str, Any], kubeconfig_path: Optional[str], environ: Dict[str, str],
                 on_secret: Optional[Callable[[Iterable[str]], None]] = None):
        self.params = dict(params)
        self.kubeconfig_path = kubeconfig_path
        self.environ = dict(environ)
        self._on_secret = on_secret or (lambda secrets: None)
        self._lock = threading.Lock()
        self._analysis = None
        self._error = None

    @classmethod
    def from_module(cls, module, environ: Optional[Dict[str, str]] = None) -> "Connection":
        """The connection of the module's options: the kubeconfig option checked (resolve_kubeconfig:
        KubeError for a broken one) and its secrets masked, as are the credentials read later. KubeError too for TLS
        overrides Helm would refuse (tls_override_problem), before Helm runs."""
        environ = dict(os.environ) if environ is None else environ
        problem = tls_override_problem(module.params, environ)
        if problem:
            raise KubeError(INVALID_KUBECONFIG, problem)
        kubeconfig_path = resolve_kubeconfig(module)
        return cls(module.params, kubeconfig_path, environ, module.no_log_values.update)

    @classmethod
    def from_params(cls, params: Dict[str, Any], kubeconfig_path: Optional[str], environ: Dict[str, str]) -> "Connection":
        """The connection of connection options without a module (tests, plugins); nothing is masked."""
        return cls(params, kubeconfig_path, environ)

    def helm_flags(self) -> List[str]:
        """Helm's global connection flags (never the token: see helm_environ)."""
        return connection_flags(self.params, self.kubeconfig_path)

    def helm_environ(self) -> Dict[str, str]:
        """Helm's extra environment: HELM_KUBETOKEN for api_key."""
        return connection_environ(self.params)

    @property
    def api_problem(self) -> Optional[str]:
        """Why our HTTP client cannot connect as Helm does (a feature it lacks), or None. None too when
        the connection cannot work at all: api_access() then raises what is wrong."""
        analysis = self._analyse()
        return analysis.problem if analysis else None

    def api_access(self) -> ApiAccess:
        """The ApiAccess (built once). KubeError: no_api_server, invalid_kubeconfig, or
        unsupported_kubeconfig with api_problem's message."""
        analysis = self._analyse()
        if analysis is None:
            raise self._error
        if analysis.problem:
            raise KubeError(UNSUPPORTED_KUBECONFIG, analysis.problem)
        return analysis.access

    def _analyse(self) -> Optional[_Analysis]:
        with self._lock:
            if self._analysis is None and self._error is None:
                try:
                    self._analysis = analyse(self.params, self.kubeconfig_path, self.environ, self._on_secret)
                except KubeError as error:
                    self._error = error
            return self._analysis
