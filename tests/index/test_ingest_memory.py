"""An ingest's memory does not grow with the corpus by whole chunks (issue 16: 1,000,000 BEIR passages under 4 GB).

What may grow with the corpus: the vectors (1.5 KiB a chunk), ids, and the BM25 postings. What must
not: the chunks themselves (they go to disk, nectarine.ingest.spool), a Python list of every passage's
tokens for bm25s, or a second copy of every vector inside FAISS. The pieces that replace those are
checked here against what they replace, and a whole ingest in a child process against a memory bound.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nectarine.index.lexical import LexicalIndex, lexical_tokens
from nectarine.index.store import DenseSettings, build_dense, write_flat_index


@pytest.mark.parametrize("n", [0, 1, 257])
def test_flat_index_is_written_byte_for_byte_as_faiss_writes_it(tmp_path, n):
    import faiss

    vectors = np.random.default_rng(n).standard_normal((n, 384)).astype(np.float32)
    write_flat_index(tmp_path / "dense.faiss", vectors)
    expected = faiss.serialize_index(build_dense(vectors, DenseSettings())).tobytes()
    assert (tmp_path / "dense.faiss").read_bytes() == expected
    index = faiss.read_index(str(tmp_path / "dense.faiss"))
    assert index.ntotal == n
    if n:
        assert index.search(vectors[:3], 1)[1][:, 0].tolist() == [0, 1, 2] or n < 3


def test_lexical_builder_scores_exactly_as_bm25s_does():
    import bm25s

    rng = random.Random(3)
    words = "reset password login sso saml certificate rotate AUTH-1003 4.3.1 user admin console the of and billing".split()
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 40))) for _ in range(2500)] + ["", "the of", "x"]
    reference = bm25s.BM25(method="lucene")
    reference.index([lexical_tokens(t) or [""] for t in texts], show_progress=False)
    ours = LexicalIndex.build(iter(texts))  # any iterable: tokenised one passage at a time
    theirs = LexicalIndex(reference)
    assert sorted(ours.vocab) == sorted(theirs.vocab)
    for query in ["reset password", "AUTH-1003 after 4.3.1", "billing admin console", "sso", "nothing"]:
        assert ours.scores(query).tolist() == theirs.scores(query).tolist(), query
    assert ours.idf(["reset", "auth", "unknown"]) == theirs.idf(["reset", "auth", "unknown"])


CHILD = textwrap.dedent(r"""
    import json, random, resource, sys
    from pathlib import Path
    import numpy as np
    from nectarine.index.fake import FakeEmbedder
    from nectarine.ingest.pipeline import ingest

    class QuickEmbedder(FakeEmbedder):
        # Random unit vectors: the hashing fake embeds ~1,500 chunks/s, too slow for 20,000 here; the
        # vectors' memory (what this test is about) is the same.
        name, vector_space = "quick", "quick-random"

        def encode(self, texts, *, batch_size=32, show_progress=False):
            v = np.random.default_rng(len(texts)).standard_normal((len(texts), self.dimension)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    def corpus(path, n):
        rng = random.Random(5)
        words = [f"w{i}" for i in range(20_000)] + "account admin billing invoice login password portal quota".split() * 500
        with path.open("w") as f:  # one chunk a passage (200 tokens at most)
            for i in range(n):
                f.write(json.dumps({"_id": f"d{i}", "title": f"Page {i}", "text": " ".join(rng.choices(words, k=rng.randint(30, 60)))}) + "\n")

    def rss():
        return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()

    tmp, n = Path(sys.argv[1]), int(sys.argv[2])
    (tmp / "warm").mkdir(); (tmp / "big").mkdir()
    corpus(tmp / "warm" / "corpus.jsonl", 200)
    corpus(tmp / "big" / "corpus.jsonl", n)
    ingest([tmp / "warm"], tmp / "idx-warm", embedder=QuickEmbedder())  # every import and cache, once
    base = rss()
    report = ingest([tmp / "big"], tmp / "idx", embedder=QuickEmbedder())
    # VmHWM, this process's own high-water mark: ru_maxrss would also count the parent's RSS at the
    # fork (Linux keeps the pre-exec maximum), which is pytest's, hundreds of MB by now.
    peak = next(int(ln.split()[1]) * 1024 for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmHWM:"))
    print(json.dumps({"documents": report.documents, "chunks": report.chunks, "base": base, "peak": peak}))
""")


@pytest.mark.slow
def test_a_15000_passage_ingest_grows_by_a_few_kib_per_passage(tmp_path):
    """Measured (2 busy cores, Python 3.11, numpy 2.4): 4.3 KiB of peak RSS per passage above the
    warmed-up process (the vectors are 1.5 KiB of it); with every chunk held in lists and bm25s given
    every passage's tokens, as before, it was 9.3 KiB here (and 11 KiB at 100,000 passages). 7 KiB
    leaves room for allocator noise and still fails if chunks pile up in memory again. ~20 s."""
    n = 15_000
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), str(n)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["documents"] == n
    per_passage = (result["peak"] - result["base"]) / n
    assert per_passage < 7 * 1024, f"{per_passage / 1024:.1f} KiB per passage ({result})"
    assert not list((tmp_path / "idx").glob(".spool-*"))  # the spool is removed once the generation is published
