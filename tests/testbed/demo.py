"""``make demo``: the main job, fleet remediation, against the embedded test cluster.

Starts the Kubernetes API emulator (or, with ``--cluster controlplane``, the real control plane
of tests/cluster, which takes minutes to build the first time), gives four tenants a release each in a different state
(healthy, failed upgrade, failed rollback, stuck pending-upgrade) with real Helm, shows the
fleet, runs ``ansible-playbook matih.helm.remediate`` on the tenants, and shows the fleet and
the report again. Exits non-zero unless every release ends deployed and the healthy one was
left alone.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import contextlib

import scenarios
from kubeemu import Emulator

sys.path.insert(0, os.path.join(scenarios.REPO_ROOT, "tests", "cluster"))
import controlplane  # noqa: E402  pylint: disable=wrong-import-position

TENANTS = {
    # namespace: (release, how it is broken, one sentence for the reader)
    "tenant-a": ("shop", "healthy", "two good revisions; must be left alone"),
    "tenant-b": ("billing", "failed_upgrade", "an upgrade to an image that never becomes ready failed"),
    "tenant-c": ("search", "failed_rollback", "a rollback to a broken revision failed"),
    "tenant-d": ("auth", "pending", "helm upgrade --wait was killed: stuck in pending-upgrade"),
}


def say(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def banner(text):
    say()
    say("=" * 100)
    say(text)
    say("=" * 100)


def break_release(helm, kubeconfig, namespace, name, state):
    scenarios.release_with_good_revisions(helm, kubeconfig, name, namespace, 2)
    if state == "failed_upgrade":
        scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "broken_image", version="1.2.0")
    elif state == "failed_rollback":
        scenarios.failed_rollback(helm, kubeconfig, name, namespace)
    elif state == "pending":
        scenarios.pending_release(helm, kubeconfig, name, namespace, kind="upgrade")


def fleet(helm, kubeconfig):
    """{(namespace, name): latest history entry} for every tenant release."""
    return {(namespace, name): scenarios.history(helm, kubeconfig, name, namespace)[-1]
            for namespace, (name, _state, _why) in TENANTS.items()}


def show_fleet(helm, kubeconfig):
    rows = [("NAMESPACE", "RELEASE", "REVISION", "STATUS", "CHART", "DESCRIPTION")]
    for (namespace, name), latest in sorted(fleet(helm, kubeconfig).items()):
        rows.append((namespace, name, str(latest["revision"]), latest["status"], latest["chart"], latest["description"][:60]))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        say("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)))


def run_remediation(helm, kubeconfig, report_dir):
    extra_vars = {
        "fleet_remediation_namespaces": sorted(TENANTS),
        "fleet_remediation_report_dir": report_dir,
        "fleet_remediation_unlock_pending": True,
    }
    # Only what changed or failed: the per-task "ok" lines of four parallel hosts bury the story.
    env = dict(os.environ, KUBECONFIG=kubeconfig, ANSIBLE_NOCOLOR="1", ANSIBLE_DISPLAY_OK_HOSTS="0",
               ANSIBLE_DISPLAY_SKIPPED_HOSTS="0", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               PATH=os.path.dirname(helm) + os.pathsep + os.environ["PATH"])
    argv = ["ansible-playbook", "matih.helm.remediate", "-e", json.dumps(extra_vars)]
    say("$ " + " ".join(argv[:2]) + " -e '" + argv[3] + "'")
    return subprocess.run(argv, env=env, check=False).returncode


@contextlib.contextmanager
def start_cluster(kind, workdir):
    """Yields (kubeconfig path, a sentence saying what runs where)."""
    if kind == "controlplane":
        with controlplane.ControlPlane(os.path.join(workdir, "cluster")) as plane:
            version = plane.api("GET", "/version")["gitVersion"]
            yield plane.kubeconfig_path, "A real Kubernetes %s control plane (etcd, kube-apiserver, kwok) is up at %s" % (version, plane.url)
        return
    with Emulator(os.path.join(workdir, "kubeconfig")) as emulator:
        yield emulator.kubeconfig_path, ("The embedded test cluster (the API emulator; MATIH_DEMO_CLUSTER=controlplane for a real one) "
                                         "is up at %s" % emulator.url)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--helm", choices=("3", "4"), default="4", help="Helm major to use (default 4)")
    parser.add_argument("--cluster", choices=("emulator", "controlplane"), default=os.environ.get("MATIH_DEMO_CLUSTER") or "emulator",
                        help="the API emulator (default, starts at once) or the real control plane (MATIH_DEMO_CLUSTER)")
    args = parser.parse_args()
    helm = scenarios.HELM_BINARIES["helm" + args.helm]
    workdir = tempfile.mkdtemp(prefix="matih-demo-")
    report_dir = os.path.join(workdir, "report")

    with start_cluster(args.cluster, workdir) as (kubeconfig, what):
        banner("1. %s; Helm %s; making four tenants" % (what, args.helm))
        for namespace, (name, state, why) in TENANTS.items():
            say("  %-9s %-8s %s" % (namespace, name, why))
            break_release(helm, kubeconfig, namespace, name, state)
        before = fleet(helm, kubeconfig)

        banner("2. The fleet before remediation (latest revision of each release)")
        show_fleet(helm, kubeconfig)

        banner("3. Remediation: ansible-playbook matih.helm.remediate")
        playbook_rc = run_remediation(helm, kubeconfig, report_dir)

        banner("4. The fleet after remediation")
        show_fleet(helm, kubeconfig)
        after = fleet(helm, kubeconfig)

        banner("5. The report (%s)" % report_dir)
        report_md = os.path.join(report_dir, "fleet-remediation.md")
        say(open(report_md, encoding="utf-8").read() if os.path.exists(report_md) else "  (no report written)")

    problems = ["%s/%s ended %s" % (ns, name, entry["status"]) for (ns, name), entry in after.items() if entry["status"] != "deployed"]
    healthy = [(ns, name) for ns, (name, state, _why) in TENANTS.items() if state == "healthy"]
    problems += ["%s/%s was touched (revision %s -> %s)" % (ns, name, before[(ns, name)]["revision"], after[(ns, name)]["revision"])
                 for ns, name in healthy if before[(ns, name)]["revision"] != after[(ns, name)]["revision"]]
    if playbook_rc != 0:
        problems.append("ansible-playbook exited %d" % playbook_rc)
    banner("Result: " + ("every release is deployed and the healthy one was left alone" if not problems else "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
