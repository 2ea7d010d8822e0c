"""The console in Debian's Chromium (Playwright) on a real service: sign in, the overview with seeded
data, a filter by version, a coverage gap opened, an answer reviewed, the evaluation set downloaded,
and ``nectarine eval answers`` / ``eval retrieval`` run on that download, in one go; and stored XSS
payloads (a question, a feedback comment, a ticket title) rendered as inert text on every page."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from nectarine.store.analytics import Analytics, Filters
from support.browser import watched_page

CLI = [str(Path(sys.executable).with_name("nectarine"))]


def sign_in(page, service) -> None:
    page.goto(f"{service.base}/admin/overview")
    expect(page).to_have_url(f"{service.base}/admin/login?next=%2Fadmin%2Foverview")
    page.get_by_test_id("token").fill(service.token)
    page.get_by_test_id("sign-in").click()
    expect(page).to_have_url(f"{service.base}/admin/overview")


def watch_csp(page) -> list[str]:
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return violations


def test_sign_in_overview_filter_gap_review_export_and_evaluate(browser, service, corpus_index, fake_embedder, tmp_path):
    analytics = Analytics(service.db)
    with watched_page(browser, accept_downloads=True) as page:
        csp = watch_csp(page)
        sign_in(page, service)
        everything = analytics.overview(Filters.last(30)).totals["questions"]
        expect(page.get_by_test_id("total-questions")).to_have_text(str(everything))
        for chart in ("questions", "rates", "feedback", "declines", "latency", "tickets"):
            expect(page.get_by_test_id(f"chart-{chart}")).to_have_attribute("data-drawn", "1")
            expect(page.get_by_test_id(f"chart-{chart}").locator("canvas")).to_have_count(1)

        page.get_by_test_id("filter-version").select_option("8.0")
        page.get_by_test_id("apply-filters").click()
        expect(page).to_have_url(re.compile(r"/admin/overview\?.*version=8\.0"))
        v80 = analytics.overview(Filters.last(30, version="8.0")).totals["questions"]
        assert 0 < v80 < everything
        expect(page.get_by_test_id("total-questions")).to_have_text(str(v80))
        expect(page.get_by_test_id("chart-questions")).to_have_attribute("data-drawn", "1")  # redrawn after the htmx swap

        page.get_by_test_id("nav-gaps").click()
        expect(page).to_have_url(re.compile(r"/admin/gaps\?.*version=8\.0"))  # the filter is kept
        first = page.get_by_test_id("gap-link").first
        label = first.inner_text()
        first.click()
        expect(page.get_by_test_id("gap-title")).to_contain_text(label.removesuffix("...")[:60])
        page.get_by_test_id("gap-question").first.click()
        expect(page.get_by_test_id("review-form")).to_be_visible()

        question = page.get_by_test_id("turn-question").inner_text()
        page.get_by_test_id("verdict-wrong").check()
        page.get_by_test_id("review-reference").fill("The limits are listed in Reference › Limits and quotas.")
        page.get_by_test_id("review-vital").fill("Open Reference › Limits and quotas\nEach plan has its own limits")
        page.get_by_test_id("review-extra").fill("docs/reference/limits-and-quotas#all-limits")
        page.get_by_test_id("save-review").click()
        expect(page.get_by_test_id("review-saved")).to_be_visible()

        page.get_by_test_id("nav-reviews").click()
        with page.expect_download() as download:
            page.get_by_test_id("export-zip").click()
        archive = tmp_path / "reviewed.zip"
        download.value.save_as(archive)
        assert page.dialogs == [] and page.errors == [] and csp == [], (page.dialogs, page.errors, csp)
        assert not [u for u in page.requested if not u.startswith(service.base)], "the console loads nothing from elsewhere"

    zipfile.ZipFile(archive).extractall(tmp_path)
    dataset = tmp_path / "reviewed"
    queries = [json.loads(line) for line in (dataset / "queries.jsonl").read_text().splitlines()]
    assert [q["text"] for q in queries] == [question] and queries[0]["metadata"]["nuggets"][1] == {"text": "Each plan has its own limits",
                                                                                                  "vital": True}
    # The export's own corpus, indexed with the same (fake) embedder; the CLI then runs on the folder unchanged.
    from nectarine import ingest

    ingest([dataset / "corpus.jsonl"], tmp_path / "index", embedder=fake_embedder)
    for command in ("answers", "retrieval"):
        out = tmp_path / f"{command}.json"
        run = subprocess.run(CLI + ["eval", command, str(dataset), "--index", str(tmp_path / "index"), "--json", str(out)],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        metrics = json.loads(out.read_text())["metrics"]
        assert metrics.get("queries", 1) == 1, metrics


def test_stored_xss_renders_as_inert_text(browser, service):
    with watched_page(browser) as page:
        sign_in(page, service)
        pages = [("/admin/questions?q=export+invoices", service.xss["question"]), ("/admin/questions/xss-0", service.xss["comment"]),
                 ("/admin/tickets", service.xss["ticket"]), ("/admin/gaps", None), ("/admin/top", None), ("/admin/reviews", None)]
        for path, text in pages:
            page.goto(service.base + path)
            page.wait_for_load_state("load")
            if text:
                expect(page.get_by_text(text).first).to_be_visible()
            assert page.evaluate("window.__xss") is None, path
            assert page.locator("main img, main svg[onload], main script:not([type='application/json'])").count() == 0, path
        assert page.dialogs == [] and page.errors == [], (page.dialogs, page.errors)
