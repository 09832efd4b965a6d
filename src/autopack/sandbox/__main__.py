"""``python -m autopack.sandbox serve``: the sandbox container's entrypoint in a runner pod.

Usage: python -m autopack.sandbox serve --socket /workspace/.autopack/sandbox.sock
       --root /workspace [--mode auto|bwrap|none]
"""

import argparse
import os
from pathlib import Path

from autopack.sandbox import choosing, remote


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until the pod ends."""
    parser = argparse.ArgumentParser(prog="python -m autopack.sandbox")
    commands = parser.add_subparsers(dest="action", required=True)
    serving = commands.add_parser("serve", help="run commands handed over by the agent container")
    serving.add_argument("--socket", type=Path, required=True, help="Unix socket to listen on")
    serving.add_argument("--root", type=Path, required=True, help="shared volume with workspaces")
    serving.add_argument("--mode", choices=choosing.MODES, default="auto")
    arguments = parser.parse_args(argv)
    # The agent (another user, same group) must be able to roll back what commands create.
    os.umask(0o002)
    remote.serve(arguments.socket, root=arguments.root, mode=arguments.mode)


if __name__ == "__main__":
    main()
