"""The panel's own routes on a real service (uvicorn on loopback, the fake embedder): its interface strings,
its example questions and who may set them, the two demo pages, and the script's size budget."""

import shutil
from types import SimpleNamespace

import httpx
import pytest

from nectarine import Nectarine
from nectarine.api import Settings, create_app
from nectarine.api.routes import panel as panel_routes
from nectarine.store import TicketStore
from support.live import serve

TOKEN = "admin-t0ken-for-tests"
KEY = {"X-Site-Key": "demo-public-key"}
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def service(fake_kb_index, fake_embedder, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("panel-routes")
    shutil.copytree(fake_kb_index, tmp / "index")  # the admin's examples are kept in the index folder
    nec = Nectarine.load(tmp / "index", embedder=fake_embedder)
    nec.attach_store(TicketStore(f"sqlite:///{tmp / 'db.sqlite'}"))
    with serve(create_app(Settings(rate_limit="1000/minute", admin_token=TOKEN), nectarine=nec)) as url:
        yield url, nec


def answer(confidence=0.9, handoff=False):
    return SimpleNamespace(text="In the Admin Console.", confidence=confidence, handoff_recommended=handoff, answerer="offline",
                           citations=[], language="en")


def test_interface_strings_are_public_and_only_for_known_languages(service):
    url, _ = service
    for lang in ("de", "fr", "es", "pt", "ja"):
        r = httpx.get(f"{url}/widget/locales/{lang}.json")
        assert r.status_code == 200 and r.json()["lang"] == lang
        assert r.headers["access-control-allow-origin"] == "*" and r.headers["cross-origin-resource-policy"] == "cross-origin"
    for bad in ("xx", "DE", "..%2Fwidget"):
        r = httpx.get(f"{url}/widget/locales/{bad}.json")
        assert r.status_code == 404 and ("%2F" in bad or "available: en (built in), de, es, fr, ja, pt" in r.text)  # a path: no route


def test_example_questions_are_the_most_asked_answered_well(service, monkeypatch):
    url, nec = service
    monkeypatch.setattr(panel_routes, "POPULAR_SECONDS", 0.0)
    log = nec.conversations
    assert httpx.get(f"{url}/v1/examples").status_code == 401  # the panel's site key, like every panel route
    assert httpx.get(f"{url}/v1/examples", headers=KEY).json() == {"examples": [], "source": "popular"}
    for i in range(4):
        log.record_turn("How do I rotate the SAML certificate?" if i % 2 else "how do I rotate the SAML certificate", answer(),
                        session_id=f"s-{i}")
    for i in range(3):
        log.record_turn("Where are audit logs kept?", answer(), session_id=f"s-{i}")
        log.record_turn("Why does export fail?", answer(confidence=0.3), session_id=f"s-{i}")  # not answered well
        log.record_turn("Can I use passkeys?", answer(handoff=True), session_id=f"s-{i}")  # handed off
    log.record_turn("My invoice 4711 for Acme is wrong, why?", answer(), session_id="s-0")  # one session: never shown
    for i in range(2):
        log.record_turn("What is SCIM?", answer(), session_id=f"s-{i}")  # two sessions: not yet
    got = httpx.get(f"{url}/v1/examples", headers=KEY).json()
    # Same question in two wordings counts once (4 sessions), shown in the wording used most (ties: either).
    assert got["source"] == "popular" and len(got["examples"]) == 2
    assert got["examples"][0].lower().startswith("how do i rotate the saml certificate") and got["examples"][1] == "Where are audit logs kept?"


def test_only_an_admin_sets_the_examples_and_bad_lists_are_refused(service):
    url, _ = service
    chosen = {"examples": ["How do I export orders?", "  What does   AUTH-1003 mean? "]}
    assert httpx.put(f"{url}/v1/admin/examples", json=chosen).status_code == 401
    assert httpx.put(f"{url}/v1/admin/examples", json=chosen, headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = httpx.put(f"{url}/v1/admin/examples", json={"examples": ["q"] * 9}, headers=ADMIN)
    assert r.status_code == 422
    r = httpx.put(f"{url}/v1/admin/examples", json={"examples": ["x" * 201]}, headers=ADMIN)
    assert r.status_code == 422 and "200 characters" in r.text
    for bad, says in (("bad \\ud800 text", "surrogate"), ("bell \\u0007 here", "printable")):
        r = httpx.put(f"{url}/v1/admin/examples", content='{"examples": ["%s"]}' % bad, headers={**ADMIN, "Content-Type": "application/json"})
        assert r.status_code == 422 and says in r.text, r.text
    r = httpx.put(f"{url}/v1/admin/examples", json=chosen, headers=ADMIN)
    assert r.status_code == 200
    assert httpx.get(f"{url}/v1/examples", headers=KEY).json() == {
        "examples": ["How do I export orders?", "What does AUTH-1003 mean?"], "source": "admin"}
    httpx.put(f"{url}/v1/admin/examples", json={"examples": []}, headers=ADMIN)
    assert httpx.get(f"{url}/v1/examples", headers=KEY).json()["source"] == "popular"


def test_the_demo_page_is_presentable_and_the_hostile_one_is_separate(service):
    url, _ = service
    demo, hostile = httpx.get(url + "/"), httpx.get(url + "/demo/isolation")
    assert demo.status_code == hostile.status_code == 200
    assert "script-src 'self'" in hostile.headers["content-security-policy"]
    assert "DELIBERATELY AGGRESSIVE" in hostile.text and "DELIBERATELY AGGRESSIVE" not in demo.text
    assert 'role="search"' in demo.text and "/widget.js" in hostile.text


def test_the_panel_script_stays_within_its_size_budget():
    bundle = panel_routes.widget_bundle()
    assert len(bundle.gzipped) <= 20_000, f"widget.js is {len(bundle.gzipped)} bytes gzipped; the budget is 20,000 (README)"
