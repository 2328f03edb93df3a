"""Real `blocktrack serve` processes in tests: waiting until one answers."""

import subprocess
import time

import httpx


def wait_ready(process: subprocess.Popen[bytes], base: str, seconds: float) -> None:
    """Until `base`/healthz answers 200; fails if the server exits or `seconds` pass first (loaded machines
    take a while to import the app in every worker)."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, "the server exited at start"
        assert time.monotonic() < deadline, "the server did not start"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
