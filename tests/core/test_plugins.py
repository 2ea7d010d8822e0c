"""Plugins through entry points: the built-ins, a third-party package, a broken one, and the fake embedder.

Fast tier: no real model is loaded. A third-party package is a real (tiny) distribution written to a
temporary folder: a ``*.dist-info`` with ``METADATA`` and ``entry_points.txt`` next to its module, put
on ``sys.path``, so ``importlib.metadata`` finds it exactly as it finds an installed wheel.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nectarine import IndexLoadError, Nectarine, ingest, plugins
from nectarine.answer.base import get_answerer
from nectarine.answer.llm import LlamaCppAnswerer, OpenAICompatibleAnswerer
from nectarine.answer.offline import OfflineAnswerer
from nectarine.errors import OptionError, SkipFile
from nectarine.handoff.delivery import EmailSink, WebhookSink
from nectarine.index.embedder import SentenceTransformerEmbedder, get_embedder
from nectarine.index.fake import FakeEmbedder
from nectarine.ingest.loaders import BeirJsonlLoader, HtmlLoader, MarkdownLoader, TextLoader, discover, load_file, loader_for
from nectarine.plugins import PluginError
from nectarine.settings import Settings

BUILT_INS = {
    plugins.ANSWERERS: {"offline": OfflineAnswerer, "openai": OpenAICompatibleAnswerer, "llamacpp": LlamaCppAnswerer},
    plugins.LOADERS: {".md": MarkdownLoader, ".markdown": MarkdownLoader, ".mdx": MarkdownLoader, ".txt": TextLoader,
                      ".text": TextLoader, ".html": HtmlLoader, ".htm": HtmlLoader, ".jsonl": BeirJsonlLoader},
    plugins.EMBEDDERS: {"sentence-transformers": SentenceTransformerEmbedder, "fake": FakeEmbedder},
    plugins.SINKS: {"webhook": WebhookSink, "email": EmailSink},
}


# ---------------------------------------------------------------- a real distribution in a folder


def make_distribution(site: Path, name: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]) -> None:
    """Write an installed distribution ``name`` 0.1 (metadata, entry points, modules) into ``site``."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n" for group, eps in entry_points.items())
    )
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on ``sys.path`` to install distributions into; everything is forgotten afterwards."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(folder))
    plugins.refresh()
    yield folder
    monkeypatch.undo()
    for name in set(sys.modules) - before:
        if name.startswith("nectarine_test_"):
            del sys.modules[name]
    plugins.refresh()


THIRD_PARTY = '''
from nectarine.answer.base import AnswerDraft
from nectarine.ingest.loaders import build_document, decode_text


class EchoAnswerer:
    """Answers with the first sentence of the best passage, cited."""

    name = "echo"

    def __init__(self, **options):
        self.options = options

    def answer(self, question, passages, *, history=(), context=None):
        first = passages[0].chunk.text.split(". ")[0].rstrip(".") + "." if passages else ""
        return AnswerDraft(f"{first} [1]" if first else "", self.name)

    def stream(self, question, passages, *, history=(), context=None):
        yield self.answer(question, passages).text


class RstLoader:
    """reStructuredText: the first line, underlined, is the title."""

    suffixes = (".rst",)

    def load(self, path, root, raw):
        lines = decode_text(raw, path).splitlines()
        title, body = lines[0].strip(), "\\n".join(lines[2:])
        return [build_document(path=path, root=root, meta={}, text=body, title=title, fmt="rst")]


class ShoutingTextLoader(RstLoader):
    suffixes = (".txt",)
'''


@pytest.fixture
def third_party(site):
    make_distribution(
        site, "nectarine-test-extras",
        {plugins.ANSWERERS: {"echo": "nectarine_test_extras:EchoAnswerer"},
         plugins.LOADERS: {".rst": "nectarine_test_extras:RstLoader"}},
        {"nectarine_test_extras": THIRD_PARTY},
    )
    plugins.refresh()
    return site


RST = "Kiosk mode\n==========\n\nKiosk mode locks a tablet to one form. Staff cannot leave the form until an admin unlocks it.\n"


# ---------------------------------------------------------------- built-ins


@pytest.mark.parametrize("group", plugins.GROUPS)
def test_every_built_in_is_found_through_entry_points(group):
    declared = {p.name: p for p in plugins.installed((group,)) if p.distribution == "nectarine"}
    assert set(declared) == set(BUILT_INS[group])
    for name, obj in BUILT_INS[group].items():
        assert plugins.load(group, name) is obj
        assert declared[name].target == f"{obj.__module__}:{obj.__qualname__}" and declared[name].active


