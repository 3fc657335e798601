"""The public pages and the staff console in a real browser: Debian's headless Chromium,
driven by Selenium through Debian's chromedriver (``.ci/run`` installs both).

The bridge is real (console_town): residents and staff write through the Telegram emulator.
Screenshots of the public page and the staff console are kept in tests/artifacts/ (their
paths are printed); docs/images/ holds one of each, shown in the README.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_town import DOCTOR_GROUP, LIGHTING_GROUP, Town, town

__all__ = ["town"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"
RESIDENT = 1001  # Carmen, the emulator's default resident, writing privately to the bot
WIDTH = 1100

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
    reason="the browser tests need Debian's chromium and chromium-driver "
    "(/usr/bin/chromium, /usr/bin/chromedriver): apt-get install chromium chromium-driver, "
    "as .ci/run does",
)


def png(width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> bytes:
    """A real PNG (a vertical gradient), so that the browser draws the photos it is sent."""
    rows = []
    for y in range(height):
        mix = y / max(height - 1, 1)
        pixel = bytes(round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + pixel * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


NIGHT = png(320, 200, (20, 24, 48), (70, 70, 90))  # the dead lamp, at night
FIXED = png(320, 200, (250, 220, 120), (120, 110, 90))  # the lamp, lit again


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module's tests; nothing it loads leaves the machine."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        f"--window-size={WIDTH},900",
    ):
        options.add_argument(argument)
    # Jun's staff and residents read Spanish: the pages follow the browser's language.
    options.add_experimental_option("prefs", {"intl.accept_languages": "es-ES,es"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The browser, driven from async tests: each call runs in a thread, so the bridge's
    server (on the test's own event loop) answers meanwhile."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def run(self, work: Any, *args: Any) -> Any:
        return await asyncio.to_thread(work, *args)

    async def open(self, url: str) -> None:
        await self.run(self.driver.get, url)

    async def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(await self.run(self.driver.find_elements, By.CSS_SELECTOR, css))

    async def one(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return await self.run(self.driver.find_element, By.CSS_SELECTOR, css)

    async def click(self, css: str) -> None:
        """Click a link or a form's button, and wait for the page it leads to."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.support.wait import WebDriverWait

        old = await self.one("html")
        await self.run((await self.one(css)).click)

        def left(_driver: Any) -> bool:
            # The old page is gone. Caught mid-navigation, Chromium may say so with "Node
            # with given id does not belong to the document" instead of a stale element.
            try:
                old.is_enabled()
            except StaleElementReferenceException:
                return True
            except WebDriverException as exc:
                if "does not belong to the document" in str(exc):
                    return True
                raise
            return False

        wait = WebDriverWait(self.driver, 20)
        await self.run(wait.until, left)
        await self.run(
            wait.until, lambda d: d.execute_script("return document.readyState") == "complete"
        )

    async def type(self, css: str, text: str) -> None:
        await self.run((await self.one(css)).send_keys, text)

    async def source(self) -> str:
        return str(await self.run(lambda: self.driver.page_source))

    async def text(self) -> str:
        return str((await self.run((await self.one("body")).get_attribute, "innerText")) or "")

    async def drawn(self, css: str) -> list[int]:
        """The natural width of each image matching ``css`` once loaded (0: the browser could
        not draw it). Lazy images are scrolled into view first, and given 10 s."""
        script = (
            "return Array.from(document.querySelectorAll(arguments[0]))"
            ".map(i => { i.scrollIntoView(); return i.complete ? i.naturalWidth : -1; })"
        )
        widths: list[int] = []
        for _ in range(100):
            widths = list(await self.run(self.driver.execute_script, script, css))
            if -1 not in widths:
                break
            await asyncio.sleep(0.1)
        return [max(width, 0) for width in widths]

    async def screenshot(self, name: str) -> Path:
        """The whole page as a PNG in tests/artifacts/; its path is printed."""
        ARTIFACTS.mkdir(exist_ok=True)
        height = await self.run(
            self.driver.execute_script, "return document.documentElement.scrollHeight"
        )
        await self.run(self.driver.set_window_size, WIDTH, min(max(int(height) + 160, 600), 4000))
        path = ARTIFACTS / f"{name}.png"
        assert await self.run(self.driver.save_screenshot, str(path))
        await self.run(self.driver.set_window_size, WIDTH, 900)
        print(f"screenshot: {path}")
        return path


