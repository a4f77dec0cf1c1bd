"""Real Kubernetes identities for the integration tests: a ServiceAccount bound to a Role (in its namespace) or a
ClusterRole (cluster-wide), and a token the API server issues for it (TokenRequest), which RBAC judges as it would
an AWX job's."""

RBAC_API = "/apis/rbac.authorization.k8s.io/v1/"


def bound_token(cluster, namespace, name, role):
    """Create the ServiceAccount ``name`` in ``namespace``, ``role`` (a Role or ClusterRole manifest, created as
    ``name``) and its binding (a RoleBinding in ``namespace``, a ClusterRoleBinding for a ClusterRole); return the
    ServiceAccount's real token."""
    cluster.api("POST", "/api/v1/namespaces/%s/serviceaccounts" % namespace,
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    kind = role["kind"]
    where = RBAC_API if kind == "ClusterRole" else RBAC_API + "namespaces/%s/" % namespace
    plural = kind.lower() + "s"
    cluster.api("POST", where + plural, dict(role, metadata={"name": name}))
    cluster.api("POST", where + kind.lower() + "bindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind + "Binding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
    issued = cluster.api("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (namespace, name), {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})
    return issued["status"]["token"]
