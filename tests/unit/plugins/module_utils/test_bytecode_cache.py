# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bytecode cache of module_utils run from a zip: where it lives, when it may be trusted, and a real
zip imported through its finder (code compiled once, then read; a changed source never meets old code)."""

from __future__ import annotations

import ast
import importlib.util
import marshal
import os
import stat
import sys
import zipfile
import zipimport

import pytest

from ansible_collections.matih.helm.plugins.module_utils import bytecode_cache
from ansible_collections.matih.helm.plugins.module_utils.bytecode_cache import (
    CachedFinder, cache_directory, cache_file, install, read_cached, trusted_directory,
)

HOME = os.path.expanduser("~")

# id: environment -> directory (None: off)
DIRECTORIES = {
    "default": ({}, os.path.join(HOME, ".cache", "matih.helm", "bytecode")),
    "XDG_CACHE_HOME": ({"XDG_CACHE_HOME": "/var/cache/me"}, "/var/cache/me/matih.helm/bytecode"),
    "chosen directory": ({"MATIH_HELM_BYTECODE_CACHE": "/srv/pyc", "XDG_CACHE_HOME": "/x"}, "/srv/pyc"),
    "chosen with ~": ({"MATIH_HELM_BYTECODE_CACHE": "~/pyc"}, os.path.join(HOME, "pyc")),
    "off": ({"MATIH_HELM_BYTECODE_CACHE": "off"}, None),
    "OFF, spaces": ({"MATIH_HELM_BYTECODE_CACHE": " OFF "}, None),
    "false": ({"MATIH_HELM_BYTECODE_CACHE": "false"}, None),
    "0": ({"MATIH_HELM_BYTECODE_CACHE": "0"}, None),
    "empty means default": ({"MATIH_HELM_BYTECODE_CACHE": ""}, os.path.join(HOME, ".cache", "matih.helm", "bytecode")),
    "a relative XDG_CACHE_HOME is ignored": ({"XDG_CACHE_HOME": "cache"}, os.path.join(HOME, ".cache", "matih.helm", "bytecode")),
    "a relative directory: off": ({"MATIH_HELM_BYTECODE_CACHE": "pyc"}, None),
}


@pytest.mark.parametrize("environ, expected", list(DIRECTORIES.values()), ids=list(DIRECTORIES))
def test_cache_directory(environ, expected):
    assert cache_directory(environ) == expected


def test_trusted_directory_is_made_private(tmp_path):
    made = tmp_path / "a" / "b"
    assert trusted_directory(str(made))
    assert stat.S_IMODE(os.stat(made).st_mode) & 0o077 == 0


def test_nothing_is_made_when_nothing_may_be_written(tmp_path):
    assert not trusted_directory(str(tmp_path / "absent"), make=False)
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o720, 0o702])
def test_a_directory_others_may_write_is_not_trusted(tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    assert not trusted_directory(str(shared))


@pytest.mark.parametrize("mode, trusted", [(0o777, False), (0o775, False), (0o1777, True), (0o755, True)],
                         ids=["world-writable", "group-writable", "sticky like /tmp", "private"])
def test_every_directory_above_counts(tmp_path, mode, trusted):
    above = tmp_path / "above"
    above.mkdir()
    os.chmod(above, mode)
    assert trusted_directory(str(above / "cache")) is trusted


def test_a_link_through_a_directory_others_may_write_is_not_trusted(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    (shared / "link").symlink_to(real)
    assert trusted_directory(str(real))
    assert not trusted_directory(str(shared / "link"))
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "link").symlink_to(real)
    assert trusted_directory(str(private / "link"))


def test_a_file_in_the_way_is_not_a_cache(tmp_path):
    (tmp_path / "file").write_text("x")
    assert not trusted_directory(str(tmp_path / "file"))


def test_read_cached_takes_only_private_code(tmp_path):
    code = compile("VALUE = 1\n", "x.py", "exec")
    good = tmp_path / "good.bin"
    good.write_bytes(marshal.dumps(code))
    good.chmod(0o600)
    assert read_cached(str(good)) == code
    writable = tmp_path / "writable.bin"
    writable.write_bytes(marshal.dumps(code))
    writable.chmod(0o666)
    assert read_cached(str(writable)) is None
    link = tmp_path / "link.bin"
    link.symlink_to(good)
    assert read_cached(str(link)) is None
    not_code = tmp_path / "not-code.bin"
    not_code.write_bytes(marshal.dumps({"a": 1}))
    assert read_cached(str(not_code)) is None
    assert read_cached(str(tmp_path / "missing.bin")) is None


def test_cache_file_follows_the_source():
    one = cache_file("/c", "pkg.module_utils.connection", b"A = 1\n")
    assert one.startswith("/c/connection.") and one.endswith(".%s.bin" % sys.implementation.cache_tag)
    assert cache_file("/c", "pkg.module_utils.connection", b"A = 1\n") == one
    assert cache_file("/c", "pkg.module_utils.connection", b"A = 2\n") != one


def test_not_installed_outside_a_zip():
    # the unit tests import the package from files: Python's own __pycache__ serves them
    assert not install()
    assert not any(isinstance(finder, CachedFinder) for finder in sys.meta_path)


def make_zip(path, modules):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
        for name, source in modules.items():
            archive.writestr("pkg/%s.py" % name, source)
    return zipimport.zipimporter(os.path.join(str(path), "pkg") + os.sep)


def load(finder, fullname):
    spec = finder.find_spec(fullname)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compiled_once_then_read(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "one.zip", {"mod": "VALUE = 41 + 1\n"})
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    finder = CachedFinder(archive, str(cache), write=True, package="zcached")
    module = load(finder, "zcached.mod")
    assert module.VALUE == 42
    assert module.__file__ == os.path.join(archive.archive, "pkg", "mod.py")
    assert [name.split(".")[0] for name in os.listdir(cache)] == ["mod"]

    def refuse(*args, **kwargs):
        raise AssertionError("compiled although the cache holds the code")
    monkeypatch.setattr(bytecode_cache, "compile", refuse, raising=False)
    assert load(CachedFinder(archive, str(cache), write=True, package="zcached"), "zcached.mod").VALUE == 42


def test_a_changed_source_is_compiled_again_and_the_old_entry_goes(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    old = make_zip(tmp_path / "old.zip", {"mod": "VALUE = 'old'\n"})
    assert load(CachedFinder(old, str(cache), write=True, package="zchanged"), "zchanged.mod").VALUE == "old"
    other_python = cache / ("mod.%s.other-python-99.bin" % ("0" * 40))
    other_python.write_bytes(b"another Python's code")
    new = make_zip(tmp_path / "new.zip", {"mod": "VALUE = 'new'\n"})
    assert load(CachedFinder(new, str(cache), write=True, package="zchanged"), "zchanged.mod").VALUE == "new"
    assert sorted(os.listdir(cache)) == sorted([os.path.basename(cache_file(str(cache), "zchanged.mod", b"VALUE = 'new'\n")),
                                                other_python.name])


def test_nothing_written_without_permission_to_write_bytecode(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    archive = make_zip(tmp_path / "one.zip", {"mod": "VALUE = 1\n"})
    assert load(CachedFinder(archive, str(cache), write=False, package="zreadonly"), "zreadonly.mod").VALUE == 1
    assert os.listdir(cache) == []


def test_without_a_cache_directory_it_still_loads(tmp_path):
    archive = make_zip(tmp_path / "one.zip", {"mod": "VALUE = 1\n"})
    assert load(CachedFinder(archive, None, write=True, package="znocache"), "znocache.mod").VALUE == 1


def test_a_broken_cache_entry_is_compiled_again(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    source = "VALUE = 7\n"
    archive = make_zip(tmp_path / "one.zip", {"mod": source})
    with open(cache_file(str(cache), "zbroken.mod", source.encode()), "wb") as handle:
        handle.write(b"\x00not marshal data")
    assert load(CachedFinder(archive, str(cache), write=True, package="zbroken"), "zbroken.mod").VALUE == 7


def test_other_names_are_left_to_the_other_finders(tmp_path):
    archive = make_zip(tmp_path / "one.zip", {"mod": "VALUE = 1\n"})
    finder = CachedFinder(archive, None, write=True, package="zothers")
    assert finder.find_spec("elsewhere.mod") is None
    assert finder.find_spec("zothers.missing") is None
    assert finder.find_spec("zothers.mod.deeper") is None


def test_code_from_the_cache_names_this_run_s_zip(tmp_path):
    """AnsiballZ unpacks each task into a new directory: cached code must name the current one (tracebacks,
    debuggers and coverage go by it), not the zip of the run that compiled it."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    source = "def where():\n    return 1\n"
    first = make_zip(tmp_path / "run1.zip", {"mod": source})
    load(CachedFinder(first, str(cache), write=True, package="zpath"), "zpath.mod")
    second = make_zip(tmp_path / "run2.zip", {"mod": source})
    module = load(CachedFinder(second, str(cache), write=True, package="zpath"), "zpath.mod")
    assert module.where.__code__.co_filename == os.path.join(second.archive, "pkg", "mod.py") == module.__file__


def test_tracebacks_show_the_source(tmp_path):
    archive = make_zip(tmp_path / "one.zip", {"mod": "def fail():\n    raise ValueError('from the zip')\n"})
    spec = CachedFinder(archive, None, write=True, package="ztrace").find_spec("ztrace.mod")
    assert "from the zip" in spec.loader.get_source("ztrace.mod")


MODULES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "modules")


@pytest.mark.parametrize("name", sorted(name for name in os.listdir(MODULES) if name.endswith(".py") and name != "__init__.py"))
def test_every_module_imports_the_cache_before_the_other_module_utils(name):
    with open(os.path.join(MODULES, name), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    ours = [node for node in tree.body if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(bytecode_cache.PACKAGE)]
    assert ours, "%s imports no module_utils of ours" % name
    first = ours[0]
    assert first.module == bytecode_cache.PACKAGE and [alias.name for alias in first.names] == ["bytecode_cache"], (
        "%s must import bytecode_cache before its other module_utils (line %d)" % (name, first.lineno))
