"""The chat panel in a real browser: Debian's Chromium, driven by Playwright, against the real service.

Screenshots of the panel's main states land in test-artifacts/ (the README shows one of them).
"""

import re
import shutil

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from support.paths import FIXTURES, KB, REPO
from support.live import serve
from nectarine import Nectarine, ingest
from nectarine.store import TicketRow, TicketStore, TurnRow
from nectarine.api import Settings, create_app

ARTIFACTS = REPO / "test-artifacts"
# Records every data-state the panel's answers pass through, and the answer text seen while streaming:
# proof that text arrived in pieces, from inside the page.
RECORDER = """
window.__states = []; window.__streamed = [];
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  const root = attach.call(this, init);
  new MutationObserver(() => {
    const a = root.querySelectorAll('[data-testid="nectarine-answer"]');
    const last = a[a.length - 1];
    if (!last) return;
    const state = last.getAttribute('data-state');
    if (window.__states[window.__states.length - 1] !== state) window.__states.push(state);
    if (state === 'streaming') window.__streamed.push(last.textContent.length);
  }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
  return root;
};
"""


@pytest.fixture(scope="module")
def site(embedder, tmp_path_factory):
    """The fixture knowledge base plus a document full of markup attacks, served with the demo page."""
    tmp = tmp_path_factory.mktemp("browser")
    corpus = tmp / "kb"
    shutil.copytree(KB, corpus)
    shutil.copy(FIXTURES / "xss" / "hostile-markup.md", corpus / "docs")
    ingest([corpus], tmp / "index", embedder=embedder)
    nec = Nectarine.load(tmp / "index", embedder=embedder)
    store = TicketStore(f"sqlite:///{tmp / 'db.sqlite'}")
    nec.attach_store(store)
    with serve(create_app(Settings(rate_limit="1000/minute"), nectarine=nec)) as url:
        yield url, store


@pytest.fixture
def page(browser):  # browser: tests/web/conftest.py
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.add_init_script(RECORDER)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    context.close()


def panel(page):
    return page.locator("[data-testid=nectarine-panel]")


def ask(page, question: str, n: int, timeout: float = 30_000):
    """Type a question, send it with Enter, and wait for the n-th answer to finish."""
    box = page.get_by_test_id("nectarine-input")
    box.fill(question)
    box.press("Enter")
    answer = page.get_by_test_id("nectarine-answer").nth(n - 1)
    expect(answer).to_have_attribute("data-state", "done", timeout=timeout)
    return answer


def open_panel(page, url):
    page.goto(url)
    page.get_by_test_id("nectarine-launcher").click()
    expect(panel(page)).to_be_visible()
    expect(page.get_by_test_id("nectarine-input")).to_be_focused()


def test_streamed_answer_with_clickable_citations_and_a_follow_up(site, page):
    url, _ = site
    open_panel(page, url)
    page.screenshot(path=ARTIFACTS / "panel-open.png")
    first = ask(page, "How do I configure SAML single sign-on?", 1)
    states = page.evaluate("window.__states")
    assert states[:1] == ["streaming"] and states[-1] == "done"
    expect(first).to_contain_text("Admin Console")
    expect(first.get_by_test_id("nectarine-confidence")).to_be_visible()
    chips = first.get_by_test_id("nectarine-citation")
    assert chips.count() >= 1
    page.screenshot(path=ARTIFACTS / "panel-answer.png")
    chips.first.click()
    source = page.get_by_test_id("nectarine-source")
    expect(source).to_be_visible()
    expect(source).to_contain_text("Single sign-on")
    page.screenshot(path=ARTIFACTS / "panel-source.png")
    page.get_by_test_id("nectarine-source-back").click()

    follow = ask(page, "and how do I rotate its certificate?", 2)
    expect(follow).to_contain_text("certificate")
    expect(follow.get_by_test_id("nectarine-citation").first).to_be_visible()
    # The conversation survives a navigation to another page of the app.
    page.goto(url + "?view=customers")
    expect(page.get_by_test_id("nectarine-answer")).to_have_count(2)
    assert not page.errors, page.errors


