"""Ready a dataset for evaluation: load it, check the split, build or update its index.

What ``nectarine eval retrieval``, ``eval answers`` and ``eval all`` do before they score anything.

>>> dataset = load_split("eval/nectain", "test")                 # doctest: +SKIP
>>> index, report = build_index(dataset)                         # doctest: +SKIP
>>> index                                                        # doctest: +SKIP
PosixPath('indexes/nectain')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .datasets import Dataset, load_dataset


def load_split(dataset_dir: str | Path, split: str) -> Dataset:
    """The dataset at ``dataset_dir``; a ``DatasetError`` if it does not follow the layout or has no ``split``."""
    dataset = load_dataset(dataset_dir)
    dataset.queries_for(split)
    return dataset


def default_index(dataset: Dataset) -> Path:
    """Where a dataset's index lives unless told otherwise: ``indexes/<dataset name>``."""
    return Path("indexes") / dataset.name


def build_index(dataset: Dataset, index: str | Path | None = None, *,
                progress: Callable[[str, int, int], None] | None = None):
    """Build or incrementally update the index of the dataset's corpus (``default_index`` unless given).

    Returns ``(index folder, IngestReport)``; ``progress(stage, done, total)`` as for ``ingest``."""
    from ..ingest.pipeline import ingest

    index = Path(index) if index else default_index(dataset)
    return index, ingest(dataset.corpus_paths, index, progress=progress)
