"""``python -m kubeemu --kubeconfig PATH [--port N] [--pidfile PATH] [--tls]``: serve until SIGTERM."""

import argparse
import logging
import os
import signal
import sys
import threading

from .emulator import DEFAULT_TOKEN, Emulator


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kubeemu", description="Kubernetes API emulator for Helm tests.")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--pidfile", help="write this process id here while serving")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token written to the kubeconfig")
    parser.add_argument("--require-token", action="store_true", help="refuse requests without the token (Helm sends it only over TLS)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS; the CA certificate goes to KUBECONFIG.ca.crt")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    emulator = Emulator(args.kubeconfig, args.host, args.port, args.token, args.require_token, args.tls).start()
    if args.pidfile:
        with open(args.pidfile, "w", encoding="utf-8") as handle:
            handle.write("%d\n" % os.getpid())
    ca_note = ", CA %s" % emulator.ca_cert_path if emulator.ca_cert_path else ""
    sys.stdout.write("kubeemu serving %s (kubeconfig %s%s)\n" % (emulator.url, emulator.kubeconfig_path, ca_note))
    sys.stdout.flush()
    try:
        stopping.wait()
    finally:
        emulator.stop()
        if args.pidfile and os.path.exists(args.pidfile):
            os.unlink(args.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
