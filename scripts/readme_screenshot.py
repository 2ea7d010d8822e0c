"""Refresh the README's screenshots: the panel answering on the demo page, light (docs/panel.png), dark
(docs/panel-dark.png) and on a phone (docs/panel-phone.png).

Start the main job first (bash scripts/run.sh), then:
    .venv/bin/python scripts/readme_screenshot.py [--url http://127.0.0.1:8000] [--question "..."]
Uses Debian's Chromium through Playwright, like the browser tests (whose screenshots of every panel
state land in test-artifacts/).
"""

import argparse
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
DOCS = Path(__file__).resolve().parent.parent / "docs"
VIEWS = {  # file: (colour scheme, browser context options)
    "panel.png": ("light", {"viewport": {"width": 1280, "height": 860}}),
    "panel-dark.png": ("dark", {"viewport": {"width": 1280, "height": 860}}),
    "panel-phone.png": ("light", {"viewport": {"width": 390, "height": 780}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}),
}

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--url", default="http://127.0.0.1:8000")
ap.add_argument("--question", default="How do I set up SAML single sign-on?")
args = ap.parse_args()
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
    for name, (scheme, options) in VIEWS.items():
        context = browser.new_context(color_scheme=scheme, **options)
        page = context.new_page()
        page.goto(args.url)
        page.get_by_test_id("nectarine-launcher").click()
        box = page.get_by_test_id("nectarine-input")
        box.fill(args.question)
        box.press("Enter")
        expect(page.get_by_test_id("nectarine-answer").last).to_have_attribute("data-state", "done", timeout=30_000)
        page.screenshot(path=DOCS / name)
        context.close()
        print(f"wrote {DOCS / name}")
    browser.close()
