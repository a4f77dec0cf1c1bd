# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The RETURN rules antsibull-docs does not check (the `docs` gate runs this after it):

* every module documents the failure keys error_kind, rc, stdout and stderr, word for word alike
  (ansible-core 2.16 has no RETURN doc fragments, so they are repeated), and the read-only modules
  their ``command`` alike;
* error_kind's choices are exactly the kinds module_utils can raise (ERROR_KINDS, helm_failed and
  every ``HelmError("<kind>", ...)``), so a new kind cannot go undocumented;
* the modules that talk to the API without Helm (API_MODULES: helm_release_drift) document error_kind
  too, but not the Helm call's rc, stdout, stderr and command, which they never return: their choices
  hold every kind their own module_utils (API_UTILS) raise and only kinds module_utils raise, and the
  Helm modules' choices are the kinds raised outside API_UTILS;
* ``returned:`` is always, success, failure or a short condition (the prose goes in description).

Usage: check-return-docs.py COLLECTION_DIR"""

import ast
import os
import re
import sys

import yaml

MODULES = ("helm_release_history", "helm_release_list", "helm_release_recover", "helm_release_rollback")
# modules that run no Helm (they read the API with the kubernetes client), and the module_utils only they use
API_MODULES = ("helm_release_drift",)
API_UTILS = ("drift.py", "kube_api.py")
HELM_CALL_KEYS = ("rc", "stdout", "stderr", "command")
FAILURE_KEYS = ("error_kind", "rc", "stdout", "stderr")
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


def raised_kinds(root, only=None, without=()):
    """Every error_kind the module utilities can produce (those of the files ``only`` names, or of all but
    ``without``)."""
    kinds = set() if only else {"helm_failed"}
    utils = os.path.join(root, "plugins", "module_utils")
    for name in sorted(os.listdir(utils)):
        if not name.endswith(".py") or (only and name not in only) or name in without:
            continue
        with open(os.path.join(utils, name)) as handle:
            source = handle.read()
        kinds.update(re.findall(r'HelmError\(\s*"([a-z_]+)"', source))
        tree = ast.parse(source, name)
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ERROR_KINDS" for t in node.targets):
                kinds.update(entry.elts[0].value for entry in node.value.elts)
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
    documented = set(docs[reference].get("error_kind", {}).get("choices") or [])
    kinds = raised_kinds(root, without=API_UTILS)
    if documented != kinds:
        problems.append("error_kind choices %s do not match the kinds module_utils raises %s (undocumented: %s, "
                        "never raised: %s)" % (sorted(documented), sorted(kinds), sorted(kinds - documented) or "-",
                                               sorted(documented - kinds) or "-"))
    everything, own = raised_kinds(root), raised_kinds(root, only=API_UTILS)
    for module in API_MODULES:
        docs[module] = module_return(root, module)
        choices = set(docs[module].get("error_kind", {}).get("choices") or [])
        if not choices:
            problems.append("%s: RETURN does not document error_kind (returned on failure)" % module)
        if own - choices:
            problems.append("%s: error_kind does not document %s, which %s raise" % (
                module, sorted(own - choices), " and ".join(API_UTILS)))
        if choices - everything:
            problems.append("%s: error_kind documents %s, which module_utils never raise" % (
                module, sorted(choices - everything)))
        problems += ["%s: RETURN documents %s, which it never returns (it runs no Helm)" % (module, key)
                     for key in HELM_CALL_KEYS if key in docs[module]]
    for module in MODULES + API_MODULES:
        problems += returned_problems(module, docs[module])
    for problem in problems:
        print(problem)
    if not problems:
        print("return docs: %d modules document the failure keys alike; error_kind lists the %d kinds raised; "
              "%s documents the kinds of its API client" % (len(MODULES), len(kinds), ", ".join(API_MODULES)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
