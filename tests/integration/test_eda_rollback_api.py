"""The rollback API (the rulebook matih.helm.rollback_api) served by the real ``ansible-rulebook`` and its
built-in webhook, rolling back real releases on the real control plane.

One rulebook process serves every test of this module (started once, on a free port); each test makes its
own release in its own namespace and reads the rulebook's output from the moment it starts sending. A
failing playbook does not change ansible-rulebook's exit code, so every outcome is read from the release's
history and from the output, never from an exit code alone.

1. Both endpoints roll back as asked: .../rollback/last-successful and .../rollback {"targetRevision": 1}
   each create the next revision with the target's chart version and values, and the output logs it.
2. Refused requests change nothing and are logged: no or a wrong token (401, logged by aiohttp.access),
   a revision beyond the history and a release that does not exist (the module refuses them), a targetRevision that is no whole number >= 1,
   a body that is no JSON, a bad releaseId, an unknown path or method. The token is never printed.
3. The playbook checks a request again: a bad one fails before any Helm call.
4. Without a token fit for the purpose (none, or too short) the rulebook does not start.
"""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

import rulebook_runner
import scenarios
from fixtures import HELM_BINARIES, HelmBinary, cluster_kind

TOKEN = "matih-test-token-6f1d2c9a7e"  # a test value, not a secret
# the outcome line of each run of matih.helm.rollback_request: (namespace/release, revision asked, FAILED or new)
PLAYBOOK_OUTCOME = r'^\s*"msg": "Rollback API: (\S+) to revision (\S+): (FAILED|new|nothing|refused)'


# Module scope, so that the one rulebook process can use it; helm_majors.py runs this module on one major.
@pytest.fixture(scope="module", params=sorted(HELM_BINARIES), ids=sorted(HELM_BINARIES))
def helm_binary(request):
    path = HELM_BINARIES[request.param]
    if not os.access(path, os.X_OK):
        pytest.skip("%s binary not found at %s (run the bootstrap)" % (request.param, path))
    return HelmBinary(path, scenarios.helm_major(path))


@pytest.fixture(scope="module")
def rollback_api(cluster, helm_binary, tmp_path_factory):  # pylint: disable=redefined-outer-name
    """ansible-rulebook serving matih.helm.rollback_api on a free port of 127.0.0.1, for every test here."""
    if cluster_kind() != "controlplane":
        pytest.skip("needs the real control plane")
    port = rulebook_runner.free_port()
    rulebook = rulebook_runner.Rulebook(
        "matih.helm.rollback_api", tmp_path_factory.mktemp("rollback-api"), port=port,
        variables={"rollback_api_token": TOKEN, "rollback_api_port": port, "rollback_api_host": "127.0.0.1",
                   "rollback_api_timeout": "60s",
                   "rollback_api_connection": {"kubeconfig": cluster.kubeconfig, "binary_path": helm_binary.path}})
    seconds = rulebook.start()
    print("\nansible-rulebook serving matih.helm.rollback_api after %.1fs" % seconds)
    try:
        yield rulebook
    finally:
        rulebook.stop()
        assert TOKEN not in rulebook.output(), "the token was printed"


def post(port, path, body=b"{}", token=TOKEN, method="POST"):
    """(HTTP status, answer) of one request; ``body`` is bytes as sent, or an object sent as JSON."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def snapshot(helm, kubeconfig, name, namespace):
    """[(revision, status, chart, description)] of the release's history."""
    return [(entry["revision"], entry["status"], entry["chart"], entry["description"])
            for entry in scenarios.history(helm, kubeconfig, name, namespace)]


def user_values(helm, kubeconfig, name, namespace, revision):
    result = scenarios.run_helm(helm, kubeconfig, ["get", "values", name, "-n", namespace, "--revision", str(revision), "-o", "json"])
    return json.loads(result.stdout)


