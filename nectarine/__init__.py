"""Nectarine, Nectain's AI assistant: ingest -> index -> retrieve -> answer -> handoff.

>>> import nectarine
>>> report = nectarine.ingest(["corpus/"], "indexes/default", model="fake")  # "fake": a hashing test embedder; omit for MiniLM
>>> report.documents, report.added
(10, 19)
>>> nec = nectarine.Nectarine.load("indexes/default")      # with the embedder the index was built with
>>> nec.search("AUTH-1003", k=3)[0].url
'https://docs.example.test/admin/sso#rotate-the-certificate'
"""

__version__ = "0.1.0"

from .assistant import Nectarine  # noqa: E402
from .index.embedder import Embedder, get_embedder  # noqa: E402
from .index.store import IndexLoadError  # noqa: E402
from .ingest.chunker import ChunkerSettings  # noqa: E402
from .ingest.pipeline import IngestReport, NothingIngested, ingest  # noqa: E402
from .retrieve.hybrid import HybridRetriever, RetrieverSettings  # noqa: E402
from .types import Chunk, Document, Filters, Message, SearchResult, SourceType  # noqa: E402

__all__ = [
    "Chunk", "ChunkerSettings", "Document", "Embedder", "Filters", "HybridRetriever", "IndexLoadError",
    "IngestReport", "Message", "Nectarine", "NothingIngested", "RetrieverSettings", "SearchResult",
    "SourceType", "__version__", "get_embedder", "ingest",
]
