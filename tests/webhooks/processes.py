"""Real `blocktrack` processes for the webhook tests: the CLI, and a server on a loopback port."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tests.servers import wait_ready

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "import sys; from api.cli import main; main(sys.argv[1:])"]


def env(database_url: str) -> dict[str, str]:
    return os.environ | {
        "BLOCKTRACK_DATABASE_URL": database_url,
        "BLOCKTRACK_WEBHOOK_POLL_SECONDS": "0.1",
        "BLOCKTRACK_WEBHOOK_TIMEOUT_SECONDS": "0.5",
        "BLOCKTRACK_WEBHOOK_BACKOFF_BASE_SECONDS": "0.1",
        "BLOCKTRACK_WEBHOOK_BACKOFF_CAP_SECONDS": "0.5",
    }


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], env=env(database_url), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"blocktrack {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done


@contextmanager
def running_server(
    database_url: str, port: int, log: IO[bytes], *serve_args: str, start_seconds: float = 120
) -> Iterator[subprocess.Popen[bytes]]:
    """`blocktrack serve` until the block ends. Several processes importing the app on a busy machine can
    take a while to answer; a server that does not stop when asked is killed, never left behind."""
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), *serve_args],
        env=env(database_url),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the worker processes are stopped with it
    )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}", start_seconds)
        yield process
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and its worker processes, even those a test left behind by killing the server."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
        raise
