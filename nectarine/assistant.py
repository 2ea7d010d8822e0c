"""The in-process entry point: load an index once, then search (and, later, ask and hand off).

>>> from nectarine import Nectarine
>>> nec = Nectarine.load("indexes/default")                              # doctest: +SKIP
>>> for r in nec.search("I'm on 4.1, how long before an idle session ends?", k=3):  # doctest: +SKIP
...     print(r.rank, r.title, "›", r.heading_path[-1], r.url)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .index.embedder import Embedder, get_embedder
from .index.store import IndexLoadError, IndexReader
from .ingest.pipeline import vector_space
from .retrieve.hybrid import HybridRetriever, RetrieverSettings, SearchMode
from .types import Filters, Message, SearchResult, SourceType


class Nectarine:
    """Nectain's assistant over one index."""

    def __init__(self, reader: IndexReader, embedder: Embedder, settings: RetrieverSettings | None = None) -> None:
        self.reader = reader
        self.embedder = embedder
        self.retriever = HybridRetriever(reader, embedder, settings)

    @classmethod
    def load(
        cls,
        index_dir: str | Path,
        *,
        embedder: Embedder | None = None,
        backend: str | None = None,
        settings: RetrieverSettings | None = None,
    ) -> Nectarine:
        """Open the live generation of ``index_dir`` with the embedding model it was built with."""
        reader = IndexReader.open(Path(index_dir))
        built = reader.manifest.model
        if embedder is None:
            embedder = get_embedder(built["name"], backend or built.get("backend", "torch"))
        elif vector_space(embedder) != built.get("vector_space", built["name"]) or embedder.dimension != reader.manifest.dimension:
            raise IndexLoadError(
                f"index at {index_dir} was built with {built.get('vector_space', built['name'])!r} ({reader.manifest.dimension} "
                f"dimensions); the given embedder is {vector_space(embedder)!r} ({embedder.dimension}). Rebuild the index with "
                f"that model (nectarine ingest ... --index {index_dir} --model {embedder.name} --rebuild) "
                "or load it without an embedder"
            )
        return cls(reader, embedder, settings)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        filters: Filters | dict | None = None,
        history: Sequence[Message | dict] | None = None,
        mode: str | SearchMode = SearchMode.HYBRID,
        sources: Sequence[str | SourceType] | None = None,
        version: str | None = None,
    ) -> list[SearchResult]:
        """Ranked passages for ``query``.

        ``filters`` (or the ``sources``/``version`` shortcuts) restrict or demote results;
        ``history`` is the conversation so far, as ``{"role", "content"}`` messages.
        """
        if isinstance(filters, dict):
            filters = Filters.model_validate(filters)
        filters = filters or Filters()
        if sources is not None or version is not None:
            filters = filters.model_copy(update={
                **({"sources": [SourceType.from_str(s) for s in sources]} if sources is not None else {}),
                **({"version": version} if version is not None else {}),
            })
        return self.retriever.retrieve(query, k, filters=filters, history=history, mode=mode)

    @property
    def manifest(self):
        return self.reader.manifest
