"""Makes the test bed's fixtures available to the tests in this directory."""

import os
import sys

# The test bed is imported as top-level modules (kubeemu, scenarios, fixtures).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fixtures import *  # noqa: E402,F401,F403  pylint: disable=wildcard-import,unused-wildcard-import,wrong-import-position
