"""The workspace script's "now" in an empty time field, on a bare page: no server, the real app.js.

The journey once lost a block to it: the script wrote the time into the field between Playwright's
select-all and its typing, and the form got both times run together.
"""

import re
from pathlib import Path

from playwright.async_api import Browser, expect

APP_JS = (Path(__file__).resolve().parents[2] / "api" / "ui" / "static" / "app.js").read_text()
LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d$")


async def _page_with(browser: Browser, before_script: str) -> str:
    context = await browser.new_context(timezone_id="America/Chicago")
    page = await context.new_page()
    await page.set_content(
        f'<label for="t">Performed at</label><input id="t" data-local-now value="">'
        f"<script>{before_script}</script><script>{APP_JS}</script>"
    )
    await page.wait_for_load_state("domcontentloaded")
    value = await page.locator("#t").input_value()
    await context.close()
    return value


async def test_an_empty_time_field_gets_the_browser_clock_with_its_offset(browser: Browser) -> None:
    value = await _page_with(browser, "")
    assert LOCAL_TIME.match(value), value
    assert value.endswith(("-06:00", "-05:00")), value  # Chicago, winter or summer


async def test_a_time_field_someone_is_in_is_left_to_them(browser: Browser) -> None:
    value = await _page_with(browser, "document.getElementById('t').focus();")
    assert value == ""


async def test_typing_after_select_all_is_not_prefixed_by_the_script(browser: Browser) -> None:
    """The journey's race, in order: focus and select-all, the script's load handler, then the keys."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.set_content('<input id="t" data-local-now value="">')
    await page.add_script_tag(content=APP_JS)
    await page.evaluate("const t = document.getElementById('t'); t.focus(); t.select();")
    await page.evaluate("document.dispatchEvent(new Event('DOMContentLoaded'))")
    await page.keyboard.insert_text("2026-11-20 09:30 -05:00")
    await expect(page.locator("#t")).to_have_value("2026-11-20 09:30 -05:00")
    await context.close()
