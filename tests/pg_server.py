"""A throw-away local PostgreSQL server for the test suite: ``python -m tests.pg_server CMD ...``.

Creates a cluster in a temporary directory with the distribution's binaries, starts it on a free
port, runs CMD with ``EMBUDO_TEST_POSTGRES_URL`` set, then stops the server and deletes the directory.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.harness import free_port


def bin_dir() -> Path:
    """The newest PostgreSQL server binaries the distribution installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise SystemExit("PostgreSQL server binaries not found: 'apt-get install postgresql' (make does it).")


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres() -> Iterator[str]:
    binaries = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="embudo-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    try:
        subprocess.run(
            _as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                             "--no-sync", "-E", "UTF8"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        subprocess.run(
            _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                             str(root / "server.log"), "-w", "start"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if data.exists():
            subprocess.run(
                _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    command = sys.argv[1:]
    if not command:
        raise SystemExit("usage: python -m tests.pg_server COMMAND [ARGS...]")
    with postgres() as url:
        print(f"PostgreSQL test server at {url}", flush=True)
        return subprocess.run(command, env={**os.environ, "EMBUDO_TEST_POSTGRES_URL": url}).returncode


if __name__ == "__main__":
    sys.exit(main())
