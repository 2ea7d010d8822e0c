"""Shared fixtures, and the two test tiers.

Fixtures: the real packaged model (``embedder``), loaded once, and a small real index built with it
once (``kb_index``, ``nec``); and their fast twins on the deterministic fake embedder
(``fake_embedder``, ``fake_kb_index``, ``fake_nec``; :mod:`nectarine.index.fake`), which need no model;
and ``any_embedder``/``any_nec``, parametrized over both (the real parameter is marked slow).

The tiers. ``pytest -m "not slow"`` is the fast tier (well under a minute); ``pytest -m slow`` the
integration tier; plain ``pytest`` runs both. :func:`pytest_collection_modifyitems` below marks a test
``slow`` when any of these holds, so nobody has to remember to:

* it uses, directly or through another fixture, one of :data:`SLOW_FIXTURES`: the real model
  (``embedder``, hence also ``kb_index``, ``nec`` and ``kb_copy`` used with the model), the priority
  classifier (which embeds with MiniLM), the per-backend vectors of ``test_embedder``, or a Playwright browser;
* it lives in one of :data:`SLOW_MODULES`: real servers and worker processes, a browser, llama.cpp,
  the schema fuzzer, processes killed mid-publish;
* one of its parameters is an external service of :data:`SLOW_PARAMS` (``postgresql``, ``redis``);
* it is named in :data:`SLOW_TESTS`: it reaches the real model without a fixture (through the CLI, say);
* or it is marked ``@pytest.mark.slow`` by hand (or gets the mark from a parameter, as ``any_nec``'s "real").

In a run that deselects ``slow`` (``-m "not slow"``) a guard makes any remaining use of the real model
fail with a message saying so, so a test that should be in the slow tier cannot hide in the fast one.

A new test lands in the fast tier unless it uses the real model or such a module; use the ``fake_*``
fixtures where *an* embedder will do, and keep a test on the real model when its assertion depends on
real semantic similarity.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Rich wraps tables to the terminal width; a wide one keeps CLI output assertable.
os.environ.setdefault("COLUMNS", "250")

FIXTURES = Path(__file__).parent / "fixtures"
KB = FIXTURES / "kb"


@pytest.fixture(scope="session")
def embedder():
    from nectarine.index.embedder import get_embedder

    return get_embedder()


@pytest.fixture(scope="session")
def kb_index(tmp_path_factory, embedder) -> Path:
    """The fixture knowledge base, ingested into a real FAISS + bm25s index."""
    from nectarine import ingest

    index = tmp_path_factory.mktemp("kb-index") / "index"
    report = ingest([KB], index, embedder=embedder)
    assert not report.skipped, report.skipped
    return index


@pytest.fixture(scope="session")
def nec(kb_index, embedder):
    from nectarine import Nectarine

    return Nectarine.load(kb_index, embedder=embedder)


@pytest.fixture
def kb_copy(tmp_path) -> Path:
    """A private, writable copy of the fixture knowledge base."""
    dest = tmp_path / "kb"
    shutil.copytree(KB, dest)
    return dest


# ---------------------------------------------------------------- the fast tier: the fake embedder


@pytest.fixture(scope="session")
def fake_embedder():
    """The deterministic hashing fake, found through its entry point like any embedder (no model)."""
    from nectarine.index.embedder import get_embedder

    return get_embedder("fake")


@pytest.fixture(scope="session")
def fake_kb_index(tmp_path_factory, fake_embedder) -> Path:
    """The fixture knowledge base, ingested with the fake embedder (a real FAISS + bm25s index, fake vectors)."""
    from nectarine import ingest

    index = tmp_path_factory.mktemp("fake-kb-index") / "index"
    report = ingest([KB], index, embedder=fake_embedder)
    assert not report.skipped, report.skipped
    return index


@pytest.fixture(scope="session")
def fake_nec(fake_kb_index, fake_embedder):
    from nectarine import Nectarine

    return Nectarine.load(fake_kb_index, embedder=fake_embedder)


# A test that holds for *an* embedder runs on both: on the fake in the fast tier, on the real model in
# the slow one (the "real" parameter carries the slow mark), so the fast tier loses no real coverage.
BOTH = ["fake", pytest.param("real", marks=pytest.mark.slow)]


@pytest.fixture(scope="session", params=BOTH)
def any_embedder(request):
    """The fake embedder, and (slow tier) the real model."""
    return request.getfixturevalue("fake_embedder" if request.param == "fake" else "embedder")


@pytest.fixture(scope="session", params=BOTH)
def any_nec(request):
    """The assistant over the fixture knowledge base: on the fake embedder, and (slow tier) on the real model."""
    return request.getfixturevalue("fake_nec" if request.param == "fake" else "nec")


# ---------------------------------------------------------------- the tiers (see the module docstring)

SLOW_FIXTURES = frozenset({
    "embedder", "kb_index", "nec",  # the real model and the index built with it
    "classifier",  # test_handoff: the priority classifier embeds with MiniLM
    "vectors",  # test_embedder: the model run through three backends
    "browser", "page",  # Playwright
})
SLOW_MODULES = frozenset({
    "test_atomic_publish",  # worker processes killed mid-publish
    "test_browser",  # Playwright and a real service
    "test_llm",  # llama.cpp and an OpenAI-compatible server
    "test_service",  # uvicorn, worker processes, SMTP and webhook receivers, Redis
    "test_api_fuzz",  # schemathesis over the real app
})
SLOW_PARAMS = frozenset({"postgresql", "redis"})
# Tests that reach the real model without a fixture (the CLI and the priority classifier load it
# themselves), as "module::test". The guard below finds any that are missing from this list.
SLOW_TESTS = frozenset({
    "test_cli::test_ingest_prints_summary_with_skipped_reasons",  # `nectarine ingest` with the default model
    "test_cli::test_ticket_draft_cli",  # the priority classifier
    "test_cli::test_eval_priority_cli",
    "test_cli::test_eval_commands_write_json",  # eval runs build indexes with the model
    "test_cli::test_html_reports_hold_their_plots_and_tables",
    "test_gaps::test_planted_topics_come_out_as_clusters",  # clusters questions with the model
    "test_poisoned::test_cli_ingest_lists_flagged_passages_and_ask_declines",
})


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if getattr(item, "module", None) else ""
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            or module in SLOW_MODULES
            or any(isinstance(v, str) and v in SLOW_PARAMS for v in params.values())
            or f"{module}::{getattr(item, 'originalname', item.name)}" in SLOW_TESTS
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fast_tier_never_runs_the_real_model(request, monkeypatch):
    """In a run that deselects ``slow``, a test that reaches the real model fails, saying where it belongs."""
    if "not slow" not in (request.config.getoption("markexpr", "") or "") or request.node.get_closest_marker("slow"):
        yield
        return
    from nectarine.index.embedder import SentenceTransformerEmbedder

    def refuse(*_a, **_k):
        raise AssertionError(
            f"{request.node.nodeid} runs the real embedding model in the fast tier: use the fake_* fixtures, "
            "or add it to SLOW_TESTS in tests/conftest.py"
        )

    for method in ("_load", "encode", "count_wordpieces"):
        monkeypatch.setattr(SentenceTransformerEmbedder, method, refuse)
    yield
