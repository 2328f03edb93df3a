"""Memory of the server while clients try to send it oversized bodies: flat, whatever they send.

Starts `blocktrack serve` (its own process group, killed at the end) on BLOCKTRACK_DATABASE_URL (default a
temporary SQLite file), then sends --clients (8) concurrent unauthenticated POSTs of --megabytes (100 MB)
each, twice: once declaring the size in Content-Length, once chunked without it. Samples the resident
memory (VmRSS) of every process in the server's group every 20 ms and prints, per round, the RSS before,
the peak during, the RSS after and what each client saw; at the end each process's VmHWM (its peak).

    .venv/bin/python bench/body_limit_rss.py [--clients 8] [--megabytes 100]
"""

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 256 * 1024


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp
                pids.append(int(entry.name))
    return sorted(pids)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def group_rss_mib(pgid: int) -> float:
    return sum(status_kib(pid, "VmRSS") for pid in group_pids(pgid)) / 1024


class Sampler:
    """The group's summed VmRSS every 20 ms, on a thread, while a round runs."""

    def __init__(self, pgid: int) -> None:
        self.pgid, self.peak, self._stop = pgid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, group_rss_mib(self.pgid))
            time.sleep(0.02)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def attempt(port: int, total: int, declared: bool) -> tuple[str, int]:
    """One client on a raw connection: sends the body while reading; stops when an answer comes.
    Returns the status (or what ended the connection) and how many body bytes it got to send."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = f"Content-Length: {total}" if declared else "Transfer-Encoding: chunked"
    writer.write(f"POST /v1/patients HTTP/1.1\r\nHost: bench\r\n{length}\r\n\r\n".encode())
    block = b"x" * CHUNK if declared else f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent = 0

    async def pump() -> None:
        nonlocal sent
        while sent < total:
            writer.write(block)
            await writer.drain()
            sent += CHUNK

    pumping = asyncio.create_task(pump())
    try:
        status_line = await reader.readline()
        outcome = status_line.split()[1].decode() if status_line else "closed"
    except OSError as exc:
        outcome = type(exc).__name__
    pumping.cancel()
    await asyncio.gather(pumping, return_exceptions=True)
    writer.close()
    return outcome, sent


async def round_of(port: int, clients: int, total: int, declared: bool) -> tuple[Counter[str], int]:
    attempts = asyncio.gather(*(attempt(port, total, declared) for _ in range(clients)))
    results = await asyncio.wait_for(attempts, timeout=300)
    return Counter(outcome for outcome, _ in results), max(sent for _, sent in results)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"BLOCKTRACK_DATABASE_URL": database_url, "BLOCKTRACK_RUN_DELIVERER": "false"}
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited at start")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--megabytes", type=int, default=100)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # so the server is stopped below
    total = args.megabytes * 1_000_000 // CHUNK * CHUNK
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BLOCKTRACK_DATABASE_URL", f"sqlite:///{tmp}/bench.db")
        port, log = free_port(), Path(tmp) / "server.log"
        server = serve(url, port, log)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, server)
            print(f"server group {server.pid}: processes {group_pids(server.pid)}")
            print(f"RSS at start: {group_rss_mib(server.pid):.1f} MiB")
            for declared in (True, False):
                before = group_rss_mib(server.pid)
                with Sampler(server.pid) as sampler:
                    started = time.monotonic()
                    outcomes, most_sent = asyncio.run(round_of(port, args.clients, total, declared))
                    elapsed = time.monotonic() - started
                time.sleep(0.5)
                name = "Content-Length" if declared else "chunked"
                print(
                    f"{args.clients} x {total / 1e6:.0f} MB {name}: RSS before {before:.1f} MiB, "
                    f"peak {sampler.peak:.1f} MiB, after {group_rss_mib(server.pid):.1f} MiB; "
                    f"answers {dict(outcomes)} in {elapsed:.1f} s, at most {most_sent / 1e6:.1f} MB sent "
                    "by a client before its answer"
                )
            # A client still sending when the server closes may see a reset instead of the 413 sent to it.
            answered = log.read_text().count("POST /v1/patients 413")
            print(f"413 answers in the server's access log: {answered} of {2 * args.clients}")
            for pid in group_pids(server.pid):
                print(f"pid {pid}: VmHWM {status_kib(pid, 'VmHWM') / 1024:.1f} MiB (its peak since start)")
        finally:
            stop(server)


if __name__ == "__main__":
    main()
