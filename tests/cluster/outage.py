"""Database outages for tests: a private PostgreSQL server that a test stops and starts.

A real PostgreSQL 15 server owned by one test, stopped with ``pg_ctl stop -m immediate`` and
started again on the same port, so clients see what they see when a database goes away.
"""

import subprocess
from pathlib import Path

from tests.cluster.harness import REPO, free_port

PG_CTL = REPO / "scripts" / "pg_ctl_as_postgres.sh"


class PrivatePostgres:
    """A PostgreSQL 15 server of one test, which the test may stop and start: a real outage.

    The suite's shared server is left alone; this one lives in the test's directory and is
    driven through ``scripts/pg_ctl_as_postgres.sh`` (PostgreSQL refuses to run as root).
    """

    def __init__(self, directory: Path) -> None:
        """Create (initdb) a server in ``directory / "data"`` on a free port."""
        self.data = directory / "data"
        self.port = free_port()
        self.log = directory / "postgres.log"
        self._pg_ctl("init", "-o", "--auth=trust --username=postgres --encoding=UTF8")

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -F"
        self._pg_ctl("start", "-w", "-l", str(self.log), "-o", options)

    def stop(self) -> None:
        """Stop the server at once (clients see their connections break)."""
        self._pg_ctl("stop", "-m", "immediate", check=False)

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [str(PG_CTL), *args, "-D", str(self.data)],
            check=check,
            capture_output=True,
            timeout=60,
        )