# pylint: disable-next=redefined-outer-name
def test_both_endpoints_roll_back_as_asked(rollback_api, cluster, helm_binary, namespace, release_name):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    name = release_name
    scenarios.release_with_good_revisions(helm, kubeconfig, name, namespace, 3)  # charts 1.0.0, 1.1.0, 1.2.0
    scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "rejected_config", version="1.3.0")
    assert [entry[1] for entry in snapshot(helm, kubeconfig, name, namespace)] == ["superseded"] * 2 + ["deployed", "failed"]
    release_id = "%s.%s" % (namespace, name)

    since = rollback_api.mark()
    assert post(rollback_api.port, "/api/v1/helm/releases/%s/rollback/last-successful" % release_id)[0] == 200
    logged = rollback_api.wait_for(r"^.*Rollback API: %s/%s to revision last_successful: .*$" % (namespace, name), since)
    assert "new revision 5, status deployed" in logged[0].group(0), rollback_api.output(since)
    history = snapshot(helm, kubeconfig, name, namespace)
    assert history[-1] == (5, "deployed", "demo-1.2.0", "Rollback to 3"), history
    assert user_values(helm, kubeconfig, name, namespace, 5) == {"config": {"revision": "3"}}

    since = rollback_api.mark()
    assert post(rollback_api.port, "/api/v1/helm/releases/%s/rollback" % release_id, {"targetRevision": 1})[0] == 200
    logged = rollback_api.wait_for(r"^.*Rollback API: %s/%s to revision 1: .*$" % (namespace, name), since)
    assert "new revision 6, status deployed" in logged[0].group(0), rollback_api.output(since)
    history = snapshot(helm, kubeconfig, name, namespace)
    assert history[-1] == (6, "deployed", "demo-1.0.0", "Rollback to 1") and len(history) == 6, history
    assert user_values(helm, kubeconfig, name, namespace, 6) == {"config": {"revision": "1"}}


# (label, path after /api/v1/helm/releases/ with {id} for the release's id, body, token, method,
#  HTTP status, what the output says)
REFUSED_BY_RULES = [
    ("revision-a-string", "{id}/rollback", {"targetRevision": "1"}, "'targetRevision': '1'"),
    ("revision-a-fraction", "{id}/rollback", {"targetRevision": 1.5}, "'targetRevision': 1.5"),
    ("revision-zero", "{id}/rollback", {"targetRevision": 0}, "'targetRevision': 0}"),
    ("revision-negative", "{id}/rollback", {"targetRevision": -1}, "'targetRevision': -1"),
    ("revision-a-bool", "{id}/rollback", {"targetRevision": True}, "'targetRevision': True"),
    ("revision-missing", "{id}/rollback", {"revision": 1}, "got {'revision': 1}"),
    ("body-a-list", "{id}/rollback", [1], "got [1]"),
]