def test_a_language_model_answer_streams_into_the_panel(embedder, kb_index, browser, tmp_path):
    """SmolLM2 in-process (llama.cpp) writes at tens of tokens a second: the panel shows the text growing."""
    nec = Nectarine.load(kb_index, embedder=embedder, answerer="llamacpp", answerer_options={"max_tokens": 80})
    nec.attach_store(TicketStore(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    with serve(create_app(Settings(rate_limit="1000/minute"), nectarine=nec)) as url:
        context = browser.new_context()
        page = context.new_page()
        page.add_init_script(RECORDER)
        open_panel(page, url)
        ask(page, "How do I configure SAML single sign-on?", 1, timeout=120_000)
        streamed = page.evaluate("window.__streamed")
        assert len(set(streamed)) >= 3 and streamed[-1] > streamed[0], "the answer text should grow in pieces"
        page.screenshot(path=ARTIFACTS / "panel-llm.png")
        context.close()


def test_feedback_is_stored_with_the_conversation(site, page):
    url, store = site
    open_panel(page, url)
    answer = ask(page, "What does 429 RATE_LIMITED mean?", 1)
    down = answer.get_by_test_id("nectarine-thumb-down")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("nectarine-feedback-comment").fill("It did not say how long to wait")
    page.get_by_test_id("nectarine-feedback-send").click()
    expect(page.get_by_test_id("nectarine-more-help")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "panel-feedback.png")
    with Session(store.engine) as s:
        turn = s.scalars(select(TurnRow).where(TurnRow.question == "What does 429 RATE_LIMITED mean?")).all()[-1]
    assert turn.feedback == -1 and turn.feedback_comment == "It did not say how long to wait"


def test_contact_support_submits_a_ticket_with_the_captured_environment(site, page):
    url, store = site
    page.goto(url)
    page.get_by_test_id("simulate-error").click()  # an uncaught error on the host page, for the ticket
    page.get_by_test_id("nectarine-launcher").click()
    ask(page, "Nobody in our company can sign in since 9:00, everyone gets AUTH-1003", 1)
    page.get_by_test_id("nectarine-contact").first.click()
    form = page.get_by_test_id("nectarine-ticket-form")
    expect(form).to_be_visible()
    expect(page.get_by_test_id("ticket-title")).not_to_have_value("")
    expect(page.get_by_test_id("ticket-priority")).to_have_value("Highest")
    expect(page.get_by_test_id("ticket-console-errors")).to_contain_text("OrderGrid.render")
    page.get_by_test_id("ticket-log").fill("2026-11-26 09:01:02 INFO start\n2026-11-26 09:01:03 ERROR AUTH-1003 SAML assertion rejected "
                                           "password=hunter2\n")
    page.get_by_test_id("ticket-log").blur()
    expect(page.get_by_test_id("ticket-redactions")).to_contain_text("password", timeout=15_000)
    page.get_by_test_id("ticket-version").fill("4.3.1")
    page.get_by_test_id("ticket-title").fill("Company-wide sign-in failure (AUTH-1003)")
    # The half-written ticket survives a navigation to another page: edits, logs, redactions, form open.
    page.goto(url + "?view=customers")
    expect(page.get_by_test_id("nectarine-ticket-form")).to_be_visible()
    expect(page.get_by_test_id("ticket-version")).to_have_value("4.3.1")
    expect(page.get_by_test_id("ticket-title")).to_have_value("Company-wide sign-in failure (AUTH-1003)")
    expect(page.get_by_test_id("ticket-log")).to_have_value(re.compile("AUTH-1003 SAML assertion rejected"))
    expect(page.get_by_test_id("ticket-redactions")).to_contain_text("password")
    page.screenshot(path=ARTIFACTS / "panel-ticket.png", full_page=True)
    page.get_by_test_id("ticket-submit").dblclick()  # a double click still makes one ticket
    done = page.get_by_test_id("nectarine-ticket-done")
    expect(done).to_be_visible(timeout=15_000)
    page.screenshot(path=ARTIFACTS / "panel-ticket-done.png")
    ticket_id = done.get_attribute("data-ticket-id")
    with Session(store.engine) as s:
        rows = s.scalars(select(TicketRow)).all()
    assert [r.id for r in rows].count(ticket_id) == 1 and len({r.idempotency_key for r in rows}) == len(rows)
    draft = store.get(ticket_id).draft
    assert "Chrom" in draft["environment"]["browser"] and draft["environment"]["time_zone"]
    assert draft["environment"]["screen"] and draft["environment"]["page_url"].startswith(url)
    assert any("OrderGrid.render" in e for e in draft["error_messages"])
    assert draft["nectain_version"] == "4.3.1" and draft["priority"] == "Highest"
    assert draft["title"] == "Company-wide sign-in failure (AUTH-1003)"
    assert "hunter2" not in str(draft) and draft["logs"]


def test_markup_in_documents_and_questions_stays_inert(site, page):
    url, _ = site
    open_panel(page, url)
    answer = ask(page, 'zebra export formats <img src=x onerror="window.__xss=1"> <script>window.__xss=1</script>', 1)
    expect(answer).to_contain_text("zebra export")
    # The document's markup is shown as the characters it is, neither run nor shown as entities.
    expect(answer).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(answer).not_to_contain_text("&lt;")
    for chip in answer.get_by_test_id("nectarine-citation").all()[:2]:
        chip.click()
        expect(page.get_by_test_id("nectarine-source")).to_be_visible()
        for link in page.get_by_test_id("nectarine-source").locator("a").all():
            assert link.get_attribute("href").startswith(("http://", "https://"))
            link.click(modifiers=["Control"])  # opens a background tab at most; never runs script here
        page.get_by_test_id("nectarine-source-back").click()
    question = page.locator("[data-testid=nectarine-panel] >> text=<script>window.__xss=1</script>")
    expect(question.first).to_be_visible()  # shown as the text the user typed
    page.screenshot(path=ARTIFACTS / "panel-xss.png")
    assert page.evaluate("window.__xss") is None


def test_host_page_css_does_not_reach_the_panel(site, page):
    """/demo/isolation is the demo page under deliberately hostile CSS (red serif text, lime dashed buttons,
    [role=dialog] hidden, [hidden] shown): the panel must look exactly as on a page with no CSS at all."""
    url, _ = site
    styles = """() => {
      const root = document.querySelector('[data-nectarine-host]') ? document.querySelector('[data-nectarine-host]').shadowRoot
                 : [...document.querySelectorAll('*')].find(e => e.shadowRoot).shadowRoot;
      const pick = (id) => { const s = getComputedStyle(root.querySelector(`[data-testid=${id}]`));
        return [s.fontFamily, s.color, s.backgroundColor, s.fontSize, s.textTransform, s.borderTopStyle, s.display].join('|'); };
      return {launcher: pick('nectarine-launcher'), input: pick('nectarine-input'), panel: pick('nectarine-panel')};
    }"""
    open_panel(page, url + "/demo/isolation")
    assert page.evaluate("getComputedStyle(document.querySelector('button')).backgroundColor") == "rgb(0, 255, 0)"  # it is hostile
    hostile = page.evaluate(styles)
    plain = page.context.new_page()
    # A host page of the test's own with no CSS at all, on the service's origin.
    plain.route(url + "/plain", lambda route: route.fulfill(content_type="text/html", body=(
        '<!doctype html><title>plain</title><script src="/widget.js" data-site-key="demo-public-key" defer></script>')))
    plain.goto(url + "/plain")
    plain.get_by_test_id("nectarine-launcher").click()
    expect(plain.get_by_test_id("nectarine-panel")).to_be_visible()
    assert hostile == plain.evaluate(styles)
    assert "serif" not in hostile["input"].split("|")[0].replace("sans-serif", "")
    plain.close()


def test_phone_width(site, browser):
    url, _ = site
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    open_panel(page, url)
    box = page.get_by_test_id("nectarine-panel").bounding_box()
    assert box["width"] >= 370 and box["x"] <= 3
    ask(page, "Can I sign in with SSO on the mobile app?", 1)
    page.screenshot(path=ARTIFACTS / "panel-phone.png")
    context.close()


@pytest.mark.parametrize("path", ["/", "/demo/isolation"])
def test_keyboard_only(site, page, path):
    url, _ = site
    page.goto(url + path)
    page.get_by_test_id("nectarine-launcher").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("nectarine-input")).to_be_focused()
    expect(page.get_by_role("dialog", name="Nectarine assistant")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("nectarine-launcher")).to_be_focused()
    expect(panel(page)).to_be_hidden()


def test_rate_limit_message_is_shown(embedder, kb_index, browser, tmp_path):
    nec = Nectarine.load(kb_index, embedder=embedder)
    nec.attach_store(TicketStore(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    with serve(create_app(Settings(rate_limit="1/minute"), nectarine=nec)) as url:
        context = browser.new_context()
        page = context.new_page()
        open_panel(page, url)
        ask(page, "How do I configure SAML?", 1)
        box = page.get_by_test_id("nectarine-input")
        box.fill("and on mobile?")
        box.press("Enter")
        alert = page.get_by_test_id("nectarine-alert")
        expect(alert).to_contain_text("too quickly")
        expect(alert).to_have_attribute("role", "alert")
        page.screenshot(path=ARTIFACTS / "panel-rate-limited.png")
        context.close()
