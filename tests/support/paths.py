"""Paths the tests read: the repository, its fixture corpora, and the project's own data."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
KB = FIXTURES / "kb"  # the small fixture knowledge base most tests (and the doctests) index
