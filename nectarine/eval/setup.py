"""Ready a dataset for evaluation: load it, check the split, and name its index folder.

What ``nectarine eval retrieval``, ``eval answers`` and ``eval all`` do before they score anything
(the CLI then builds or updates the index with ``nectarine.ingest``, with progress bars).

>>> default_index(load_split("eval/nectain", "test"))
PosixPath('indexes/nectain')
"""

from __future__ import annotations

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
