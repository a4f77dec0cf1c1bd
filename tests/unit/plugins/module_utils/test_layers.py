# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/README.md's picture of who may import whom, checked against the imports."""

from __future__ import annotations

import ast
import os

import pytest

MODULE_UTILS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "module_utils")
PREFIX = "ansible_collections.matih.helm.plugins.module_utils"

# file: (layer, the files of ours it may import); the README says the same in prose
ALLOWED = {
    "errors": (1, set()),
    "kube_types": (1, set()),
    "durations": (1, set()),
    "masking": (1, set()),
    "release": (2, set()),
    "deploy": (2, set()),
    "args": (2, {"durations"}),
    "rollback": (2, {"release", "masking"}),
    "recovery": (2, {"durations", "errors", "release"}),
    "fleet": (2, {"recovery"}),
    "drift": (2, {"errors", "kube_types"}),
    "attempts": (2, {"durations"}),
    "connection": (3, {"errors", "kube_types"}),
    "kube_client": (3, {"errors", "kube_types"}),
    "helm_client": (3, {"errors", "connection"}),
    "bytecode_cache": (3, set()),
    "release_store": (4, {"errors", "helm_client", "kube_client", "kube_types"}),
    "live_objects": (4, {"errors", "helm_client", "kube_types", "release_store"}),
    "release_lease": (4, {"attempts", "errors", "kube_client", "kube_types"}),
    "preflight": (4, {"drift", "errors", "kube_client", "kube_types", "live_objects"}),
    "release_inventory": (4, {"errors", "helm_client", "kube_types", "release_store"}),
    "release_events": (4, {"durations", "errors", "release_inventory"}),
}
PURE_LAYERS = (1, 2)


def ours(path):
    """The module_utils files ``path`` imports."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(PREFIX + "."):
                found.add(node.module[len(PREFIX) + 1:].split(".")[0])
            elif node.module == PREFIX:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name[len(PREFIX) + 1:].split(".")[0] for alias in node.names
                         if alias.name.startswith(PREFIX + "."))
    return found


def files():
    return sorted(name[:-3] for name in os.listdir(MODULE_UTILS) if name.endswith(".py") and name != "__init__.py")


def test_every_file_has_a_place_in_the_picture():
    assert set(files()) == set(ALLOWED)


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_imports_follow_the_picture(name):
    layer, allowed = ALLOWED[name]
    imported = ours(os.path.join(MODULE_UTILS, name + ".py"))
    assert imported <= allowed, "%s imports %s, which the picture does not allow" % (name, sorted(imported - allowed))
    for other in imported:
        assert ALLOWED[other][0] <= layer, "%s (layer %d) imports %s from layer %d above it" % (
            name, layer, other, ALLOWED[other][0])
        if layer in PURE_LAYERS:
            assert ALLOWED[other][0] in PURE_LAYERS, "pure %s imports the I/O file %s" % (name, other)


def test_no_import_cycle():
    graph = {name: ours(os.path.join(MODULE_UTILS, name + ".py")) for name in files()}
    done, path = set(), []

    def visit(name):
        assert name not in path, "import cycle: %s" % " -> ".join(path[path.index(name):] + [name])
        if name in done:
            return
        path.append(name)
        for other in sorted(graph.get(name, ())):
            visit(other)
        path.pop()
        done.add(name)
    for name in graph:
        visit(name)
