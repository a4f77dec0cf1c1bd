# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # Names, aliases and environment fallbacks match kubernetes.core's Helm modules.
    DOCUMENTATION = r"""
options:
  binary_path:
    description:
      - Path of the Helm binary to run.
      - When not set, C(helm) is looked up on E(PATH) of the managed node.
      - Helm 3 and Helm 4 are supported; the major version is detected once per task and the
        flags are chosen to match it.
    type: path
  kubeconfig:
    description:
      - Kubeconfig to use, either as a path to a file on the managed node or as the kubeconfig
        content itself (a dictionary).
      - A dictionary is written to a private (mode 0600) temporary file that is removed when the
        task ends. Its credentials are masked in the task output; these are each user's token,
        password and key data, the credentials of its C(auth-provider) config (such as
        C(client-secret), C(id-token), C(refresh-token), C(access-token)), and the C(exec) plugin's
        C(env) values whose name names a credential (such as C(AWS_SECRET_ACCESS_KEY) or
        C(VAULT_TOKEN)).
      - ansible-core writes a module's arguments to the syslog or journal of the managed node when
        the module starts (unless C(no_target_syslog) is set), before the module can mask the
        credentials inside an inline kubeconfig dictionary. Keep credentials in a kubeconfig file
        (give its path) or pass the token as O(api_key), which is never logged.
      - Checked before Helm runs (when PyYAML is available on the managed node for a file); a directory,
        invalid YAML, or a kubeconfig without clusters, without the chosen context, or whose context
        names no cluster server, fails the task with a message naming the problem.
      - When not set, the value of the E(K8S_AUTH_KUBECONFIG) environment variable is used, and
        then Helm's own default (E(KUBECONFIG) or C(~/.kube/config)).
    type: raw
    aliases: [ kubeconfig_path ]
  context:
    description:
      - Name of the kubeconfig context to use (Helm's C(--kube-context)).
      - When not set, the value of the E(K8S_AUTH_CONTEXT) environment variable is used, and then
        the kubeconfig's current context.
      - Mutually exclusive with O(ca_cert) and O(validate_certs), as in kubernetes.core's Helm modules
        (the context's cluster entry holds those settings), so a connection our modules accept is also one
        kubernetes.core.helm accepts.
    type: str
    aliases: [ kube_context ]
  host:
    description:
      - URL of the Kubernetes API server (Helm's C(--kube-apiserver)).
      - When not set, the value of the E(K8S_AUTH_HOST) environment variable is used.
    type: str
  api_key:
    description:
      - Bearer token used to authenticate with the Kubernetes API.
      - It is passed to Helm in the E(HELM_KUBETOKEN) environment variable, never on the command
        line, and never appears in the task output.
      - Helm sends the token only to an HTTPS API server.
      - When not set, the value of the E(K8S_AUTH_API_KEY) environment variable is used.
    type: str
  ca_cert:
    description:
      - Path to the certificate authority file that signed the API server's certificate (Helm's
        C(--kube-ca-file)). Provide the full chain.
      - When not set, the value of the E(K8S_AUTH_SSL_CA_CERT) environment variable is used.
    type: path
    aliases: [ ssl_ca_cert ]
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - V(false) passes C(--kube-insecure-skip-tls-verify) to Helm; use it only on test clusters. Helm has that
        flag since 3.10; with an older Helm the task fails at once, before Helm runs.
      - When not set, the value of the E(K8S_AUTH_VERIFY_SSL) environment variable is used.
    type: bool
    default: true
    aliases: [ verify_ssl ]
requirements:
  - Helm 3.8 or newer, or Helm 4, on the managed node (tested with 3.8.2, 3.17.3, 3.22.0, 4.0.0 and 4.3.1).
notes:
  - Connection options can be set once for all modules of this collection with
    C(module_defaults) and the C(group/matih.helm.helm) action group, which also covers
    kubernetes.core's Helm modules.
  - Release reads (the history, and the user values of revisions) come from one LIST of Helm's release
    Secrets (type C(helm.sh/release.v1)) through the Kubernetes API, in the module's own process, which
    replaces one Helm process per read. The module connects as Helm would, with client-go's kubeconfig
    rules (several E(KUBECONFIG) files merged, the context's cluster and user, Helm's C(HELM_KUBE*)
    variables, a proxy from C(proxy-url) or E(HTTPS_PROXY)/E(NO_PROXY)), and authenticates with a token,
    a token file, a client certificate, impersonation or an C(exec) credential plugin
    (C(client.authentication.k8s.io/v1) or C(v1beta1)), the credential reused until it expires. With an
    C(auth-provider), a username and password, an older exec plugin API, a SOCKS or https proxy, or
    C(HELM_DRIVER) other than Secrets, Helm reads instead, as it does whenever that request fails. It
    needs the right Helm needs anyway, to list Secrets in the release's namespace. Credentials never go
    over plain C(http). E(MATIH_HELM_READS=helm) in the task's environment sends every read to Helm (to
    compare, or to rule the records reader out).
"""

    # matih.helm.connection.kubernetes_client: the same options, for a module that talks to the API with the
    # collection's own client instead of running Helm (helm_release_drift).
    KUBERNETES_CLIENT = r"""
options:
  binary_path:
    description:
      - Ignored; this module runs no Helm. Accepted so that C(module_defaults) for C(group/matih.helm.helm) can
        set it for every module of the group.
    type: path
  kubeconfig:
    description:
      - Kubeconfig to use, either as a path to a file on the managed node or as the kubeconfig
        content itself (a dictionary).
      - A dictionary is written to a private (mode 0600) temporary file that is removed when the
        task ends. Its credentials are masked in the task output, as in the modules that run Helm.
      - Checked before the module connects (when PyYAML is available on the managed node for a file); a directory,
        invalid YAML, or a kubeconfig without clusters, without the chosen context, or whose context names no
        cluster server, fails the task with a message naming the problem.
      - When not set, the value of the E(K8S_AUTH_KUBECONFIG) environment variable is used, then, as Helm and
        C(kubectl) do, E(KUBECONFIG) (several files are merged) or C(~/.kube/config), and in a pod its service
        account.
      - Loaded with client-go's rules, as Helm loads it (see the other modules' notes). An C(auth-provider), a
        username and password, or an exec plugin older than C(client.authentication.k8s.io/v1beta1) is not
        supported (RV(error_kind) C(unsupported_kubeconfig)); use a token, a client certificate or a current exec
        plugin.
    type: raw
    aliases: [ kubeconfig_path ]
  context:
    description:
      - Name of the kubeconfig context to use.
      - When not set, the value of the E(K8S_AUTH_CONTEXT) environment variable is used, then Helm's
        E(HELM_KUBECONTEXT), and then the kubeconfig's current context.
      - Mutually exclusive with O(ca_cert) and O(validate_certs), as in the other modules.
    type: str
    aliases: [ kube_context ]
  host:
    description:
      - URL of the Kubernetes API server; it replaces the kubeconfig's cluster server.
      - When not set, the value of the E(K8S_AUTH_HOST) environment variable is used, then Helm's
        E(HELM_KUBEAPISERVER).
    type: str
  api_key:
    description:
      - Bearer token used to authenticate with the Kubernetes API; it replaces the kubeconfig user's credentials.
      - It never appears in the task output.
      - When not set, the value of the E(K8S_AUTH_API_KEY) environment variable is used, then Helm's
        E(HELM_KUBETOKEN).
    type: str
  ca_cert:
    description:
      - Path to the certificate authority file that signed the API server's certificate. Provide the full chain.
      - When not set, the value of the E(K8S_AUTH_SSL_CA_CERT) environment variable is used, then Helm's
        E(HELM_KUBECAFILE).
    type: path
    aliases: [ ssl_ca_cert ]
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate; V(false) only on test clusters.
      - When not set, the value of the E(K8S_AUTH_VERIFY_SSL) environment variable is used; Helm's
        E(HELM_KUBEINSECURE_SKIP_TLS_VERIFY=true) also turns verification off.
    type: bool
    default: true
    aliases: [ verify_ssl ]
notes:
  - Connection options can be set once for all modules of this collection with
    C(module_defaults) and the C(group/matih.helm.helm) action group.
"""
