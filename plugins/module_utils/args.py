# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument specs shared by every matih.helm module, and the checks of option values: release and
namespace names, Helm timeouts, the options every writing step shares.

Option names, aliases and K8S_AUTH_* fallbacks follow kubernetes.core's Helm modules, so the
same ``module_defaults`` work for both collections.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any, Dict, List, Optional, Pattern

from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.matih.helm.plugins.module_utils.durations import duration_nanoseconds


def set_env_fallback(*names: str) -> str:
    """ansible-core's env_fallback, except that an empty variable counts as unset. AWX's credential injectors
    cannot leave a variable out: the collection's kubeconfig credential sets K8S_AUTH_CONTEXT to its context
    field even when that is empty, and an empty context would then clash with validate_certs and ca_cert
    (mutually exclusive) in every module."""
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    raise AnsibleFallbackNotFound


CONNECTION_ARGS = dict(
    binary_path=dict(type="path"),
    kubeconfig=dict(type="raw", aliases=["kubeconfig_path"], fallback=(set_env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", aliases=["kube_context"], fallback=(set_env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(set_env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(set_env_fallback, ["K8S_AUTH_API_KEY"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(set_env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    validate_certs=dict(
        type="bool", default=True, aliases=["verify_ssl"], fallback=(set_env_fallback, ["K8S_AUTH_VERIFY_SSL"])
    ),
)

# kubernetes.core's HELM_AUTH_MUTUALLY_EXCLUSIVE: a context brings its own cluster CA and TLS
# settings. Refusing the same combinations keeps a recovery from passing our modules and then
# failing at a kubernetes.core step with the same connection.
CONNECTION_MUTUALLY_EXCLUSIVE = [
    ("context", "ca_cert"),
    ("context", "validate_certs"),
]

RELEASE_ARGS = dict(
    name=dict(type="str", required=True, aliases=["release_name"]),
    release_namespace=dict(type="str", required=True, aliases=["namespace"]),
)

# Helm's chartutil.ValidateReleaseName: a DNS-1123 subdomain, at most 53 characters because
# Helm appends suffixes to build resource and storage names.
RELEASE_NAME_MAX = 53
NAMESPACE_MAX = 63
_RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SHELL_METACHARACTERS = set(" \t\n;&|$`'\"\\<>(){}[]*?!#~=")


def argument_spec(*extra_specs: Dict[str, Any]) -> Dict[str, Any]:
    """Connection + release options merged with module-specific ones (deep copies, safe to edit)."""
    spec = copy.deepcopy(CONNECTION_ARGS)
    spec.update(copy.deepcopy(RELEASE_ARGS))
    for extra in extra_specs:
        spec.update(copy.deepcopy(extra))
    return spec


def release_name_problem(name: str) -> Optional[str]:
    """Why ``name`` is not a valid Helm release name, or None when it is."""
    return _name_problem("release name", name, RELEASE_NAME_MAX, _RELEASE_NAME,
                         "Helm requires lowercase letters, digits, '-' and '.'", "my-app")


def namespace_problem(namespace: str) -> Optional[str]:
    """Why ``namespace`` is not a valid Kubernetes namespace (DNS-1123 label), or None when it is."""
    return _name_problem("namespace", namespace, NAMESPACE_MAX, _NAMESPACE,
                         "Kubernetes requires lowercase letters, digits and '-'", "team-a")


def name_problems(name: Optional[str] = None, namespace: Optional[str] = None) -> List[str]:
    """Every problem with a release name and namespace; empty when both are valid (or absent)."""
    problems = []
    if name is not None:
        problems.append(release_name_problem(name))
    if namespace is not None:
        problems.append(namespace_problem(namespace))
    return [problem for problem in problems if problem]


def _name_problem(what: str, value: str, limit: int, pattern: Pattern[str], rule: str, example: str) -> Optional[str]:
    if not value:
        return "%s must not be empty" % what
    if value.startswith("-"):
        # Helm would read it as an option (e.g. '--kubeconfig=...'), so it never reaches Helm.
        return "%s %r looks like a command-line option; use the plain name (for example %r)" % (what, value, example)
    bad = sorted(set(value) & _SHELL_METACHARACTERS)
    if bad:
        return "%s %r contains characters that are never valid here: %s" % (what, value, " ".join(repr(c) for c in bad))
    if len(value) > limit:
        return "%s %r is %d characters long; at most %d are allowed" % (what, value, len(value), limit)
    if value != value.lower():
        return "%s %r contains uppercase letters; Kubernetes names are lowercase (%r)" % (what, value, value.lower())
    if not pattern.match(value):
        return "%s %r is invalid: %s, starting and ending with a letter or digit (for example %r)" % (
            what, value, rule, example)
    return None


def timeout_problem(timeout: str) -> Optional[str]:
    """Why ``timeout`` is not a usable Helm (Go) duration, or None when it is.

    Zero is refused along with malformed text: Helm accepts ``--timeout 0s`` but then gives up at
    once, leaving a failed revision ("context deadline exceeded") for a rollback that never had a chance.
    """
    text = timeout or ""
    zero = ("timeout must be a Go duration greater than zero, e.g. 5m or 90s; got %r (Helm would give up at once "
            "and leave a failed revision)" % (timeout,))
    if re.fullmatch(r"[0-9]+", text):
        if int(text) == 0:
            return zero  # "0" (which Go accepts as zero) and "00" (which Go refuses) alike
        return ("timeout %r is not a Helm duration (a unit is required, e.g. %ss); use a number with a unit such as "
                "300s, 5m or 1h30m" % (timeout, text))
    nanoseconds = duration_nanoseconds(text)
    if nanoseconds is None:
        return "timeout %r is not a Helm duration; use a number with a unit such as 300s, 5m or 1h30m" % (timeout,)
    return zero if nanoseconds == 0 else None


def step_option_problems(params: Dict[str, Any]) -> List[Optional[str]]:
    """Problems with the options a writing Helm step shares (timeout, history_max, wait_for_jobs);
    None entries are no problem."""
    problems = [timeout_problem(params["timeout"])]
    if params["history_max"] is not None and params["history_max"] < 0:
        problems.append("history_max must be 0 (no limit) or more, got %d" % params["history_max"])
    if params["wait_for_jobs"] and not params["wait"]:
        problems.append("wait_for_jobs needs wait: true (Helm waits for Jobs only while it waits for resources)")
    return problems
