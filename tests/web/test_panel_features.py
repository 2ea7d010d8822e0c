"""What users of other docs assistants expect from the panel, in Debian's Chromium against the real service:
dark mode, the keyboard shortcut, copy buttons, example questions, deep links, the interface in the
user's language, and the cited page's date.

Pages of the tests' own (each a different script tag) are served on the service's origin with
``page.route``, like a customer's page that embeds the panel.
"""

import datetime as dt
import json
import re

import httpx
import pytest
from playwright.sync_api import expect

from support.browser import watched_page
from support.live import served_corpus
from support.paths import KB, REPO
from nectarine.api.routes import panel as panel_routes

TOKEN = "admin-t0ken-for-tests"
QUESTION = "How do I configure SAML single sign-on?"
ROOT = "document.querySelector('#nectarine-root').shadowRoot"


@pytest.fixture(scope="module")
def site(embedder, tmp_path_factory):
    with served_corpus([KB], tmp_path_factory.mktemp("panel-features"), embedder, admin_token=TOKEN) as (url, nec):
        yield url, nec


def host_page(page, url: str, attrs: str = "", body: str = "", path: str = "/t/page") -> str:
    """A page of the test's own on the service's origin, embedding the panel with ``attrs`` on its script tag."""
    html = (f'<!doctype html><html lang="en"><title>host</title><main><h1>Host page</h1>{body}</main>'
            f'<script src="/widget.js" data-site-key="demo-public-key" {attrs} defer></script></html>')
    page.route(url + path, lambda route: route.fulfill(content_type="text/html", body=html))
    return url + path


def ask(page, question: str, n: int = 1):
    box = page.get_by_test_id("nectarine-input")
    box.fill(question)
    box.press("Enter")
    answer = page.get_by_test_id("nectarine-answer").nth(n - 1)
    expect(answer).to_have_attribute("data-state", "done", timeout=30_000)
    return answer


def streamed(page, text: str, citations: list, sources: dict | None = None) -> None:
    """Answers every question with ``text`` as the service would stream it (and ``sources`` for the source view)."""
    done = {"answer": {"text": text, "citations": citations, "confidence": 0.9, "handoff_recommended": False, "notes": []},
            "turn_id": None, "session_id": "s-features"}
    stream = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in (
        ("start", {"session_id": "s-features"}), ("delta", {"text": text[:30]}), ("delta", {"text": text[30:]}), ("done", done)))
    page.route("**/v1/chat", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=stream))
    for chunk_id, body in (sources or {}).items():
        page.route(f"**/v1/sources/{chunk_id}", (lambda b: lambda route: route.fulfill(status=200, json=b))(body))


