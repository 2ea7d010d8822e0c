"""Debian's Chromium driven by Playwright, as the browser tests use it (Playwright's own browser download fails here)."""

from __future__ import annotations

from contextlib import contextmanager

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying hosts it cannot reach.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@contextmanager
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def watched_page(browser, **context_options):
    """A fresh page that records page errors, dialogs (dismissed) and every request it makes."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 860}, **context_options})
    page = context.new_page()
    page.errors, page.dialogs, page.requested = [], [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: page.requested.append(r.url))
    try:
        yield page
    finally:
        context.close()


def ask_in_panel(page, url: str, question: str):
    """Open the demo page's panel, ask, and wait for the finished answer; returns its locator."""
    page.goto(url)
    page.get_by_test_id("nectarine-launcher").click()
    box = page.get_by_test_id("nectarine-input")
    box.fill(question)
    box.press("Enter")
    answer = page.get_by_test_id("nectarine-answer").first
    expect(answer).to_have_attribute("data-state", "done", timeout=30_000)
    return answer
