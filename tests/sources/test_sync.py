"""Scheduled sync in the service: a real app under uvicorn syncing a real loopback site, which then fails."""

from __future__ import annotations

import time

import httpx
import pytest

from nectarine import Nectarine, ingest
from nectarine.api import Settings, create_app
from nectarine.settings import Settings as PlainSettings
from nectarine.store import TicketStore
from support.live import serve
from support.site import Page, Site, html_page, sitemap

pytestmark = pytest.mark.slow  # uvicorn apps waiting on scheduled syncs: the integration tier

KEY = {"X-Site-Key": "demo-public-key"}
ADMIN = {"Authorization": "Bearer sync-admin"}
OPEN = {"rate_limit": "10000/minute", "rate_limit_other": "10000/minute", "rate_limit_any": "10000/minute",
        "rate_limit_admin": "10000/minute", "admin_token": "sync-admin"}


def wait_for(url: str, predicate, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/readyz", timeout=5).json()
        if predicate(body.get("sync") or {}):
            return body
        time.sleep(0.1)
    raise AssertionError(f"timed out; last /readyz: {body}")


@pytest.fixture
def site():
    s = Site()
    with s.serve() as base:
        s.base = base
        s.pages.update({
            "/robots.txt": Page("User-agent: *\nAllow: /\n", content_type="text/plain"),
            "/sitemap.xml": Page(sitemap(base, ["/docs/exports.html", "/docs/quotas.html"]), content_type="application/xml"),
            "/docs/exports.html": Page(html_page("Exports", "Exports run nightly at two in the morning.")),
            "/docs/quotas.html": Page(html_page("Quotas", "Quotas reset on the first day of each month.")),
        })
        yield s


def test_scheduled_sync_follows_the_site_and_a_failed_sync_keeps_the_index(site, tmp_path, fake_embedder):
    index = tmp_path / "index"
    ingest([f"{site.base}/sitemap.xml"], index, embedder=fake_embedder)
    nec = Nectarine.load(index, embedder=fake_embedder)
    nec.attach_store(TicketStore(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    settings = Settings(sources=[f"{site.base}/sitemap.xml"], sync_interval=1, **OPEN)
    with serve(create_app(settings, nectarine=nec)) as url:
        first = wait_for(url, lambda s: s.get("outcome") == "up_to_date")  # synced at start: nothing changed
        assert first["sync"]["interval_seconds"] == 1 and first["sync"]["error"] is None

        site.pages["/docs/exports.html"] = Page(html_page("Exports", "Exports now run every hour, on the hour."))
        # a new generation published by a sync (the next rounds find it up to date, so the outcome may be either)
        changed = wait_for(url, lambda s: s.get("generation") not in (None, first["generation"]) and s.get("outcome") != "failed")
        assert changed["generation"] != first["generation"] and changed["sync"]["counts"]["documents"] == 2
        assert nec.reader.folder.name == changed["generation"]  # the served assistant moved to it
        assert any("every hour" in r.text for r in nec.search("How often do exports run?", k=3))

        site.pages["/sitemap.xml"] = Page("down for maintenance", status=500)  # the next sync fails
        failed = wait_for(url, lambda s: s.get("outcome") == "failed")
        assert "answered 500" in failed["sync"]["error"] and "previous index is still served" in failed["sync"]["error"]
        assert failed["generation"] == changed["generation"]  # the index it had
        assert failed["sync"]["last_success_at"] is not None
        for _ in range(3):  # readers keep answering from the live generation
            r = httpx.post(f"{url}/v1/ask", json={"question": "When do quotas reset?"}, headers=KEY, timeout=30)
            assert r.status_code == 200 and r.json()["answer"]["citations"]

        metrics = httpx.get(f"{url}/metrics").text
        assert "nectarine_sync_last_ok 0.0" in metrics and 'nectarine_sync_runs_total{outcome="failed"}' in metrics
        status = httpx.get(f"{url}/v1/admin/sync", headers=ADMIN)
        assert status.status_code == 200 and status.json()["outcome"] == "failed"
        assert httpx.get(f"{url}/v1/admin/sync").status_code in (401, 403)


def test_admin_sync_runs_one_now_and_says_when_no_sources_are_set(site, tmp_path, fake_embedder, monkeypatch):
    index = tmp_path / "index"
    ingest([f"{site.base}/sitemap.xml"], index, embedder=fake_embedder)
    nec = Nectarine.load(index, embedder=fake_embedder)
    nec.attach_store(TicketStore(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    settings = Settings(sources=[f"{site.base}/sitemap.xml"], **OPEN)  # no schedule: only on demand
    with serve(create_app(settings, nectarine=nec)) as url:
        assert httpx.get(f"{url}/readyz").json()["sync"]["outcome"] == "pending"
        site.pages["/docs/quotas.html"] = Page("", status=410)
        r = httpx.post(f"{url}/v1/admin/sync", headers=ADMIN, timeout=60)
        assert r.status_code == 200 and r.json()["outcome"] == "ok" and r.json()["counts"]["documents"] == 1
        assert any("gone (410)" in s for s in r.json()["skipped"])
        # with several workers (`serve --workers N` sets PROMETHEUS_MULTIPROC_DIR) /metrics still has the sync
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
        (tmp_path / "prometheus").mkdir()
        metrics = httpx.get(f"{url}/metrics").text
        assert 'nectarine_sync_runs_total{outcome="ok"} 1.0' in metrics and "nectarine_sync_last_ok 1.0" in metrics
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    plain = Nectarine.load(index, embedder=fake_embedder)
    plain.attach_store(TicketStore(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    with serve(create_app(Settings(**OPEN), nectarine=plain)) as url:
        assert "sync" not in httpx.get(f"{url}/readyz").json()
        r = httpx.post(f"{url}/v1/admin/sync", headers=ADMIN)
        assert r.status_code == 404 and "NECTARINE_SOURCES" in r.text


def test_sync_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("NECTARINE_SOURCES", '["corpus", "https://docs.example.com/sitemap.xml", "git:/srv/docs?ref=main"]')
    monkeypatch.setenv("NECTARINE_SYNC_INTERVAL", "15m")
    s = PlainSettings()
    assert s.sources[1] == "https://docs.example.com/sitemap.xml" and s.sync_interval == 900
    assert PlainSettings(sources="corpus").sources == ["corpus"]
    with pytest.raises(ValueError, match="write seconds"):
        PlainSettings(sync_interval="often")
