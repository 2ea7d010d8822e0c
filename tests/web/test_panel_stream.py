"""Stop and retry in the panel (Debian's Chromium), against a real HTTP service on loopback that streams its
answer a word at a time, slowly, and can break the connection halfway: what the user sees, and that the
service stops writing when the user stops the answer."""

import asyncio
import json
import time

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from playwright.sync_api import expect

from nectarine.api.routes.panel import widget_bundle
from support.browser import watched_page
from support.live import serve

ANSWER = "Open the Admin Console, choose Security, then Single sign-on, paste the metadata URL and press Save to finish."
WORDS = ANSWER.split(" ")
PAGE = ('<!doctype html><html lang="en"><title>slow</title><main><h1>Slow service</h1></main>'
        '<script src="/widget.js" data-site-key="k" data-examples="How do I configure SSO?" defer></script></html>')


class SlowService:
    """How the next answers are streamed ("slow", "fast", or "drop": the connection breaks after four words),
    and what the service did: the words it wrote for each answer, and the answers it finished."""

    def __init__(self) -> None:
        self.mode, self.delay = "slow", 0.3
        self.written: list[int] = []
        self.finished = 0

    def app(self) -> FastAPI:
        app = FastAPI()
        app.get("/readyz")(lambda: {"ready": True})
        app.get("/")(lambda: HTMLResponse(PAGE))
        app.get("/widget.js")(lambda: Response(widget_bundle().minified, media_type="text/javascript"))

        @app.post("/v1/chat")
        async def chat() -> StreamingResponse:
            mode = self.mode

            async def events():
                sent = 0
                try:
                    yield event("start", {"session_id": "s-slow"})
                    for i, word in enumerate(WORDS):
                        if mode == "drop" and i == 4:
                            raise ConnectionResetError("the test service breaks the connection")
                        yield event("delta", {"text": word if i == 0 else " " + word})
                        sent += 1
                        await asyncio.sleep(self.delay if mode != "fast" else 0)
                    yield event("done", {"answer": {"text": ANSWER, "citations": [], "confidence": 0.9, "handoff_recommended": False,
                                                    "notes": []}, "turn_id": None, "session_id": "s-slow"})
                    self.finished += 1
                finally:
                    self.written.append(sent)

            return StreamingResponse(events(), media_type="text/event-stream")

        return app


def event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


@pytest.fixture(scope="module")
def service():
    svc = SlowService()
    with serve(svc.app()) as url:
        svc.url = url
        yield svc


@pytest.fixture
def page(browser, service):
    service.mode = "slow"
    with watched_page(browser) as p:
        p.goto(service.url)
        p.get_by_test_id("nectarine-launcher").click()
        yield p


def ask(page, question: str) -> None:
    box = page.get_by_test_id("nectarine-input")
    box.fill(question)
    box.press("Enter")


def test_stop_keeps_what_arrived_and_the_service_stops_writing(page, service):
    before = (len(service.written), service.finished)
    ask(page, "How do I configure SSO?")
    answer = page.get_by_test_id("nectarine-answer")
    send = page.get_by_test_id("nectarine-send")
    expect(answer).to_contain_text("Admin Console,")  # a few words in: streaming
    expect(answer).to_have_attribute("data-state", "streaming")
    expect(send).to_have_text("Stop")
    send.click()
    expect(answer).to_have_attribute("data-state", "stopped")
    expect(answer).to_contain_text("You stopped this answer.")
    kept = answer.locator(".body").inner_text()
    assert kept.startswith("Open the Admin Console,") and "Save to finish." not in kept
    expect(send).to_have_text("Send")
    # The browser closed the stream, and the service noticed: it wrote part of the answer and no more.
    deadline = time.monotonic() + 5
    while len(service.written) == before[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.written[-1] < len(WORDS) and service.finished == before[1]
    page.wait_for_timeout(2 * service.delay * 1000)
    assert answer.locator(".body").inner_text() == kept  # nothing arrives after the stop
    # The conversation goes on.
    service.mode = "fast"
    ask(page, "and for OIDC?")
    expect(page.get_by_test_id("nectarine-answer").nth(1)).to_have_attribute("data-state", "done", timeout=10_000)
    assert not page.errors, page.errors


def test_a_broken_connection_keeps_the_partial_answer_marked_and_retry_replaces_it(page, service):
    service.mode = "drop"
    ask(page, "How do I configure SSO?")
    answer = page.get_by_test_id("nectarine-answer")
    expect(answer).to_have_attribute("data-state", "error", timeout=10_000)
    assert answer.locator(".body").inner_text().strip() == " ".join(WORDS[:4])  # what arrived, kept
    expect(answer).to_contain_text("The connection was lost: this answer is incomplete.")
    alert = page.get_by_test_id("nectarine-alert")
    expect(alert).to_contain_text("The connection was interrupted")
    service.mode = "fast"
    page.get_by_test_id("nectarine-retry").click()
    # The failed attempt is replaced: one question, one complete answer.
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("data-state", "done", timeout=10_000)
    expect(answer.locator(".body")).to_have_text(ANSWER)
    expect(answer).not_to_contain_text("incomplete")
    expect(page.locator("[data-testid=nectarine-panel] .user")).to_have_count(1)
    expect(alert).to_be_hidden()
    assert not page.errors, page.errors


def test_an_unreachable_service_gives_the_question_back_with_a_retry(page, service):
    service.mode = "fast"
    page.route("**/v1/chat", lambda route: route.abort("connectionrefused"), times=1)
    ask(page, "How do I configure SSO?")
    alert = page.get_by_test_id("nectarine-alert")
    expect(alert).to_contain_text("Could not reach Nectarine")
    expect(page.get_by_test_id("nectarine-answer")).to_have_count(0)  # nothing half-shown
    expect(page.get_by_test_id("nectarine-input")).to_have_value("How do I configure SSO?")
    page.get_by_test_id("nectarine-retry").click()
    expect(page.get_by_test_id("nectarine-answer")).to_have_attribute("data-state", "done", timeout=10_000)
    expect(page.get_by_test_id("nectarine-input")).to_have_value("")
    expect(page.locator("[data-testid=nectarine-panel] .user")).to_have_count(1)
    assert not page.errors, page.errors