# pylint: disable-next=redefined-outer-name,too-many-locals
def test_refused_requests_change_nothing_and_are_logged(rollback_api, cluster, helm_binary, namespace, release_name):
    helm, kubeconfig, port = helm_binary.path, cluster.kubeconfig, rollback_api.port
    scenarios.release_with_good_revisions(helm, kubeconfig, release_name, namespace, 2)
    before = snapshot(helm, kubeconfig, release_name, namespace)
    release_id = "%s.%s" % (namespace, release_name)
    base = "/api/v1/helm/releases/"
    since = rollback_api.mark()

    # the webhook answers these itself: nothing reaches a rule
    for label, token in (("no token", None), ("wrong token", TOKEN + "x")):
        status, answer = post(port, base + release_id + "/rollback", {"targetRevision": 1}, token=token)
        assert status == 401, (label, status, answer)
    status, answer = post(port, base + release_id + "/rollback", b"targetRevision=1")
    assert (status, answer) == (400, "Invalid JSON payload"), (status, answer)
    assert post(port, base + release_id + "/rollback", method="GET", body=None)[0] == 405

    # these reach the rules, which refuse them and start nothing
    for _label, path, body, _said in REFUSED_BY_RULES:
        assert post(port, base + path.format(id=release_id), body)[0] == 200
    bad_ids = ["%s-%s" % (namespace, release_name), "%s.%s" % (namespace.upper(), release_name),
               "%s.%s" % (namespace, "x" * 54), "%s.%s" % (namespace, "-" + release_name)]
    for bad_id in bad_ids:
        assert post(port, base + bad_id + "/rollback/last-successful")[0] == 200
    unknown_paths = [base + release_id + "/rollback/latest", base + release_id, "/api/v1/helm/releases/rollback", "/"]
    for path in unknown_paths:
        assert post(port, path, {"targetRevision": 1})[0] == 200
    # two that the rules pass, refused by helm_release_rollback: a release name with dots (releaseId splits at the
    # first dot: the demo chart cannot be installed under such a name) that does not exist, and no such revision
    assert post(port, base + release_id + ".v2/rollback/last-successful")[0] == 200
    assert post(port, base + release_id + "/rollback", {"targetRevision": 99})[0] == 200

    rollback_api.wait_for(r"Rollback API: %s/%s to revision 99: FAILED: " % (namespace, release_name), since)
    output = rollback_api.output(since)
    assert len(re.findall(r'"POST /api/v1/helm/releases/%s/rollback HTTP/1.1" 401 ' % release_id, output)) == 2, output
    assert "Wrong body request: failed to decode JSON payload" in output, output
    assert '"GET /api/v1/helm/releases/%s/rollback HTTP/1.1" 405 ' % release_id in output, output
    refusals = [line for line in output.splitlines() if line.startswith("Rollback API: refused POST /")]
    for label, path, _body, said in REFUSED_BY_RULES:
        assert [line for line in refusals if ("/" + path.format(id=release_id) + ": the body must be") in line and said in line], \
            (label, refusals)
    for bad_id in bad_ids:
        assert [line for line in refusals if "/%s/rollback/last-successful: the releaseId must be" % bad_id in line], (bad_id, refusals)
    for path in unknown_paths:
        assert [line for line in refusals if "POST %s: unknown path" % path in line], (path, refusals)
    assert len(refusals) == len(REFUSED_BY_RULES) + len(bad_ids) + len(unknown_paths), refusals
    # only the last two started the playbook (a failed run's output is printed twice: live, then in ansible-rulebook's
    # error), and the module refused both
    assert set(re.findall(PLAYBOOK_OUTCOME, output, re.M)) == {
        ("%s/%s.v2" % (namespace, release_name), "last_successful", "FAILED"), ("%s/%s" % (namespace, release_name), "99", "FAILED")}, output
    assert "revision 99 is not in the history of the release" in output, output
    assert snapshot(helm, kubeconfig, release_name, namespace) == before


def test_no_start_without_a_fit_token(tmp_path):
    """No token, one too short, or one ansible-rulebook would read as a number (and then match no request):
    ansible-rulebook ends at once, saying why, and never listens. All at once."""
    unfit = "'rollback_api_token_must_be_16_or_more_letters_digits_or_dot_underscore_tilde_plus_slash_equals_dash_starting_with_a_letter' is undefined"
    cases = (("missing", None, "'rollback_api_token' is undefined"), ("too-short", "short-token-1", unfit),
             ("a-number", "0x1234567890abcdef", unfit))
    rulebooks = {}
    try:
        for label, token, _said in cases:
            port = rulebook_runner.free_port()
            variables = dict({"rollback_api_port": port, "rollback_api_host": "127.0.0.1"}, **({"rollback_api_token": token} if token else {}))
            rulebooks[label] = (port, rulebook_runner.Rulebook("matih.helm.rollback_api", tmp_path / label, variables=variables))
            rulebooks[label][1].start()
        for label, token, said in cases:
            port, rulebook = rulebooks[label]
            returncode = rulebook.wait(timeout=120)
            output = rulebook.output()
            assert returncode != 0 and not rulebook_runner.port_open(port), (label, output)
            assert said in output and "Terminating" in output, (label, output)
            assert not token or token not in output, (label, output)
    finally:
        for _port, rulebook in rulebooks.values():
            rulebook.stop()


def test_playbook_refuses_a_bad_request_before_helm(tmp_path):
    """matih.helm.rollback_request run as AWX or a person would, with a bad request: refused by its own check,
    before Helm (which does not exist here, so a Helm call would fail differently)."""
    request = {"rollback_request": {"namespace": "shop.eu", "name": "web", "revision": "1.5"},
               "rollback_api_connection": {"binary_path": str(tmp_path / "no-helm")}}
    env = rulebook_runner.playbook_runner.ansible_env(ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "matih.helm.rollback_request", "-e", json.dumps(request)],
                            capture_output=True, text=True, timeout=300, check=False, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "Refused: rollback_request must be" in output, output
    assert "Rollback API: shop.eu/web to revision 1.5: refused before any Helm call" in output, output
    assert "binary_not_found" not in output and "Roll the release back" not in output, output
