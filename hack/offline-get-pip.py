"""Offline stand-in for ansible-test's get-pip bootstrap script.

ansible-test creates a virtualenv per sanity test and bootstraps pip into it with a get-pip.py it
downloads from a host we cannot reach. This script does the same job with what is local: the
interpreter's bundled pip (ensurepip), then `pip install` of the requested pip version from the
configured package index. hack/bootstrap.sh copies it to the cache path ansible-test looks at.
"""
import subprocess
import sys

# get-pip.py understands these two flags; pip install does not.
GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

# Both in subprocesses: ensurepip points PIP_CONFIG_FILE at /dev/null in its own process, which
# would hide the pip.conf that names the reachable package index.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS])
