"""Browser tests: a real `blocktrack serve` on a free port, driven by Debian's chromium through Playwright.

`playwright install` cannot work on these machines (it downloads its own browser), so the tests launch
the system's /usr/bin/chromium. Screenshots go to $BLOCKTRACK_SCREENSHOT_DIR (default build/screenshots).
"""

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.databases import throwaway_database
from tests.fuzz import _free_port, _start_server, _wait_ready

CHROMIUM = os.environ.get("BLOCKTRACK_CHROMIUM", "/usr/bin/chromium")
# The machine's network is closed: nothing in the browser may try to phone home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("BLOCKTRACK_SCREENSHOT_DIR", ROOT / "build" / "screenshots"))


@dataclass(frozen=True)
class Live:
    base_url: str
    clinic_id: str
    email: str
    password: str  # one-time: the first sign-in asks for a new one


def _cli(url: str, *args: str) -> dict[str, str]:
    env = {**os.environ, "BLOCKTRACK_DATABASE_URL": url}
    command = [sys.executable, "-c", "from api.cli import main; main()", *args, "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    with throwaway_database(tmp) as url:
        clinic = _cli(url, "clinic", "create", "Riverside Spine")
        email = "sam.rivera@riverside.example"
        user = _cli(
            url,
            "user",
            "create",
            "--clinic",
            clinic["clinic_id"],
            "--email",
            email,
            "--name",
            "Sam Rivera",
            "--role",
            "staff",
        )
        port = _free_port()
        server = _start_server(url, port, tmp / "server.log")
        try:
            _wait_ready(f"http://127.0.0.1:{port}", server)
            yield Live(f"http://127.0.0.1:{port}", clinic["clinic_id"], email, user["password"])
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
