# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compiled code of this collection's module_utils, kept between module runs.

Ansible runs a module from a zip file (AnsiballZ), and Python's zipimport never writes or reads a
``.pyc`` there: every task compiles the module_utils it imports again (zipimport even compiles
each file twice), about 60 ms of a rollback task for this collection's client, connection and
release store. Importing this file (the modules do it before their other module_utils) puts a
finder in front of zipimport for this package only. It compiles each file once, and loads code
compiled by an earlier run from a private cache directory, keyed on a SHA-256 of the source,
Python's bytecode magic number and optimisation level, so a changed collection or Python never
meets stale code.

It does nothing when the package is not imported from a zip (tests, ``ansible-test``, a module run
from the source tree: Python's own ``__pycache__`` serves those). The directory is
``$XDG_CACHE_HOME/matih.helm/bytecode`` (``~/.cache/...``), or ``MATIH_HELM_BYTECODE_CACHE``;
``MATIH_HELM_BYTECODE_CACHE=off`` turns the cache off. It is trusted only when the directory and
every directory above it belong to root or to the user running the module and no one else may
write to them (sticky directories such as /tmp excepted), as ssh's StrictModes checks, and each
cached file is opened without following links and must be this user's, unwritable by others.
With ``PYTHONDONTWRITEBYTECODE`` set, code is read but never written (and no directory made).
Any failure to read or write falls back to compiling.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import stat
import sys
import tempfile
import types
import zipimport

try:
    from _imp import _fix_co_filename  # what CPython's own .pyc loader uses; present since 3.4
except ImportError:  # another Python implementation: code keeps the path it was compiled with
    def _fix_co_filename(code, path):  # pylint: disable=unused-argument
        return None

PACKAGE = __name__.rpartition(".")[0]
SETTING = "MATIH_HELM_BYTECODE_CACHE"
OFF = ("off", "false", "no", "0")


def cache_directory(environ=None):
    """The cache directory to use (an absolute path), or None when the cache is off or no absolute
    path can be made (no home directory, a relative setting)."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(SETTING, "").strip()
    if chosen.lower() in OFF:
        return None
    if chosen:
        path = os.path.expanduser(chosen)
    else:
        base = environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):  # the XDG rule: a relative XDG_CACHE_HOME is ignored
            base = os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "matih.helm", "bytecode")
    return path if os.path.isabs(path) else None


def _safe(state, final):
    """A directory no one but root and this user may change: the final one must be this user's."""
    if not stat.S_ISDIR(state.st_mode):
        return False
    owner = os.geteuid()
    if final:
        return state.st_uid == owner and not state.st_mode & 0o022
    writable_by_others = state.st_mode & 0o022 and not state.st_mode & stat.S_ISVTX
    return state.st_uid in (0, owner) and not writable_by_others


def trusted_directory(path, make=True):
    """True when ``path`` (made 0700 first when ``make``) and every directory above it, as written and
    with links resolved, are safe (see _safe): then no one else can put code where it is read from."""
    try:
        if make:
            os.makedirs(path, mode=0o700, exist_ok=True)
        chains = {os.path.abspath(path), os.path.realpath(path)}  # one walk when no link is on the way
        for chain in chains:
            parts = chain.split(os.sep)
            for depth in range(1, len(parts) + 1):
                prefix = os.sep.join(parts[:depth]) or os.sep
                state = os.lstat(prefix)
                if stat.S_ISLNK(state.st_mode):
                    continue  # its directory was checked one step up; the resolved chain checks where it leads
                if not _safe(state, final=depth == len(parts)):
                    return False
    except OSError:
        return False
    return True


def cache_file(directory, module_name, source):
    """Where the code of ``module_name`` compiled from ``source`` (bytes) is kept."""
    key = importlib.util.MAGIC_NUMBER + b"%d:" % sys.flags.optimize + source
    digest = hashlib.sha256(key).hexdigest()[:40]
    return os.path.join(directory, "%s.%s.%s.bin" % (module_name.rpartition(".")[2], digest, sys.implementation.cache_tag))


def read_cached(path):
    """The code stored at ``path``, or None: missing, a link, not a regular file of this user that no one
    else may write, or not code."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        state = os.fstat(handle.fileno())
        if not stat.S_ISREG(state.st_mode) or state.st_uid != os.geteuid() or state.st_mode & 0o022:
            return None
        try:
            code = marshal.loads(handle.read())
        except (EOFError, ValueError, TypeError):
            return None
    return code if isinstance(code, types.CodeType) else None


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
        code = read_cached(cached) if cached else None
        if code is not None:
            # the code names the zip of the run that compiled it: name this run's, as a .pyc loader does
            _fix_co_filename(code, self.filename)
            return code
        code = compile(source, self.filename, "exec", dont_inherit=True)
        if cached and self.write:
            _store(cached, code)
        return code

    def get_source(self, fullname):  # pylint: disable=unused-argument
        """For tracebacks (linecache asks the module's loader)."""
        return importlib.util.decode_source(self.archive.get_data(self.filename))

    def get_filename(self, fullname):  # pylint: disable=unused-argument
        return self.filename

    def is_package(self, fullname):  # pylint: disable=unused-argument
        return False


def _store(cached, code):
    """Write ``code`` to a temporary file of its own and move it to its name, so that a reader never sees
    half a file; older entries of the same module for the same Python (another version of the
    collection) go."""
    directory, name = os.path.split(cached)
    prefix = name.split(".", 1)[0] + "."
    suffix = ".%s.bin" % sys.implementation.cache_tag  # another Python's entries stay: both may run here
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    except OSError:
        return
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(marshal.dumps(code))
        os.replace(temporary, cached)
        for other in os.listdir(directory):
            if other.startswith(prefix) and other.endswith(suffix) and other != name:
                os.unlink(os.path.join(directory, other))
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
    write = not sys.dont_write_bytecode
    directory = cache_directory()
    if directory is not None and not trusted_directory(directory, make=write):
        directory = None
    sys.meta_path.insert(0, CachedFinder(archive, directory, write=write))
    return True


install()
