"""The fast tier's guard: the real embedding model refuses to run (tests/conftest.py, and conftest.py for the doctests)."""

from __future__ import annotations


def refuse_the_real_model(monkeypatch, message: str) -> None:
    """Make loading or running the packaged sentence-transformers model fail with ``message``."""
    from nectarine.index.embedder import SentenceTransformerEmbedder

    def refuse(*_a, **_k):
        raise AssertionError(message)

    for method in ("_load", "encode", "count_wordpieces"):
        monkeypatch.setattr(SentenceTransformerEmbedder, method, refuse)
