"""A member of staff's day in the workspace, in a real browser, keyboard first.

Sign in (and replace the one-time password), register a patient, record a bilateral L4-L5 lidocaine
block, type its 12-row diary with the keyboard alone, see the verdicts and the chart, correct a reading
with a reason, record the confirming block and its diary, see the referral on the board and in the
worklist, open the letter and its PDF. Every step saves a screenshot (1024 px wide, and at 200% zoom);
no request may leave the server.
"""

import asyncio
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import Live

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a long new password"
# (all targets, left, right) per row: pre, 15, 30, 45, 60 min, 2, 3, 4, 5, 6, 8, 24 h. None: same as all.
FIRST_DIARY = [("8", None, None), ("1", None, None), ("1", None, None), ("1", "1", "0"), ("1", None, None),
               ("2", None, None), ("5", None, None), ("7", None, None), ("8", None, None), ("8", None, None),
               ("8", None, None), ("8", None, None)]  # fmt: skip
SECOND_DIARY = [("7", None, None), ("1", None, None), ("0", None, None), ("0", None, None), ("1", None, None),
                ("1", None, None), ("1", None, None), ("1", None, None), ("4", None, None), ("6", None, None),
                ("7", None, None), ("7", None, None)]  # fmt: skip


class Journey:
    def __init__(self, live: Live, page: Page, zoomed: Page, shots: Path) -> None:
        self.live, self.page, self.zoomed, self.shots = live, page, zoomed, shots
        self.saved: list[str] = []

    async def shot(self, name: str, zoom: bool = False) -> None:
        await self.page.screenshot(path=self.shots / f"{name}-1024.png", full_page=True)
        self.saved.append(f"{name}-1024.png")
        if zoom:  # the same page at 200%: a 512 px CSS viewport drawn at twice the pixels
            await self.zoomed.goto(self.page.url)
            await self.zoomed.screenshot(path=self.shots / f"{name}-200pct.png", full_page=True)
            self.saved.append(f"{name}-200pct.png")

    async def sign_in(self) -> None:
        page = self.page
        await page.goto(f"{self.live.base_url}/ui/patients")
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await self.shot("01-sign-in", zoom=True)
        await page.get_by_label("Email", exact=True).fill(self.live.email)
        await page.get_by_label("Password", exact=True).fill(self.live.password)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
        await page.get_by_label("Current (one-time) password").fill(self.live.password)
        await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        await page.get_by_label("New password again").fill(NEW_PASSWORD)
        await self.shot("02-choose-password")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Patients")).to_be_visible()

    async def create_patient(self) -> None:
        page = self.page
        await page.get_by_label("MRN", exact=True).fill("MRN-0042")
        await page.get_by_label("Name", exact=True).fill("Dana Whitfield")
        await page.get_by_label("Date of birth").fill("03/08/1964")
        await page.get_by_label("Date of birth").press("Enter")
        await expect(page.get_by_text("write the date as YYYY-MM-DD")).to_be_visible()
        await expect(page.get_by_label("Date of birth")).to_be_focused()  # the first field in error
        await self.shot("03-patient-date-error")  # zoomed shots reload the page: no error there
        await page.get_by_label("Date of birth").fill("1964-03-08")
        await page.get_by_label("Date of birth").press("Enter")
        await expect(page.get_by_role("heading", name="Dana Whitfield")).to_be_visible()

    async def record_block(self, days_ago: int, agent: str) -> None:
        page = self.page
        when = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%d 09:30 -05:00")
        await page.get_by_label("Performed at").fill(when)
        await page.get_by_label("Joints", exact=True).fill("l4-5")
        await page.get_by_label("Agent", exact=True).select_option(agent)
        await page.get_by_label("Volume per nerve (mL)").fill("0.5")
        await page.get_by_role("button", name="Record block").click()
        await expect(page.get_by_role("heading", name="Type the diary")).to_be_visible()

    async def type_diary(self, rows: list[tuple[str, str | None, str | None]]) -> float:
        """Digits and Enter down the "all targets" column; arrows for a row whose sides differ.
        Returns the seconds from the first key to the saved verdict on screen."""
        page = self.page
        await page.locator('input[name="score-0-all"]').focus()
        started = time.perf_counter()
        for every, left, right in rows:
            await page.keyboard.type(every)
            if left is not None:
                for key, value in (("ArrowRight", left), ("ArrowRight", right)):
                    await page.keyboard.press(key)
                    await page.keyboard.type(value or every)
                await page.keyboard.press("ArrowLeft")
                await page.keyboard.press("ArrowLeft")
            await page.keyboard.press("Enter")
        await page.keyboard.press("Enter")  # past the empty "add a time" row
        await expect(page.locator("#save-diary")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("table.diary-recorded")).to_be_visible()
        await expect(page.locator("#verdict .verdict .badge").first).to_be_visible()
        return time.perf_counter() - started

    async def verdicts(self) -> list[str]:
        return [t.strip() for t in await page_texts(self.page, "#verdict .verdict .badge")]

    async def correct_reading(self) -> None:
        page = self.page
        await page.locator("table.diary-recorded tbody tr").nth(2).locator("a").first.click()  # 30 min, left
        await expect(page.get_by_role("heading", name="Correct it")).to_be_visible()
        await page.get_by_label("New score").fill("0")
        await page.get_by_label("Reason", exact=True).first.fill("Paper diary reads 0, not 1")
        await self.shot("06-correct-reading", zoom=True)
        await page.get_by_role("button", name="Save correction").click()
        await expect(page.locator("table.diary-recorded")).to_be_visible()

    async def open_board(self) -> None:
        await self.page.locator(".crumbs a").click()
        await expect(self.page.get_by_role("heading", name="Levels")).to_be_visible()


