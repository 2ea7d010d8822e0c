"""The doctests: every example in the docstrings of ``nectarine/`` runs (``--doctest-modules``, pyproject.toml).

Each example runs in a fresh temporary working folder that holds ``corpus/``, a copy of the fixture
knowledge base (``tests/fixtures/kb``), and ``eval``, a link to the project's evaluation data (read
only), so the examples can use paths as a user would ("corpus/", "indexes/default",
"sqlite:///data/nectarine.db", "eval/nectain") and nothing is written into the checkout. Besides the
module's own globals, an example can use (``doctest_namespace``):

* ``nec``: the assistant over that knowledge base, ingested once per session with the deterministic
  hashing fake (``get_embedder("fake")``, :mod:`nectarine.index.fake`);
* ``fixtures``: the ``tests/fixtures`` folder (small datasets, such as ``beir-tiny``).

Doctests belong to the fast tier: none may load the real embedding model (a doctest that tries fails,
saying so), so what an example shows about answers and rankings is what the fake gives; keep such
outputs to what does not depend on the model (a boolean, a length, ``# doctest: +ELLIPSIS``).

The fixtures of ``tests/`` live in ``tests/conftest.py``; this file only serves ``nectarine/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# Imported before pytest imports any module of the package for its doctests: importlib mode imports a
# module it has not seen by its path, and a subpackage loaded that way before its parent would be loaded
# twice, rebinding names such as ``nectarine.ingest`` (the function) to the subpackage.
import nectarine  # noqa: F401
from support.paths import FIXTURES, KB, REPO  # tests/ is on sys.path (pyproject.toml: pythonpath)
from support.guards import refuse_the_real_model

PACKAGE = REPO / "nectarine"

# Alembic's environment script runs migrations when imported: not a module to collect doctests from.
collect_ignore = ["nectarine/store/migrations"]


@pytest.fixture(scope="session")
def _doctest_names(tmp_path_factory) -> dict:
    """What the examples may use besides their module's globals (built on first use, once per session)."""
    from nectarine import Nectarine, ingest
    from nectarine.index.embedder import get_embedder

    fake = get_embedder("fake")
    index = tmp_path_factory.mktemp("doctest-kb") / "index"
    report = ingest([KB], index, embedder=fake)
    assert not report.skipped, report.skipped
    return {"nec": Nectarine.load(index, embedder=fake), "fixtures": FIXTURES}


@pytest.fixture(autouse=True)
def _doctest_setup(request, monkeypatch):
    """For a doctest of ``nectarine/``: the names above, a fresh working folder, and no real model."""
    if PACKAGE not in Path(request.node.path).parents:
        yield  # a test under tests/: tests/conftest.py provides its fixtures
        return
    refuse_the_real_model(monkeypatch, f"the doctest {request.node.name} runs the real embedding model: doctests are in "
                                       "the fast tier; use the fake (get_embedder('fake'), or `nec`, see conftest.py)")
    request.getfixturevalue("doctest_namespace").update(request.getfixturevalue("_doctest_names"))
    work = request.getfixturevalue("tmp_path")
    shutil.copytree(KB, work / "corpus")
    (work / "eval").symlink_to(REPO / "eval", target_is_directory=True)
    monkeypatch.chdir(work)
    yield
