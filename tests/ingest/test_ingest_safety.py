"""Ingest stays inside its roots: links out, special files and loops are skipped and reported, never opened."""

import os
import socket
import threading

import pytest

from nectarine import ingest
from nectarine.ingest.loaders import SkipFile, discover, read_source

PAGE = "---\ntitle: {title}\n---\n\n## {title}\n\nThe {title} page explains how to use {title} in a Nectain workspace.\n"


def _page(path, title):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PAGE.format(title=title))
    return path


@pytest.fixture
def hostile_tree(tmp_path):
    """A corpus folder holding every kind of entry ingest must not follow or open, and one outside it."""
    outside = tmp_path / "outside"
    secret = _page(outside / "secret.md", "Secret")
    corpus = tmp_path / "corpus"
    _page(corpus / "docs" / "real.md", "Real")
    (corpus / "docs" / "link-out.md").symlink_to(secret)  # a file outside the folder
    (corpus / "docs" / "link-in.md").symlink_to(corpus / "docs" / "real.md")  # the same file again
    (corpus / "docs" / "dangling.md").symlink_to(corpus / "docs" / "missing.md")
    (corpus / "docs" / "loop-a.md").symlink_to(corpus / "docs" / "loop-b.md")
    (corpus / "docs" / "loop-b.md").symlink_to(corpus / "docs" / "loop-a.md")
    (corpus / "docs" / "folder-loop").symlink_to(corpus)  # a folder linked back to its ancestor
    (corpus / "docs" / "outside-folder").symlink_to(outside)
    os.mkfifo(corpus / "docs" / "pipe.md")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock_path = corpus / "docs" / "sock.md"
    if len(str(sock_path)) > 100:  # AF_UNIX paths are limited to ~107 bytes
        pytest.skip("tmp path too long for a Unix socket")
    sock.bind(str(sock_path))
    yield corpus
    sock.close()


def _reasons(skipped):
    return {s.path.rsplit("/", 1)[-1]: s.reason for s in skipped}


def _with_timeout(fn, seconds=30):
    """Run ``fn`` in a thread; a hang (opening a FIFO) fails the test instead of blocking the run."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "ingest hung (a FIFO was opened or a loop was followed)"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_discover_reports_everything_it_passes_over(hostile_tree):
    skipped = []
    found = _with_timeout(lambda: [p.name for p, _ in discover([hostile_tree], skipped)])
    assert found == ["real.md"]
    reasons = _reasons(skipped)
    assert "links outside the corpus folder to" in reasons["link-out.md"] and "secret.md" in reasons["link-out.md"]
    assert "copy the file in if it belongs to the docs" in reasons["link-out.md"]
    assert "links outside the corpus folder" in reasons["outside-folder"]
    assert "read once" in reasons["link-in.md"]
    assert "dangling" in reasons["dangling.md"]
    assert "loop" in reasons["loop-a.md"] and "loop" in reasons["loop-b.md"]
    assert "loop" in reasons["folder-loop"]
    assert "named pipe (FIFO)" in reasons["pipe.md"]
    assert "socket" in reasons["sock.md"]


def test_ingest_reads_only_the_corpus_and_reports_the_rest(hostile_tree, tmp_path, embedder):
    report = _with_timeout(lambda: ingest([hostile_tree], tmp_path / "idx", embedder=embedder))
    assert report.files == 1 and report.documents == 1
    reasons = _reasons(report.skipped)
    assert {"link-out.md", "outside-folder", "link-in.md", "dangling.md", "loop-a.md", "loop-b.md", "folder-loop",
            "pipe.md", "sock.md"} <= reasons.keys()
    from nectarine import Nectarine

    nec = Nectarine.load(tmp_path / "idx", embedder=embedder)
    assert all("Secret" not in r.chunk.text for r in nec.search("secret page", k=10))


def test_a_link_inside_the_corpus_is_read_when_its_target_is_not(tmp_path):
    corpus = tmp_path / "corpus"
    _page(corpus / ".drafts" / "draft.md", "Draft")  # hidden: not walked itself
    (corpus / "docs").mkdir()
    (corpus / "docs" / "published.md").symlink_to(corpus / ".drafts" / "draft.md")
    linked = corpus / "shared"
    linked.symlink_to(corpus / "docs")  # a folder link inside the corpus: its files are read once
    skipped = []
    found = [p.relative_to(corpus).as_posix() for p, _ in discover([corpus], skipped)]
    assert found == ["docs/published.md"]
    assert "already walked" in _reasons(skipped)["shared"]


def test_read_source_never_opens_a_fifo_and_checks_size_on_the_open_file(tmp_path):
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    with pytest.raises(SkipFile, match="FIFO"):
        _with_timeout(lambda: read_source(fifo), seconds=10)
    big = tmp_path / "big.md"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(SkipFile, match="over the"):
        read_source(big, max_bytes=1000)
    ok = _page(tmp_path / "ok.md", "Ok")
    assert read_source(ok).startswith(b"---")


def test_read_source_refuses_a_link_that_leaves_its_root(tmp_path):
    secret = _page(tmp_path / "outside" / "secret.md", "Secret")
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "swapped.md").symlink_to(secret)  # e.g. swapped in after discovery
    with pytest.raises(SkipFile, match="links outside the corpus folder"):
        read_source(root / "swapped.md", root=root)


def test_a_fifo_given_directly_is_reported_not_opened(tmp_path):
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    skipped = []
    assert _with_timeout(lambda: list(discover([fifo], skipped)), seconds=10) == []
    assert "FIFO" in skipped[0].reason