def pdf_page_one(pdf: bytes, folder: Path) -> None:
    """The letter PDF and its page 1 as PNG (pdftoppm), beside the screenshots, to look at."""
    (folder / "letter.pdf").write_bytes(pdf)
    page = [
        "pdftoppm",
        "-png",
        "-r",
        "80",
        "-f",
        "1",
        "-l",
        "1",
        "-singlefile",
        "letter.pdf",
        "11-letter-pdf-page1",
    ]
    subprocess.run(page, cwd=folder, check=True)


async def page_texts(page: Page, selector: str) -> list[str]:
    return [await el.inner_text() for el in await page.locator(selector).all()]


async def _guarded(browser: Browser, live: Live, outside: list[str], **options: object) -> BrowserContext:
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    server = urlsplit(live.base_url).netloc

    async def check(route: Route) -> None:
        if urlsplit(route.request.url).netloc != server:
            outside.append(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    await context.route("**/*", check)
    return context


async def test_staff_journey_diary_to_letter(browser: Browser, live: Live, screenshots: Path) -> None:
    outside: list[str] = []
    context = await _guarded(browser, live, outside, viewport={"width": 1024, "height": 800})
    page = await context.new_page()
    zoom_context = await _guarded(
        browser, live, outside, viewport={"width": 512, "height": 800}, device_scale_factor=2
    )
    journey = Journey(live, page, await zoom_context.new_page(), screenshots)
    await journey.sign_in()
    await zoom_context.add_cookies(await context.cookies())
    await journey.shot("02b-patients", zoom=True)
    await journey.create_patient()
    await journey.shot("04-patient-board-empty", zoom=True)

    await journey.record_block(days_ago=9, agent="lidocaine")
    first_seconds = await journey.type_diary(FIRST_DIARY)
    assert await journey.verdicts() == ["Positive", "Positive"]
    await expect(page.locator("figure.chart svg title")).to_contain_text("lidocaine")
    await journey.shot("05-diary-verdict-chart", zoom=True)
    await journey.correct_reading()
    await journey.shot("07-diary-after-correction")
    assert await journey.verdicts() == ["Positive", "Positive"]

    await journey.open_board()
    await journey.record_block(days_ago=2, agent="bupivacaine")
    second_seconds = await journey.type_diary(SECOND_DIARY)
    assert await journey.verdicts() == ["Positive", "Positive"]
    await journey.open_board()
    await expect(page.locator("article.level .badge", has_text="Referral recommended")).to_have_count(2)
    await journey.shot("08-board-referral", zoom=True)
    await page.get_by_role("link", name="Referrals").first.click()
    await expect(page.locator("table.worklist tbody tr")).to_have_count(2)
    await journey.shot("09-worklist", zoom=True)

    patient_url = page.url
    await page.goto(f"{live.base_url}/ui/referrals")
    letter = page.locator("table.worklist a", has_text="letter").first
    letter_url = live.base_url + (await letter.get_attribute("href") or "")
    await page.goto(letter_url)
    await expect(page.get_by_text("Suggested procedure")).to_be_visible()
    await journey.shot("10-letter", zoom=True)
    pdf = await context.request.get(letter_url + ".pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    await asyncio.to_thread(pdf_page_one, await pdf.body(), screenshots)
    journey.saved += ["letter.pdf", "11-letter-pdf-page1.png"]

    await page.goto(f"{live.base_url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Blocktrack", timeout=20_000)
    await journey.shot("12-docs")
    await page.goto(f"{live.base_url}/redoc")
    await expect(page.get_by_role("heading", name="Blocktrack").first).to_be_visible(timeout=20_000)
    assert outside == [], f"requests left the server: {outside}"
    assert patient_url
    timings = {
        "first_diary_seconds": round(first_seconds, 2),
        "second_diary_seconds": round(second_seconds, 2),
    }
    (screenshots / "journey.json").write_text(
        json.dumps({"timings": timings, "files": journey.saved}, indent=2)
    )
    print(f"\ndiary typed, first key to saved verdict: {timings}; screenshots in {screenshots}")
    await context.close()
    await zoom_context.close()
