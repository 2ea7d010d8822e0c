"""Links and images in the panel, in a real browser (Debian's Chromium, Playwright) against the real service.

The panel keeps a link only for an http(s) URL. Any other link (``javascript:``, the ``#`` the server
puts in place of a script URL, a relative path) shows as its text alone, and an image, which the panel
never loads, as its alt text: never as raw Markdown, never as an element carrying the URL.
"""

import json
import shutil

import pytest
from playwright.sync_api import expect

from support.browser import ask_in_panel, watched_page
from support.live import served_corpus
from support.paths import KB

BAD_LINK = "[guide](javascript:alert(1))"
IMAGE = "![x](http://evil/x.png)"
SAFE_HREF = "https://docs.nectain.com/a"
SAFE_LINK = f"[ok]({SAFE_HREF})"

# A page the offline answerer quotes when asked about quokka reports: the answer carries all three.
QUOKKA = f"""---
title: Quokka reports
url: https://docs.nectain.com/quokka-reports
source: docs
---

## Quokka report schedules

Quokka reports are scheduled from the Reports page, see the {BAD_LINK} for quokka schedules. The quokka report chart
looks like {IMAGE} in the quokka dashboard. Read {SAFE_LINK} for quokka report permissions.
"""

# What the panel's shadow root holds: its text, and every element that has a URL or could load one.
INSPECT = """(sel) => {
  const root = document.querySelector('#nectarine-root').shadowRoot;
  const scope = sel ? root.querySelector(sel) : root;
  return {
    imgs: root.querySelectorAll('img, picture, source, image, svg image').length,
    anchors: [...scope.querySelectorAll('a')].map((a) => ({text: a.textContent, href: a.getAttribute('href')})),
    urls: [...root.querySelectorAll('*')].flatMap((e) => ['href', 'src', 'srcset', 'xlink:href', 'action', 'formaction']
      .map((n) => e.getAttribute(n)).filter(Boolean)),
  };
}"""


@pytest.fixture(scope="module")
def site(embedder, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("panel-links")
    corpus = tmp / "kb"
    shutil.copytree(KB, corpus)
    (corpus / "docs" / "quokka-reports.md").write_text(QUOKKA)
    with served_corpus([corpus], tmp, embedder) as (url, _nec):
        yield url


@pytest.fixture
def page(browser):
    with watched_page(browser) as p:
        yield p


ask = ask_in_panel


def assert_inert(page, text: str, seen: dict) -> None:
    """No raw Markdown, no image, the unsafe link as text only, the safe link an anchor to its URL."""
    assert "guide" in text and "[guide](" not in text and "![" not in text and "](" not in text, text
    assert "evil" not in text and "javascript" not in text, text
    assert seen["imgs"] == 0
    assert not any(u.strip().lower().startswith(("javascript:", "data:")) or "evil" in u or u.strip() == "#" for u in seen["urls"])
    assert {"text": "ok", "href": SAFE_HREF} in seen["anchors"]
    assert all(a["href"].startswith(("http://", "https://")) for a in seen["anchors"]), seen["anchors"]


def test_an_answer_shows_unsafe_links_as_text_and_images_as_alt_text(site, page):
    answer = ask(page, site, "How do I schedule quokka reports?")
    body = answer.locator(".body")
    text = body.inner_text()
    # The server has already replaced the script URL with "#": the panel shows the link's text alone.
    assert_inert(page, text, page.evaluate(INSPECT, '[data-testid="nectarine-answer"] .body'))
    assert "chart looks like x in the quokka" in " ".join(text.split())  # the image's alt text, no "!"
    ok = body.get_by_role("link", name="ok")
    expect(ok).to_have_attribute("href", SAFE_HREF)
    expect(ok).to_have_attribute("rel", "noopener noreferrer")
    expect(body.locator("a", has_text="guide")).to_have_count(0)
    body.get_by_text("guide").click()  # plain text: clicking it runs nothing
    # The cited passage is the document's own text, script URL included: the panel neutralises it itself.
    answer.get_by_test_id("nectarine-citation").first.click()
    source = page.get_by_test_id("nectarine-source")
    expect(source).to_contain_text("quokka schedules")
    expect(source.locator(".src-text")).not_to_have_attribute("aria-busy", "true")
    src_text = source.locator(".src-text").inner_text()
    assert_inert(page, src_text, page.evaluate(INSPECT, '[data-testid="nectarine-source"] .src-text'))
    page.wait_for_timeout(300)
    assert not page.dialogs, page.dialogs
    assert not [u for u in page.requested if "evil" in u]
    assert not page.errors, page.errors


def test_link_and_image_edge_cases_in_a_streamed_answer(site, page):
    """The exact Markdown, streamed as the service would: raw script URLs, empty texts, a linked image."""
    text = (f"See {BAD_LINK} now. {IMAGE} Then {SAFE_LINK} [1].\n\n"
            "- empty alt ![](http://evil/e.png) end\n"
            "- empty text [](javascript:alert(2)) end\n"
            "- relative [rel](/admin/settings) and anchor [top](#top) and [mail](mailto:a@b.c)\n"
            "- badge [![build](http://evil/b.svg)](https://docs.nectain.com/b) and [![k](x.png)](javascript:alert(3))\n"
            "- bold link [**strong**](javascript:alert(4)) and code `[c](javascript:x)`")
    citation = {"number": 1, "chunk_id": "none", "title": "Quokka reports", "heading_path": [], "url": SAFE_HREF,
                "source": "docs", "versions": "all", "quote": "q"}
    done = {"answer": {"text": text, "citations": [citation], "confidence": 0.9, "handoff_recommended": False, "notes": []},
            "turn_id": None, "session_id": "s-panel-links"}
    stream = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in (
        ("start", {"session_id": "s-panel-links", "turn_id": None}), ("delta", {"text": text[:40]}),
        ("delta", {"text": text[40:]}), ("done", done)))
    page.route("**/v1/chat", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=stream))
    answer = ask(page, site, "anything")
    body = answer.locator(".body")
    shown = body.inner_text()
    # Only the code span may show Markdown: it is code, shown as the characters written.
    assert_inert(page, shown.replace("[c](javascript:x)", ""), page.evaluate(INSPECT, '[data-testid="nectarine-answer"] .body'))
    for part in ("See guide now. x Then ok", "empty alt  end", "empty text  end", "relative rel and anchor top and mail", "badge build and k",
                 "bold link strong", "[c](javascript:x)"):
        assert part in " ".join(shown.split("\n")) or part.replace("  ", " ") in shown, (part, shown)
    expect(body.get_by_role("link", name="build")).to_have_attribute("href", "https://docs.nectain.com/b")
    expect(body.locator("strong", has_text="strong")).to_have_count(1)  # the text keeps its emphasis, not the link
    expect(body.locator("code", has_text="[c](javascript:x)")).to_have_count(1)  # code shows the characters
    expect(answer.get_by_test_id("nectarine-citation").first).to_be_visible()
    anchors = page.evaluate(INSPECT, '[data-testid="nectarine-answer"] .body')["anchors"]
    assert [a["text"] for a in anchors] == ["ok", "build"], anchors
    page.wait_for_timeout(300)
    assert not page.dialogs and not [u for u in page.requested if "evil" in u] and not page.errors
