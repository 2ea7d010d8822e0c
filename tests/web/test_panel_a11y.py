"""An automated accessibility audit of the demo page with the panel open: axe-core (vendored from npm in
tests/web/assets/, run inside Debian's Chromium), light and dark, desktop and phone, against the real service.

The panel renders in an open shadow root, which axe walks into; each audit also checks that axe really
looked at the panel's own elements (a rule that passes on them), so a panel it could not see would fail
the test rather than pass it.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from support.browser import watched_page
from support.live import served_corpus
from support.paths import KB

AXE = Path(__file__).parent / "assets" / "axe.min.js"  # axe-core 4.14.1 (MPL-2.0, see axe-core.LICENSE)
VIEWPORTS = {"desktop": {"viewport": {"width": 1280, "height": 860}},
             "phone": {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}}
AUDIT = """async () => {
  const r = await axe.run(document);
  const inPanel = (n) => n.target.some((t) => Array.isArray(t) && t[0] === '#nectarine-root');
  return {
    violations: r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ rule: v.id, impact: v.impact, nodes: v.nodes.map((n) => [n.target, n.failureSummary]) })),
    panel: Object.fromEntries(r.passes.map((p) => [p.id, p.nodes.filter(inPanel).length]).filter(([, n]) => n)),
  };
}"""


@pytest.fixture(scope="module")
def site(embedder, tmp_path_factory):
    with served_corpus([KB], tmp_path_factory.mktemp("panel-a11y"), embedder) as (url, _nec):
        yield url


def audit(page) -> dict:
    page.add_script_tag(path=AXE)  # the page's CSP allows no inline script: the context bypasses it for the audit
    return page.evaluate(AUDIT)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_no_serious_accessibility_violations(site, browser, scheme, device):
    with watched_page(browser, color_scheme=scheme, bypass_csp=True, **VIEWPORTS[device]) as page:
        page.goto(site)
        closed = audit(page)  # the page itself, with the launcher
        assert closed["violations"] == [], closed["violations"]
        assert closed["panel"].get("button-name", 0) == 1, closed["panel"]  # the launcher, and nothing hidden
        page.get_by_test_id("nectarine-launcher").click()
        empty = audit(page)  # the empty panel: welcome and example questions
        assert empty["violations"] == [], empty["violations"]
        assert empty["panel"].get("button-name", 0) >= 5, empty["panel"]  # header buttons, examples, send
        box = page.get_by_test_id("nectarine-input")
        box.fill("How do I configure SAML single sign-on?")
        box.press("Enter")
        answer = page.get_by_test_id("nectarine-answer")
        expect(answer).to_have_attribute("data-state", "done", timeout=30_000)
        chat = audit(page)  # an answer with citations, confidence, copy and thumbs
        assert chat["violations"] == [], chat["violations"]
        assert chat["panel"].get("color-contrast", 0) >= 10 and chat["panel"].get("button-name", 0) >= 8, chat["panel"]
        answer.get_by_test_id("nectarine-citation").first.click()
        expect(page.get_by_test_id("nectarine-source").locator(".src-text")).to_have_attribute("aria-busy", "false")
        source = audit(page)
        assert source["violations"] == [], source["violations"]
        page.get_by_test_id("nectarine-source-back").click()
        page.locator("header").get_by_test_id("nectarine-contact").click()
        expect(page.get_by_test_id("ticket-submit")).to_be_visible(timeout=15_000)
        form = audit(page)  # the ticket form: every field labelled, readable in both themes
        assert form["violations"] == [], form["violations"]
        assert form["panel"].get("label", 0) >= 5, form["panel"]
        assert not page.errors, page.errors
