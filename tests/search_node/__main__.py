"""``python -m tests.search_node [--port 9200] [--data-dir DIR] [--foreground]``: a development search node.

``make elasticsearch`` runs it in the foreground until Ctrl-C, data under ``./var/search-node``. Without
``--foreground`` the node is left running in the background and its pid and URL are printed.
"""

from __future__ import annotations

import argparse
import atexit
import signal
import sys
import time
from pathlib import Path

from tests.search_node import SearchNodeError, start_node


def main(argv: list[str] | None = None) -> int:
    """Start the node; in the foreground, wait for Ctrl-C (or SIGTERM) and stop it cleanly."""
    parser = argparse.ArgumentParser(prog="python -m tests.search_node", description=__doc__)
    parser.add_argument("--port", type=int, default=9200, help="HTTP port (default 9200)")
    parser.add_argument("--data-dir", type=Path, default=Path("var/search-node"), help="node data folder")
    parser.add_argument("--foreground", action="store_true", help="run until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    args = parser.parse_args(argv)

    try:
        node = start_node(port=args.port, data_dir=args.data_dir, timeout=args.timeout)
    except SearchNodeError as exc:
        print(f"search node failed: {exc}", file=sys.stderr)
        return 1
    print(f"search node ready at {node.url} in {node.started_in:.1f} s (log: {node.log_path})", flush=True)
    if not args.foreground:
        atexit.unregister(node.stop)  # leave it running
        print(f"pid {node.process.pid}; stop it with: kill {node.process.pid}")
        return 0

    # SIGTERM (e.g. from make or a supervisor) stops it the same way as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while node.process.poll() is None:
            time.sleep(0.5)
        print(f"search node exited with {node.process.returncode}; log tail:\n{node.log_tail()}")
        return 1
    except KeyboardInterrupt:
        print("stopping search node...", flush=True)
        return 0
    finally:
        node.stop()


if __name__ == "__main__":
    sys.exit(main())
