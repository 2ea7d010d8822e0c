"""Shared fixtures: the real packaged model, loaded once, and a small real index built once."""

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
