"""The packaged model, its integrity check, and the four backends against each other."""

import shutil

import numpy as np
import pytest

from nectarine.index.embedder import EmbedderError, SentenceTransformerEmbedder, get_embedder, resolve_model, verify_weights
from nectarine.types import OptionError

TEXTS = [
    "How do I reset my password?",
    "AUTH-1003 SSO assertion could not be validated after rotating the IdP certificate",
    "Dashboards refresh every 15 minutes by default; Enterprise can go down to 5 minutes.",
]


@pytest.fixture(scope="module")
def vectors():
    return {b: get_embedder(backend=b).encode(TEXTS) for b in ("torch", "onnx", "onnx-int8", "openvino")}


def test_vectors_are_unit_length_and_384d(vectors):
    for v in vectors.values():
        assert v.shape == (3, 384) and v.dtype == np.float32
        assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_onnx_fp32_matches_torch(vectors):
    assert np.abs(vectors["onnx"] - vectors["torch"]).max() < 1e-4


def test_openvino_matches_torch_to_bfloat16_precision(vectors):
    # bfloat16 where the CPU has it (this machine's Xeon has AMX), fp32 elsewhere: either way the torch vector space
    cos = (vectors["openvino"] * vectors["torch"]).sum(1)
    assert cos.min() > 0.9995
    assert get_embedder(backend="openvino").vector_space == get_embedder(backend="torch").vector_space


def test_openvino_is_safe_to_call_from_several_threads(vectors):
    from concurrent.futures import ThreadPoolExecutor

    embedder = get_embedder(backend="openvino")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: embedder.encode([TEXTS[i % 3]])[0], range(24)))
    for i, v in enumerate(results):
        assert np.allclose(v, vectors["openvino"][i % 3], atol=1e-5)


def test_int8_is_close_but_not_identical(vectors):
    cos = (vectors["onnx-int8"] * vectors["torch"]).sum(1)
    assert cos.min() > 0.85 and not np.allclose(vectors["onnx-int8"], vectors["torch"], atol=1e-4)


def test_similar_texts_are_closer_than_unrelated(vectors):
    v = vectors["torch"]
    q = get_embedder(backend="torch").encode(["forgot my password, how to change it"])[0]
    assert q @ v[0] > q @ v[1] and q @ v[0] > q @ v[2]


def test_int8_is_its_own_vector_space():
    assert get_embedder(backend="onnx-int8").vector_space.endswith("+int8")
    assert get_embedder(backend="onnx").vector_space == get_embedder(backend="torch").vector_space


def test_tampered_weights_are_refused(tmp_path):
    path, sha = resolve_model("all-MiniLM-L6-v2")
    verify_weights(__import__("pathlib").Path(path), sha)  # the real package passes
    copy = tmp_path / "model"
    shutil.copytree(path, copy)
    with (copy / "model.safetensors").open("r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(EmbedderError, match="does not match the published"):
        verify_weights(copy, sha)


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(OptionError, match="torch, onnx, onnx-int8, openvino"):
        SentenceTransformerEmbedder(backend="tensorrt")


def test_wordpiece_counts(embedder):
    assert embedder.count_wordpieces(["hello world", ""]) == [2, 0]