def test_the_public_lookups_go_through_the_registry():
    offline = get_answerer("offline", idf={"saml": 2.0})
    assert isinstance(offline, OfflineAnswerer)
    assert isinstance(get_embedder("fake"), FakeEmbedder) and get_embedder("fake") is get_embedder("fake")
    assert loader_for(Path("docs/Page.MD")) is MarkdownLoader
    sinks = Settings(webhook_url="https://support.example/hook", smtp_host="mail.example", smtp_to="s@example.test").sinks()
    assert {k: type(v) for k, v in sinks.items()} == {"webhook": WebhookSink, "email": EmailSink}
    assert Settings().sinks() == {}


def test_answer_base_no_longer_imports_the_answerers():
    import ast

    import nectarine.answer.base as base

    tree = ast.parse(Path(base.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {"offline", "llm"} & {(m or "").rsplit(".", 1)[-1] for m in imported}
    docstrings = {id(node.body[0].value) for node in ast.walk(tree) if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings}
    assert not {"offline", "openai", "llamacpp"} & strings  # no hard-coded names


@pytest.mark.parametrize(
    ("lookup", "listed"),
    [
        (lambda: get_answerer("gpt-7"), "unknown answerer 'gpt-7'; choose one of: llamacpp, offline, openai"),
        (lambda: get_embedder(kind="word2vec"), "unknown embedder 'word2vec'; choose one of: fake, sentence-transformers"),
        (lambda: plugins.load(plugins.SINKS, "pager"), "unknown delivery sink 'pager'; choose one of: email, webhook"),
        (lambda: plugins.names("nectarine.widgets"), "unknown plugin group 'nectarine.widgets'"),
    ],
)
def test_unknown_names_list_what_is_installed(lookup, listed):
    with pytest.raises(OptionError) as caught:
        lookup()
    assert listed in str(caught.value)


def test_unsupported_file_type_lists_the_installed_suffixes():
    with pytest.raises(SkipFile, match=r"unsupported file type \.rst; supported: \.htm, \.html, \.jsonl, \.markdown, \.md"):
        loader_for(Path("guide.rst"))


def test_table_rows_for_the_plugins_command():
    rows = plugins.table_rows()
    assert ("answerers", "offline", "nectarine.answer.offline:OfflineAnswerer", "nectarine", plugins.installed()[0].version) in rows
    assert {r[0] for r in rows} == {"answerers", "loaders", "embedders", "sinks"}


# ---------------------------------------------------------------- a third-party package


def test_a_third_party_answerer_and_loader_work_without_touching_nectarine(third_party, tmp_path, fake_embedder):
    assert "echo" in plugins.names(plugins.ANSWERERS) and ".rst" in plugins.names(plugins.LOADERS)
    echo = get_answerer("echo", temperature=0)
    assert type(echo).__name__ == "EchoAnswerer" and echo.options == {"temperature": 0}
    listed = {(p.group, p.name): p for p in plugins.installed()}
    assert listed[plugins.ANSWERERS, "echo"].distribution == "nectarine-test-extras" and listed[plugins.ANSWERERS, "echo"].version == "0.1"

    corpus = tmp_path / "corpus" / "docs"
    corpus.mkdir(parents=True)
    (corpus / "kiosk.rst").write_text(RST)
    (corpus / "export.md").write_text("---\ntitle: Export records\n---\n\n## Export to CSV\n\nOpen the list view and choose Export › CSV.\n")
    found = [p.name for p, _ in discover([corpus.parent])]
    assert found == ["export.md", "kiosk.rst"]
    (doc,), _ = load_file(corpus / "kiosk.rst", corpus.parent)
    assert doc.title == "Kiosk mode" and doc.metadata["format"] == "rst" and doc.id == "docs/kiosk"

    report = ingest([corpus.parent], tmp_path / "idx", embedder=fake_embedder)
    assert report.skipped == [] and report.documents == 2
    nec = Nectarine.load(tmp_path / "idx", embedder=fake_embedder, answerer="echo")
    assert nec.search("kiosk mode tablet", k=1)[0].chunk.doc_id == "docs/kiosk"
    answer = nec.ask("How does kiosk mode lock a tablet?")
    assert answer.answerer == "echo" and answer.text == "Kiosk mode locks a tablet to one form [1]."
    assert [c.url for c in answer.citations] == ["/docs/kiosk"]


def test_without_the_plugin_the_rst_file_is_skipped_with_a_reason(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kiosk.rst").write_text(RST)
    (corpus / "export.md").write_text("# Export records\n\nOpen the list view and choose Export › CSV.\n")
    report = ingest([corpus], tmp_path / "idx", embedder=fake_embedder)
    assert [(Path(s.path).name, s.reason.split(";")[0]) for s in report.skipped] == [("kiosk.rst", "unsupported file type .rst")]


def test_a_third_party_loader_replaces_a_built_in_for_the_same_suffix(site):
    make_distribution(site, "nectarine-test-shout", {plugins.LOADERS: {".txt": "nectarine_test_shout:ShoutingTextLoader"}},
                      {"nectarine_test_shout": THIRD_PARTY})
    plugins.refresh()
    assert loader_for(Path("notes.txt")).__name__ == "ShoutingTextLoader"
    assert loader_for(Path("notes.text")) is TextLoader  # the suffixes it does not declare keep the built-in
    txt = [p for p in plugins.installed((plugins.LOADERS,)) if p.name == ".txt"]
    assert [(p.distribution, p.active) for p in txt] == [("nectarine-test-shout", True), ("nectarine", False)]
    assert any(r[1] == ".txt" and "not used: nectarine-test-shout wins" in r[2] for r in plugins.table_rows())


def test_a_broken_plugin_is_named_and_breaks_nothing_else(site, tmp_path, fake_embedder):
    make_distribution(
        site, "nectarine-test-broken",
        {plugins.ANSWERERS: {"broken": "nectarine_test_broken:Answerer"}, plugins.LOADERS: {".rst": "nectarine_test_broken:Loader"}},
        {"nectarine_test_broken": "import a_module_that_is_not_installed\n"},
    )
    plugins.refresh()
    with pytest.raises(PluginError) as caught:
        get_answerer("broken")
    message = str(caught.value)
    for part in ("'broken'", "nectarine.answerers", "broken = nectarine_test_broken:Answerer", "nectarine-test-broken 0.1",
                 "ModuleNotFoundError", "a_module_that_is_not_installed", "pip uninstall nectarine-test-broken"):
        assert part in message, part
    assert isinstance(get_answerer("offline"), OfflineAnswerer)  # the rest of the group still loads

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "guide.rst").write_text(RST)
    (corpus / "page.md").write_text("# Page\n\nSome text about exports.\n")
    report = ingest([corpus], tmp_path / "idx", embedder=fake_embedder)  # one file skipped, the run goes on
    assert report.documents == 1
    (skip,) = report.skipped
    assert skip.path.endswith("guide.rst") and "nectarine-test-broken" in skip.reason and "'.rst'" in skip.reason


# ---------------------------------------------------------------- the fake embedder


def test_fake_embedder_is_deterministic_unit_length_and_lexically_meaningful(fake_embedder):
    texts = ["How do I rotate the SAML certificate?", "Rotating the SAML signing certificate", "Export records to CSV", ""]
    a, b = fake_embedder.encode(texts), FakeEmbedder().encode(texts)
    assert a.shape == (4, 384) and a.dtype == np.float32 and np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert a[0] @ a[1] > 0.3 > abs(a[0] @ a[2])
    assert fake_embedder.encode([]).shape == (0, 384)
    assert fake_embedder.count_wordpieces(["a b, c", ""]) == [4, 0]
    assert "fake" in (FakeEmbedder.__doc__ or "").lower() and "not a language model" in sys.modules[FakeEmbedder.__module__].__doc__


def test_an_index_built_with_the_fake_loads_with_it_and_only_with_it(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus" / "docs"
    corpus.mkdir(parents=True)
    (corpus / "kiosk.md").write_text("# Kiosk mode\n\nKiosk mode locks a tablet to one form until an admin unlocks it.\n")
    (corpus / "export.md").write_text("# Export records\n\nOpen the list view and choose Export › CSV to download the records.\n")
    (corpus / "timeout.md").write_text("# Idle session timeout\n\nAn idle session ends after 60 minutes; admins can change it.\n")
    idx = tmp_path / "idx"
    first = ingest([corpus.parent], idx, embedder=fake_embedder)
    assert first.documents == 3 and first.embedded == first.chunks

    nec = Nectarine.load(idx, embedder=fake_embedder)
    assert nec.manifest.model["vector_space"] == "fake-hash-v1"
    for query, page in [("kiosk tablet", "docs/kiosk"), ("download records as CSV", "docs/export"), ("session timeout minutes", "docs/timeout")]:
        for mode in ("hybrid", "dense"):
            assert nec.search(query, k=1, mode=mode)[0].chunk.doc_id == page, (query, mode)
    assert isinstance(Nectarine.load(idx).embedder, FakeEmbedder)  # found by the name the manifest records
    assert ingest([corpus.parent], idx, model="fake").up_to_date  # and by ingest, incrementally

    minilm = SentenceTransformerEmbedder()  # reads the model's config only; no weights are loaded
    with pytest.raises(IndexLoadError, match="built with 'fake-hash-v1'"):
        Nectarine.load(idx, embedder=minilm)
    with pytest.raises(IndexLoadError, match="--rebuild"):
        ingest([corpus.parent], idx, embedder=minilm)
