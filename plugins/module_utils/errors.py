# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The errors a task fails with, one level below everything that raises them, and the kinds of them.

Every ``error_kind`` a module can return is named here or in helm_client.py's ERROR_KINDS (Helm's
words); the modules' RETURN documents them as one set (hack/check-return-docs.py keeps it so).

``TaskError`` is what ``run_task`` turns into ``fail_json``: a ``kind`` the task returns as
``error_kind`` and a message that names the problem and the fix. ``KubeError`` is a Kubernetes API
or connection failure (module_utils/kube_client.py, module_utils/connection.py); ``HelmError``
(module_utils/helm_client.py) a Helm process that failed. Pure modules import the types from here,
never from the I/O modules that raise them.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

# What a Kubernetes API request can fail with (KubeError.kind)
ACCESS_DENIED = "access_denied"  # 401, or 403 from RBAC: the identity may not do this
NOT_FOUND = "not_found"  # 404
CONFLICT = "conflict"  # 409: exists already, or a resourceVersion precondition failed
CLUSTER_UNREACHABLE = "cluster_unreachable"  # no answer: refused, DNS, TLS, timeout, 502/503/504
THROTTLED = "throttled"  # 429: API priority and fairness, or a rate limit
REJECTED = "rejected"  # 400, 405, 410, 413, 415, 422, or a 403 that is not RBAC (admission, quota)
API_ERROR = "api_error"  # anything else, and an answer that is not what the API documents
KUBE_ERROR_KINDS = (ACCESS_DENIED, NOT_FOUND, CONFLICT, CLUSTER_UNREACHABLE, THROTTLED, REJECTED, API_ERROR)
# What building the connection can fail with (before any request)
INVALID_KUBECONFIG = "invalid_kubeconfig"
NO_API_SERVER = "no_api_server"
UNSUPPORTED_KUBECONFIG = "unsupported_kubeconfig"  # a kubeconfig feature only Helm can use (auth-provider, ...)
# What reading Helm's records can fail with, besides the above
UNSUPPORTED_ENVIRONMENT = "unsupported_environment"  # HELM_DRIVER keeps them elsewhere than in Secrets
INVALID_RELEASE_RECORD = "invalid_release_record"  # a record Helm could not read either
# What a recovery can be deferred or stopped by, besides Helm's and the API's kinds
LOCKED = "locked"  # another actor of this collection holds the release's lease
CONCURRENT_CHANGE = "concurrent_change"  # another writer changed the release while a recovery ran
ROLLOUT_FAILED = "rollout_failed"  # Helm wrote the target revision and it failed
NOT_DEPLOYED = "not_deployed"  # Helm reported success, but the latest revision is not deployed
DRIFT_REMAINS = "drift_remains"  # objects still drift after a repair
BACKOFF = "backoff"  # a failed recovery's backoff has not passed


class TaskError(Exception):
    """A failure that ends a task: ``kind`` becomes ``error_kind`` in the task result."""

    def __init__(self, kind: str, message: str):
        super(TaskError, self).__init__(message)
        self.kind = kind
        self.message = message

    @property
    def error_kind(self) -> str:
        return self.kind

    def fail_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for ``module.fail_json``."""
        return dict(msg=self.message, error_kind=self.kind)


class KubeError(TaskError):
    """A Kubernetes API request, or the connection for it, that failed. ``status`` is the HTTP status
    (None when there was no answer), ``reason`` the Kubernetes Status reason (``Expired``, ``AlreadyExists``,
    ``Forbidden``...) and ``server_message`` the Status message, when the server gave them."""

    def __init__(self, kind: str, message: str, status: Optional[int] = None, reason: Optional[str] = None,
                 server_message: Optional[str] = None):
        super(KubeError, self).__init__(kind, message)
        self.status = status
        self.reason = reason
        self.server_message = server_message if server_message is not None else message

    @property
    def isolated(self) -> bool:
        """Whether the refusal concerns only what the request asked for (a namespace, a kind), so that a scan of
        many goes on without it: the API server answered about that request with 403 (RBAC) or 404 (not there).
        Not when it could not be reached, timed out (408), throttled (429), failed itself (5xx), expired a paged
        LIST (410: list again), or rejected the credentials (401): those say nothing of the one request."""
        return self.status in (403, 404)

    def fail_kwargs(self) -> Dict[str, Any]:
        kwargs = super(KubeError, self).fail_kwargs()
        if self.status is not None:
            kwargs["api_status"] = self.status
        return kwargs