# WCAG's contrast ratio of an element's text against the first opaque background behind it.
CONTRAST = """(el) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  let bg = null;
  for (let n = el; n && !bg; n = n.parentElement || (n.getRootNode() && n.getRootNode().host)) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) bg = c.slice(0, 3);
  }
  const [a, b] = [lum(rgb(getComputedStyle(el).color).slice(0, 3)), lum(bg || [255, 255, 255])];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_dark_mode_follows_the_system_with_readable_colours(site, browser, scheme):
    url, _ = site
    with watched_page(browser, color_scheme=scheme) as page:
        page.goto(url)
        page.get_by_test_id("nectarine-launcher").click()
        answer = ask(page, QUESTION)
        root_class = page.evaluate(f"{ROOT}.querySelector('.root').className")
        assert ("dark" in root_class.split()) == (scheme == "dark")
        background = page.get_by_test_id("nectarine-panel").evaluate("(e) => getComputedStyle(e).backgroundColor")
        assert background == ("rgb(28, 33, 40)" if scheme == "dark" else "rgb(255, 255, 255)")
        # Every kind of text the panel shows, against what is behind it: WCAG AA (4.5:1).
        for target in (page.get_by_test_id("nectarine-launcher"), page.locator("[data-testid=nectarine-panel] header h2"),
                       answer.locator(".body li").first, answer.get_by_test_id("nectarine-citation").first,
                       answer.get_by_test_id("nectarine-confidence"), answer.get_by_test_id("nectarine-copy-answer"),
                       page.locator("[data-testid=nectarine-panel] .user").first, page.get_by_test_id("nectarine-send")):
            ratio = target.evaluate(CONTRAST)
            assert ratio >= 4.5, (scheme, target, ratio)
        assert not page.errors, page.errors


def test_the_theme_can_be_set_by_the_page(site, browser):
    url, _ = site
    with watched_page(browser, color_scheme="dark") as page:
        page.goto(host_page(page, url, 'data-theme="light"'))
        page.get_by_test_id("nectarine-launcher").click()
        is_dark = f"{ROOT}.querySelector('.root').classList.contains('dark')"
        assert page.evaluate(is_dark) is False  # data-theme wins over the system's dark
        page.evaluate("Nectarine.setTheme('dark')")
        assert page.evaluate(is_dark) is True
        page.evaluate("Nectarine.setTheme('auto')")
        assert page.evaluate(is_dark) is True  # back to the system's
        page.emulate_media(color_scheme="light")
        page.wait_for_function(f"!{is_dark}", timeout=5_000)  # followed live (the change event comes a moment later)
        error = page.evaluate("(() => { try { Nectarine.setTheme('blue'); } catch (e) { return e.message; } })()")
        assert "light, dark, auto" in error


def test_the_keyboard_shortcut_opens_the_panel_unless_the_page_has_its_own(site, browser):
    url, _ = site
    with watched_page(browser) as page:
        page.goto(url)
        panel = page.get_by_test_id("nectarine-panel")
        page.locator("h1").click()  # the focus somewhere on the page
        page.keyboard.press("Control+k")
        expect(panel).to_be_visible()
        expect(page.get_by_test_id("nectarine-input")).to_be_focused()
        expect(page.get_by_test_id("nectarine-launcher")).to_have_attribute("aria-keyshortcuts", "Control+K")
        page.keyboard.press("Control+k")  # again, from inside the panel: closes it
        expect(panel).to_be_hidden()
        expect(page.get_by_test_id("nectarine-launcher")).to_be_focused()

        # A page that uses Ctrl+K itself (its own search) keeps it.
        own = ("<script>document.addEventListener('keydown', (e) => { if (e.ctrlKey && e.key === 'k') "
               "{ e.preventDefault(); window.pageShortcut = (window.pageShortcut || 0) + 1; } });</script>")
        page.goto(host_page(page, url, body=own))
        page.get_by_test_id("nectarine-launcher").wait_for()
        page.keyboard.press("Control+k")
        assert page.evaluate("window.pageShortcut") == 1
        expect(panel).to_be_hidden()

        # Off, or another combination.
        page.goto(host_page(page, url, 'data-shortcut="off"', path="/t/off"))
        page.get_by_test_id("nectarine-launcher").wait_for()
        page.keyboard.press("Control+k")
        expect(panel).to_be_hidden()
        page.goto(host_page(page, url, 'data-shortcut="alt+shift+n"', path="/t/other"))
        page.get_by_test_id("nectarine-launcher").wait_for()
        page.keyboard.press("Control+k")
        expect(panel).to_be_hidden()
        page.keyboard.press("Alt+Shift+N")
        expect(panel).to_be_visible()
        assert not page.errors, page.errors


def test_copy_buttons_put_code_and_the_whole_answer_on_the_clipboard(site, browser):
    url, _ = site
    text = "Rotate the key [1]:\n\n```bash\nnectain keys rotate --all\necho done\n```\n\nThen sign in again."
    citation = {"number": 1, "chunk_id": "c-1", "title": "Single sign-on", "heading_path": ["Single sign-on", "Rotate keys"],
                "url": "https://docs.nectain.com/sso#rotate", "source": "docs", "versions": "all", "quote": "q"}
    with watched_page(browser, permissions=["clipboard-read", "clipboard-write"]) as page:
        streamed(page, text, [citation])
        page.goto(url)
        page.get_by_test_id("nectarine-launcher").click()
        answer = ask(page, "how do I rotate keys?")
        code_copy = answer.get_by_test_id("nectarine-copy-code")
        code_copy.click()
        expect(code_copy).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == "nectain keys rotate --all\necho done"
        expect(code_copy).to_have_text("Copy", timeout=5_000)
        answer.get_by_test_id("nectarine-copy-answer").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("Rotate the key [1]:") and "nectain keys rotate --all" in copied
        assert copied.rstrip().endswith("Sources:\n[1] Single sign-on › Rotate keys — https://docs.nectain.com/sso#rotate")
        assert not page.errors, page.errors


def test_example_questions_from_the_page_from_usage_and_from_the_admin(site, browser, monkeypatch):
    url, nec = site
    monkeypatch.setattr(panel_routes, "POPULAR_SECONDS", 0.0)  # the service reuses them for a minute; here, read at once
    with watched_page(browser) as page:
        # The demo page names its own (data-examples): one click asks.
        page.goto(url)
        page.get_by_test_id("nectarine-launcher").click()
        examples = page.get_by_test_id("nectarine-example")
        expect(examples).to_have_count(3)
        examples.filter(has_text="SAML").click()
        expect(page.locator("[data-testid=nectarine-panel] .user")).to_have_text("You: " + QUESTION)
        expect(page.get_by_test_id("nectarine-answer")).to_have_attribute("data-state", "done", timeout=30_000)

    # Without data-examples: the questions most asked (by several sessions) and answered well.
    good = nec.ask(QUESTION)
    assert good.confidence >= 0.75 and not good.handoff_recommended
    for session in ("s-a", "s-b", "s-c"):
        nec.conversations.record_turn(QUESTION, good, session_id=session)
    nec.conversations.record_turn("What is the invoice total for Hoffmann Bau?", good, session_id="s-a")  # one session
    with watched_page(browser) as page:
        page.goto(host_page(page, url))
        page.get_by_test_id("nectarine-launcher").click()
        expect(page.get_by_test_id("nectarine-example")).to_have_text([QUESTION])

    # The admin's list wins over usage; an empty list goes back to usage. The route needs the token.
    chosen = {"examples": ["How do I export orders?", "What does AUTH-1003 mean?"]}
    assert httpx.put(f"{url}/v1/admin/examples", json=chosen).status_code == 401
    put = httpx.put(f"{url}/v1/admin/examples", json=chosen, headers={"Authorization": f"Bearer {TOKEN}"})
    assert put.status_code == 200 and put.json()["source"] == "admin"
    with watched_page(browser) as page:
        page.goto(host_page(page, url))
        page.get_by_test_id("nectarine-launcher").click()
        expect(page.get_by_test_id("nectarine-example")).to_have_text(chosen["examples"])
    httpx.put(f"{url}/v1/admin/examples", json={"examples": []}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert httpx.get(f"{url}/v1/examples", headers={"X-Site-Key": "demo-public-key"}).json() == {"examples": [QUESTION], "source": "popular"}


def test_a_deep_link_opens_the_panel_and_asks_once(site, browser):
    url, _ = site
    with watched_page(browser) as page:
        page.goto(url + "/?view=reports#nectarine=" + "How%20do%20I%20configure%20SAML%20single%20sign-on%3F")
        expect(page.get_by_test_id("nectarine-panel")).to_be_visible()
        expect(page.locator("[data-testid=nectarine-panel] .user")).to_have_text("You: " + QUESTION)
        expect(page.get_by_test_id("nectarine-answer")).to_have_attribute("data-state", "done", timeout=30_000)
        assert page.url == url + "/?view=reports"  # the hash is spent: a reload does not ask again
        page.reload()
        expect(page.get_by_test_id("nectarine-answer")).to_have_count(1)
        # From the page's own code: the demo page's search box offers the search to the assistant.
        page.get_by_role("searchbox").fill("session timeout")
        offer = page.get_by_test_id("ask-nectarine-about")
        expect(offer).to_have_text("Ask Nectarine about “session timeout”")
        offer.click()
        expect(page.locator("[data-testid=nectarine-panel] .user").nth(1)).to_have_text("You: session timeout")
        expect(page.get_by_test_id("nectarine-answer").nth(1)).to_have_attribute("data-state", "done", timeout=30_000)
        assert not page.errors, page.errors


@pytest.mark.parametrize(("locale", "attrs", "launch", "placeholder"), [
    ("de-DE", "", "Nectarine fragen", "Fragen Sie zu Nectain…"),
    ("fr-FR", "", "Demander à Nectarine", "Posez une question sur Nectain…"),
    ("es-ES", "", "Preguntar a Nectarine", "Pregunta sobre Nectain…"),
    ("pt-BR", "", "Perguntar ao Nectarine", "Pergunte sobre o Nectain…"),
    ("en-US", 'data-locale="ja"', "Nectarine に質問", "Nectain について質問…"),
    ("xx-XX", "", "Ask Nectarine", "Ask about Nectain…"),  # a language without strings: English
])
def test_the_interface_speaks_the_users_language(site, browser, locale, attrs, launch, placeholder):
    url, _ = site
    with watched_page(browser, locale=locale) as page:
        page.goto(host_page(page, url, attrs))
        launcher = page.get_by_test_id("nectarine-launcher")
        expect(launcher).to_have_text(launch)
        launcher.click()
        expect(page.get_by_test_id("nectarine-input")).to_have_attribute("placeholder", placeholder)
        assert not page.errors, page.errors


def test_in_german_the_ticket_form_is_german_and_the_answer_english_with_its_note(site, browser):
    url, _ = site
    with watched_page(browser, locale="de-DE") as page:
        page.goto(url)
        page.get_by_test_id("nectarine-launcher").click()
        expect(page.get_by_role("dialog", name="Nectarine-Assistent")).to_be_visible()
        answer = ask(page, "Wie konfiguriere ich SAML Single Sign-on?")
        expect(answer.locator(".body")).to_have_attribute("lang", "en")
        expect(answer).to_contain_text("English is Nectain's support language")
        expect(answer.get_by_test_id("nectarine-copy-answer")).to_have_text("Kopieren")
        page.locator("header").get_by_test_id("nectarine-contact").click()
        expect(page.get_by_test_id("ticket-submit")).to_have_text("Ticket senden", timeout=15_000)
        form = page.get_by_test_id("nectarine-ticket-form")
        expect(form).to_contain_text("Mit dem Support geteilt")
        expect(form.get_by_text("Beschreibung", exact=True)).to_be_visible()
        assert page.evaluate(f"{ROOT}.querySelector('.root').lang") == "de"


def test_every_locale_has_every_string(site):
    url, _ = site
    widget = (REPO / "nectarine" / "web" / "widget.js").read_text()
    english = set(re.findall(r"[{,]\s*(\w+): '", widget[widget.index("const EN = {"):widget.index("let L = {}")]))
    assert len(english) > 90
    for lang in ("de", "fr", "es", "pt", "ja"):
        r = httpx.get(f"{url}/widget/locales/{lang}.json")
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        strings = r.json()
        assert set(strings) - {"lang"} == english, lang
        assert strings["lang"] == lang
    missing = httpx.get(f"{url}/widget/locales/xx.json")
    assert missing.status_code == 404 and "available: en" in missing.text


@pytest.mark.parametrize(("locale", "shown"), [("en-GB", "Updated 2 November 2026"), ("de-DE", "Aktualisiert am 2. November 2026")])
def test_the_source_view_shows_the_pages_date(site, browser, locale, shown):
    url, _ = site
    citation = {"number": 1, "chunk_id": "c-date", "title": "Single sign-on", "heading_path": ["Single sign-on"],
                "url": "https://docs.nectain.com/sso", "source": "docs", "versions": "all", "quote": "Open the Admin Console.",
                "date": "2026-11-02"}
    source = {"chunk_id": "c-date", "title": "Single sign-on", "heading_path": ["Single sign-on"], "url": "https://docs.nectain.com/sso",
              "text": "Open the **Admin Console**.", "date": "2026-11-02"}
    with watched_page(browser, locale=locale) as page:
        streamed(page, "Open the Admin Console [1].", [citation], {"c-date": source})
        page.goto(url)
        page.get_by_test_id("nectarine-launcher").click()
        ask(page, "where is SSO?").get_by_test_id("nectarine-citation").first.click()
        expect(page.get_by_test_id("nectarine-source-date")).to_have_text(shown)
        expect(page.get_by_test_id("nectarine-source")).to_contain_text("Admin Console")
        assert not page.errors, page.errors


def test_the_source_view_shows_the_date_the_service_gives(site, browser):
    """Against the real service: the date in the answer's citation (the page's date) is the one shown."""
    url, _ = site
    cited = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, headers={"X-Site-Key": "demo-public-key"}).json()["answer"]["citations"][0]
    day = dt.date.fromisoformat(cited["date"])
    with watched_page(browser, locale="en-US") as page:
        page.goto(url)
        page.get_by_test_id("nectarine-launcher").click()
        ask(page, QUESTION).get_by_test_id("nectarine-citation").first.click()
        expect(page.get_by_test_id("nectarine-source-date")).to_have_text(f"Updated {day:%B} {day.day}, {day.year}")
