"""kubeemu: a Kubernetes API emulator in pure Python for running real Helm binaries in tests."""

from . import tls
from .emulator import CONTEXT, DEFAULT_TOKEN, Emulator

__all__ = ["CONTEXT", "DEFAULT_TOKEN", "Emulator", "tls"]
