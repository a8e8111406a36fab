"""Headless Chromium (Debian's, launched by path) driving the broker, stub hub and council app.

Every page a test reaches goes through `Resident.inspect`: axe-core must report no violation, the
page must have a title, one heading, the expected language and no console or asset error, and a
screenshot is saved under test-artifacts/screenshots/ for people to look at. A branded page (the
broker's, the council app's) must also show its brand's name and logo and carry nothing of
GOV.UK's identity: no crown or Royal Arms, no GDS Transport font loaded. Only the stub hub, which
stands in for a GOV.UK service, keeps GOV.UK's look.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import Stack, start_stack, stop_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
AXE = Axe()
# The standards the public sector must meet (WCAG 2.2 AA), plus axe's best practices.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    "resultTypes": ["violations"]}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"the browser tests need {CHROMIUM}: run `make test` (scripts/ensure-chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, keys_dir, redis_url) -> Iterator[Stack]:
    """One running stack per test module: each test opens its own browser context (no shared
    cookies) and every sign-in is its own flow, so tests stay independent while the suite
    avoids starting three servers per test."""
    stack, servers = start_stack(tmp_path_factory.mktemp("browser"), keys_dir, redis_url,
                                 redis.Redis.from_url(redis_url), prefix_label="test-browser")
    yield stack
    stop_stack(stack, servers)


@dataclass
class Resident:
    """One browser window, and what went wrong in it."""

    page: Page
    javascript: bool = True
    browser: Browser | None = None
    problems: list[str] = field(default_factory=list)

    def watch(self) -> Resident:
        # A page's own status (404, 400…) is logged as "Failed to load resource": not a problem.
        self.page.on("console", lambda m: m.type == "error" and not m.text.startswith(
            "Failed to load resource") and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and "/assets/" in r.url and
                     self.problems.append(f"asset {r.url} answered {r.status}"))
        return self

    def inspect(self, name: str, language: str) -> None:
        """The checks every page must pass; saves its screenshot as <language>-<name>.png."""
        self.page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{language}-{name}.png"), full_page=True)
        if self.javascript:
            # The components' script (a bundle of a few, broker/web/scripts) started every
            # component on the page that has one.
            unstarted = self.page.evaluate(
                "() => document.querySelector('script[src*=\"/assets/govuk-components-\"]') ?"
                " Array.from(document.querySelectorAll('[data-module]')).filter(e =>"
                " !e.hasAttribute(`data-${e.dataset.module}-init`)).map(e => e.dataset.module)"
                " : []")
            assert not unstarted, f"{name}: components not started: {unstarted}"
            self._check(self.page, name, language)
            return
        # axe needs JavaScript: check the same HTML in a window that has it, with the page's
        # scripts blocked so that an auto-submitting form stays where it is.
        context = self.browser.new_context(locale="en-GB")
        try:
            copy = context.new_page()
            html = self.page.content()
            copy.route(self.page.url, lambda route: route.fulfill(
                body=html, headers={"Content-Type": "text/html; charset=utf-8",
                                    "Content-Security-Policy": "script-src 'none'"}))
            copy.goto(self.page.url)
            self._check(copy, name, language)
        finally:
            context.close()

    def _check(self, page: Page, name: str, language: str) -> None:
        assert page.locator("html").get_attribute("lang") == language, name
        assert page.title().strip(), f"{name} has no title"
        assert page.locator("h1").count() == 1, f"{name} should have exactly one heading"
        # A question page's h1 wraps its field's label (the Design System pattern): the label
        # carries the heading's style then.
        heading_font = page.evaluate(
            "(() => { const h = document.querySelector('h1');"
            " return getComputedStyle(h.querySelector('.govuk-label') || h).fontFamily; })()")
        frontend = page.evaluate("getComputedStyle(document.documentElement)"
                                 ".getPropertyValue('--govuk-frontend-version')")
        assert frontend.strip(), f"{name} is not styled by GOV.UK Frontend"
        if page.locator("#brand").count():
            check_brand(page, name, heading_font)
        else:
            assert "GDS Transport" in heading_font, f"{name}: the stub hub keeps GOV.UK's look"
        results = AXE.run(page, options=AXE_OPTIONS)
        assert results.violations_count == 0, f"{name} ({language}):\n{results.generate_report()}"
        assert not self.problems, f"{name} ({language}): {self.problems}"

    def heading(self) -> str:
        return self.page.locator("h1").inner_text().strip()

    def switch_language(self) -> None:
        self.page.locator("#language-switch").click()
        self.page.wait_for_load_state("load")


# What marks a page as GOV.UK's: the crown (header, footer), the Royal Arms (footer copyright,
# drawn from govuk-crest.svg), the GOV.UK header, the GDS Transport font files.
GOVUK_IDENTITY = ("svg.govuk-logo, .govuk-header, .govuk-footer__crown, "
                  ".govuk-footer__copyright-logo, .govuk-footer__licence-logo")


def check_brand(page: Page, name: str, heading_font: str) -> None:
    """A council's or the neutral brand, and nothing of GOV.UK's identity."""
    assert page.locator(GOVUK_IDENTITY).count() == 0, f"{name} carries GOV.UK's crown or arms"
    assert "GDS Transport" not in heading_font, f"{name} uses GDS Transport: {heading_font}"
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    govuk_files = [url for url in loaded if "/assets/fonts/" in url or "govuk-crest" in url
                   or "/assets/images/" in url]
    assert not govuk_files, f"{name} loaded GOV.UK's files: {govuk_files}"
    faces = page.evaluate("Array.from(document.fonts).map(f => f.family)")
    assert not [f for f in faces if "GDS Transport" in f], f"{name} declares GDS Transport"
    brand_name = page.locator("#brand-name")
    logo = page.locator("#brand-logo")
    assert brand_name.count() or logo.count(), f"{name} shows no brand"
    if brand_name.count():
        assert brand_name.inner_text().strip(), f"{name}: empty brand name"
    if logo.count():
        assert page.evaluate("(() => { const i = document.getElementById('brand-logo');"
                             " return i.complete && i.naturalWidth > 0; })()"), f"{name}: logo not loaded"


@pytest.fixture
def resident(browser) -> Iterator:
    """Opens a window: `resident(javascript=False)` for a browser without JavaScript."""
    contexts = []

    def open_window(javascript: bool = True, locale: str = "en-GB") -> Resident:
        context = browser.new_context(java_script_enabled=javascript, locale=locale,
                                      viewport={"width": 1024, "height": 768})
        contexts.append(context)
        context.set_default_timeout(10_000)
        return Resident(context.new_page(), javascript, browser).watch()

    yield open_window
    for context in contexts:
        context.close()


def start_sign_in(resident: Resident, stack, language: str = "en") -> None:
    """From the council's home page in `language` to the stub hub (or the hand-off without JS)."""
    resident.page.goto(f"{stack.council_url}/?lang={language}")
    resident.page.get_by_role("button", name=re.compile("Sign in|Mewngofnodi")).click()
    resident.page.wait_for_load_state("load")


def choose_at_hub(resident: Resident, choice: str) -> None:
    resident.page.locator(f"#choice-{choice}").check()
    resident.page.get_by_role("button", name=re.compile("Continue|Parhau")).click()
    resident.page.wait_for_load_state("load")
