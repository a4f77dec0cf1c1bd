# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compiled code of this collection's module_utils, kept between module runs.

Ansible runs a module from a zip file (AnsiballZ), and Python's zipimport never writes or reads a
``.pyc`` there: every task compiles the module_utils it imports again, about 60 ms of a rollback
task for this collection's client, connection and release store. Importing this file (the modules
do it before their other module_utils) puts a finder in front of zipimport for this package only.
It loads code compiled by an earlier run from a private cache directory, keyed on a SHA-256 of the
source and Python's bytecode magic number, so a changed collection or Python never meets stale
code; otherwise it compiles and stores the code for the next run.

It does nothing when the package is not imported from a zip (tests, ``ansible-test``, a module run
from the source tree: Python's own ``__pycache__`` serves those). The directory is
``$XDG_CACHE_HOME/matih.helm/bytecode`` (``~/.cache/...``), or ``MATIH_HELM_BYTECODE_CACHE``;
``MATIH_HELM_BYTECODE_CACHE=off`` turns the cache off. It is only used when it belongs to the
user running the module and no one else may write to it (as ssh checks its keys); with
``PYTHONDONTWRITEBYTECODE`` set, code is read but never written. Any failure to read or write
falls back to compiling, as zipimport does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import zipimport

PACKAGE = __name__.rpartition(".")[0]
SETTING = "MATIH_HELM_BYTECODE_CACHE"
OFF = ("off", "false", "no", "0")


def cache_directory(environ=None):
    """The cache directory to use, or None when the cache is off."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(SETTING, "").strip()
    if chosen.lower() in OFF:
        return None
    if chosen:
        return os.path.expanduser(chosen)
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "matih.helm", "bytecode")


def private_directory(path):
    """``path`` made if missing (0700): True when it is a directory of this user that no one else may
    write to, the condition for loading code from it."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        state = os.stat(path)
    except OSError:
        return False
    return os.path.isdir(path) and state.st_uid == os.getuid() and not state.st_mode & 0o022


def cache_file(directory, module_name, source):
    """Where the code of ``module_name`` compiled from ``source`` (bytes) is kept."""
    digest = hashlib.sha256(importlib.util.MAGIC_NUMBER + source).hexdigest()[:40]
    return os.path.join(directory, "%s.%s.%s.bin" % (module_name.rpartition(".")[2], digest, sys.implementation.cache_tag))


class CachedLoader(object):
    """Loads one module of this package from the zip, with its code read from or written to the cache."""

    def __init__(self, archive, filename, source, directory, write):
        self.archive = archive  # the zipimporter of this package's directory in the zip
        self.filename = filename
        self.source = source
        self.directory = directory
        self.write = write

    def create_module(self, spec):  # pylint: disable=unused-argument  # the default module object
        return None

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)  # pylint: disable=exec-used  # what any loader does

    def get_code(self, fullname):
        source, self.source = self.source or self.archive.get_data(self.filename), None
        cached = cache_file(self.directory, fullname, source) if self.directory else None
        if cached:
            try:
                with open(cached, "rb") as handle:
                    return marshal.loads(handle.read())
            except (OSError, EOFError, ValueError, TypeError):
                pass
        code = compile(source, self.filename, "exec", dont_inherit=True)
        if cached and self.write:
            _store(cached, code)
        return code

    def get_source(self, fullname):  # pylint: disable=unused-argument
        """For tracebacks (linecache asks the module's loader)."""
        return self.archive.get_data(self.filename).decode("utf-8")

    def get_filename(self, fullname):  # pylint: disable=unused-argument
        return self.filename

    def is_package(self, fullname):  # pylint: disable=unused-argument
        return False


def _store(cached, code):
    """Write ``code`` next to its final name and move it there, so that a reader never sees half a file;
    older entries of the same module (another version of the collection) go."""
    prefix = os.path.basename(cached).split(".", 1)[0] + "."
    temporary = "%s.%d.tmp" % (cached, os.getpid())
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(marshal.dumps(code))
        os.replace(temporary, cached)
        directory = os.path.dirname(cached)
        for name in os.listdir(directory):
            if name.startswith(prefix) and name.endswith(".bin") and os.path.join(directory, name) != cached:
                os.unlink(os.path.join(directory, name))
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


class CachedFinder(object):
    """Finds this package's modules in the zip and hands each to a CachedLoader.

    zipimport itself compiles a module twice (its find_spec asks get_filename, which compiles the
    source only to name the file; exec_module compiles it again), so this finder never asks it: it
    names the file itself and reads it with get_data, which does not compile."""

    def __init__(self, archive, directory, write, package=PACKAGE):
        self.archive = archive
        self.directory = directory
        self.write = write
        self.package = package

    def find_spec(self, fullname, path=None, target=None):  # pylint: disable=unused-argument
        package, _dot, name = fullname.rpartition(".")
        if package != self.package:
            return None
        filename = os.path.join(self.archive.archive, self.archive.prefix, name + ".py")
        try:
            source = self.archive.get_data(filename)
        except OSError:
            return None  # not a module of ours in the zip: the other finders decide
        loader = CachedLoader(self.archive, filename, source, self.directory, self.write)
        return importlib.util.spec_from_file_location(fullname, filename, loader=loader)


def install():
    """Put the finder first, once, when this package was imported from a zip. Without a usable cache
    directory it still loads each module with one compilation instead of zipimport's two."""
    archive = globals().get("__loader__")
    if not isinstance(archive, zipimport.zipimporter):
        return False
    if any(isinstance(finder, CachedFinder) for finder in sys.meta_path):
        return True
    directory = cache_directory()
    if directory is not None and not private_directory(directory):
        directory = None
    sys.meta_path.insert(0, CachedFinder(archive, directory, write=not sys.dont_write_bytecode))
    return True


install()