async def lamp_fixed(town: Town) -> str:
    """A dead lamp reported with a photo, fixed by the electrician from the group with one."""
    await town.emulator.resident_sends_photo(
        "La farola de la calle Real 12 no funciona desde ayer", image=NIGHT
    )
    await town.settle()
    [request] = await town.bridge.requests.all(department="lighting")
    await town.emulator.resident_sends_photo(
        f"resolve {request.reference} bombilla cambiada",
        image=FIXED,
        user=town.electrician(),
        chat=town.lighting_group(),
    )
    await town.settle()
    return request.reference


async def test_the_public_page_shows_charts_and_a_request_with_its_photos_never_the_doctor(
    town: Town, browser: Any
):
    lamp = await lamp_fixed(town)
    doctor = await town.doctor()
    page = Page(browser)
    await page.open(f"{town.server.url}/?lang=es")
    assert "Transparencia" in await page.text()
    charts = await page.all("section#lighting svg.chart")
    assert len(charts) >= 2  # the backlog and the promises kept
    assert await page.all("svg.chart rect.chart-bar")
    source = await page.source()
    assert lamp in source and doctor not in source and "rodilla" not in source
    await page.screenshot("public-page")

    await page.click(f'a[href^="/requests/{lamp}"]')
    assert f"{lamp}" in await page.text()
    assert await page.drawn("section.photos.before img") == [320]
    assert await page.drawn("section.photos.after img") == [320]
    await page.screenshot("public-request")

    # The doctor's request: the page a missing one gets, and in no list.
    await page.open(f"{town.server.url}/requests/{doctor}?lang=es")
    assert "No encontrada" in await page.text() and "rodilla" not in await page.source()
    await page.open(f"{town.server.url}/requests/JUN-9999?lang=es")
    assert "No encontrada" in await page.text()


async def test_staff_sign_in_with_the_link_from_their_group_and_resolve_with_a_photo(
    town: Town, browser: Any, tmp_path: Path
):
    await town.emulator.resident_sends_photo(
        "La farola de la plaza parpadea toda la noche", image=NIGHT
    )
    await town.settle()
    [lamp] = await town.bridge.requests.all(department="lighting")
    doctor = await town.doctor()
    page = Page(browser)
    await page.run(browser.delete_all_cookies)
    # Not signed in: the console sends to its sign-in page.
    await page.open(f"{town.server.url}/staff?lang=es")
    assert "Enviarme un enlace" in await page.text()
    # The link, as the electrician reads it in the lighting group on Telegram.
    link = await town.login_in_chat()
    assert town.links(LIGHTING_GROUP) == [link] and town.links(DOCTOR_GROUP) == []
    await page.open(link)
    await page.click("#use-link button")
    assert "Consola del personal" in await page.text()
    # No address yet, so nobody has it: the "unassigned" tab; every open one under "open".
    await page.click('a[href^="/staff?tab=open"]')
    assert lamp.reference in await page.text()
    assert doctor not in await page.source()
    await page.screenshot("staff-console")

    await page.click(f'a[href^="/staff/requests/{lamp.reference}"]')
    assert await page.drawn("section.photos img") == [320]
    photo = tmp_path / "arreglo.png"
    photo.write_bytes(FIXED)
    await page.type("#action-resolve textarea[name=note]", "cambiado el cebador")
    await page.type("#action-resolve input[name=photo]", str(photo))
    before = len(town.sent_to(RESIDENT))
    await page.click("#action-resolve button")
    shown = await page.text()
    assert "Hecho: Resuelto." in shown and "cambiado el cebador" in shown
    assert await page.drawn("section.photos img") == [320, 320]
    await page.screenshot("staff-request")

    await town.settle()
    told = town.sent_to(RESIDENT)[before:]
    assert any("cambiado el cebador" in str(p.get("caption") or p.get("text")) for p in told)
    assert any("photo" in p for p in told)
    resolved = await town.bridge.requests.get(lamp.reference)
    assert resolved is not None and resolved.history[-1].by == "electricista"
