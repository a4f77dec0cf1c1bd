# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The RETURN rules antsibull-docs does not check (the `docs` gate runs this after it):

* every module documents error_kind word for word alike: one closed set for the whole collection
  (ansible-core 2.16 has no RETURN doc fragments, so it is repeated), whose choices are exactly the
  kinds anything can raise: helm_client's ERROR_KINDS, helm_failed, every ``HelmError("<kind>", ...)``,
  the kubeconfig check's invalid_kubeconfig, every kind module_utils/errors.py names (the API path's
  and a recovery's), and every ``TaskError("<kind>", ...)`` of the drift logic, so a new kind cannot go
  undocumented;
* the Helm modules document the failure keys rc, stdout and stderr alike, and the read-only modules
  their ``command`` alike;
* the modules that talk to the API without Helm (API_MODULES: helm_release_drift) do not document the
  Helm call's rc, stdout, stderr and command, which they never return;
* ``returned:`` is always, success, failure or a short condition (the prose goes in description).

Usage: check-return-docs.py COLLECTION_DIR"""

import ast
import os
import re
import sys

import yaml

MODULES = ("helm_release_history", "helm_release_list", "helm_release_recover", "helm_release_rollback")
# modules that run no Helm (they read the API with the collection's own client)
API_MODULES = ("helm_release_drift",)
# where the API path's kinds are named: errors.py's constants, and the drift logic's own TaskErrors
API_ERRORS = "errors.py"
API_TASK_ERRORS = ("drift.py",)
# what the Helm modules raise: Helm's runner, and the kubeconfig check every module makes before Helm runs
HELM_UTILS = ("helm_client.py",)
KUBECONFIG_CHECK_KINDS = {"invalid_kubeconfig"}
HELM_CALL_KEYS = ("rc", "stdout", "stderr", "command")
FAILURE_KEYS = ("rc", "stdout", "stderr")
# helm_release_rollback's command is also its success result (the helm rollback argv)
SAME_COMMAND = ("helm_release_history", "helm_release_list", "helm_release_recover")
MAX_CONDITION_WORDS = 10


def module_return(root, module):
    path = os.path.join(root, "plugins", "modules", module + ".py")
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "RETURN" for target in node.targets):
            return yaml.safe_load(node.value.value) or {}
    raise SystemExit("%s: no RETURN" % path)


def _source(root, name):
    with open(os.path.join(root, "plugins", "module_utils", name)) as handle:
        return handle.read()


def helm_kinds(root):
    """Every error_kind a Helm module can fail with."""
    kinds = {"helm_failed"} | KUBECONFIG_CHECK_KINDS
    for name in HELM_UTILS:
        source = _source(root, name)
        kinds.update(re.findall(r'HelmError\(\s*"([a-z_]+)"', source))
        for node in ast.parse(source, name).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ERROR_KINDS" for t in node.targets):
                kinds.update(entry.elts[0].value for entry in node.value.elts)
    return kinds


def api_kinds(root):
    """Every error_kind the Kubernetes API path (connection, client, release store, drift) can fail with."""
    kinds = set()
    for node in ast.parse(_source(root, API_ERRORS), API_ERRORS).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) \
                and re.fullmatch(r"[a-z_]+", node.value.value):
            kinds.add(node.value.value)
    for name in API_TASK_ERRORS:
        kinds.update(re.findall(r'TaskError\(\s*"([a-z_]+)"', _source(root, name)))
    return kinds


def without_sample(entry):
    return {key: value for key, value in (entry or {}).items() if key != "sample"}


def returned_problems(module, docs, prefix=""):
    problems = []
    for key, entry in (docs or {}).items():
        returned = str(entry.get("returned", ""))
        if returned and returned not in ("always", "success", "failure") and (
                len(returned.split()) > MAX_CONDITION_WORDS or "\n" in returned or ";" in returned):
            problems.append("%s: %s%s: returned: is prose (%d words), not always, success, failure or a short "
                            "condition; move it into description" % (module, prefix, key, len(returned.split())))
        problems += returned_problems(module, entry.get("contains"), "%s%s." % (prefix, key))
    return problems


def main(root):
    docs = {module: module_return(root, module) for module in MODULES}
    problems = []
    reference = MODULES[0]
    for key in FAILURE_KEYS:
        for module in MODULES:
            if key not in docs[module]:
                problems.append("%s: RETURN does not document %s (returned on failure)" % (module, key))
            elif docs[module][key] != docs[reference].get(key):
                problems.append("%s: RETURN %s differs from %s's; keep the failure keys identical"
                                % (module, key, reference))
    for module in SAME_COMMAND:
        # the sample is each module's own Helm call
        if without_sample(docs[module].get("command")) != without_sample(docs[SAME_COMMAND[0]].get("command")):
            problems.append("%s: RETURN command differs from %s's (sample aside)" % (module, SAME_COMMAND[0]))
    wanted = helm_kinds(root) | api_kinds(root)
    for module in API_MODULES:
        docs[module] = module_return(root, module)
        problems += ["%s: RETURN documents %s, which it never returns (it runs no Helm)" % (module, key)
                     for key in HELM_CALL_KEYS if key in docs[module]]
    for module in MODULES + API_MODULES:
        if "error_kind" not in docs[module]:
            problems.append("%s: RETURN does not document error_kind" % module)
        elif without_sample(docs[module]["error_kind"]) != without_sample(docs[reference]["error_kind"]):
            problems.append("%s: RETURN error_kind differs from %s's; it is one set, documented alike everywhere"
                            % (module, reference))
    documented = set(docs[reference].get("error_kind", {}).get("choices") or [])
    if documented != wanted:
        problems.append("error_kind choices do not match the kinds the collection raises (undocumented: %s, never "
                        "raised: %s)" % (sorted(wanted - documented) or "-", sorted(documented - wanted) or "-"))
    for module in MODULES + API_MODULES:
        problems += returned_problems(module, docs[module])
    for problem in problems:
        print(problem)
    if not problems:
        print("return docs: %d modules document the failure keys alike; error_kind is one set of the %d kinds raised, "
              "alike in all %d modules" % (len(MODULES), len(wanted), len(MODULES + API_MODULES)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
