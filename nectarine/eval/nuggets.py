"""Nugget evaluation: does an answer contain the facts a user needs, and nothing in their way?

The method of the TREC 2024 RAG track (AutoNuggetizer; Pradeep et al., arXiv 2411.09607): each
answerable question carries its **nuggets** (``metadata.nuggets``), the atomic facts a good answer
must contain, each ``vital`` or not (okay), and the steps of a procedure numbered (``step``). An
answer is judged by which nuggets it contains, not by how similar it is to one reference text.

Matching runs offline, on what a reader would check:

- **keys**: every number (normalised: ``1,200`` = ``1200``, ``five`` = ``5``), error code
  (``AUTH-1002``) and constant (``RATE_LIMITED``) of the nugget must appear in the answer near the
  match; version numbers only count towards the wording, since "from 4.1" answers "on 4.2";
- **wording**: the share of the nugget's content words (stemmed, weighted by IDF) found there;
- **meaning**: the cosine of the nugget's and the answer unit's MiniLM vectors.

A nugget is found when its keys are there and the wording covers it, or the meaning is close with
part of the wording. It is looked for in every unit of the answer (a sentence, a list item, a table)
and in every two adjacent units, since "Open Admin Console › Users:" and "1. Select Unlock account"
may together carry one step. The thresholds were fitted on hand-labelled (answer, nugget) pairs of
the ``dev`` questions; the agreement on the ``test`` questions' pairs is in eval/README.md.

>>> m = NuggetMatcher(embedder=None)
>>> m.found("The lock lasts 15 minutes [1]. An admin can unlock you sooner [2].", "The lockout lasts 15 minutes by default")
True
>>> m.found("The lock lasts a while [1].", "The lockout lasts 15 minutes by default")
False
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..answer.verify import claims_of
from ..index.lexical import lexical_tokens

_WORD_NUMBERS = {"two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
                 "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15", "twenty": "20", "thirty": "30", "sixty": "60",
                 "hundred": "100", "once": "1", "twice": "2"}
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)*(?![\w])|(?<![\w.])\d+(?:\.\d+)*")
_CODE = re.compile(r"\b[A-Z][A-Z0-9]*-\d+\b|\b[A-Z]{2,}(?:_[A-Z0-9]+)+\b")
_MARKERS = re.compile(r"\s*\[\d{1,3}\]")


@dataclass(frozen=True)
class Nugget:
    text: str
    vital: bool = True
    step: int | None = None

    @classmethod
    def parse(cls, raw: dict) -> Nugget:
        return cls(str(raw["text"]), bool(raw.get("vital", True)), raw.get("step"))


def nuggets_of(metadata: dict) -> list[Nugget]:
    return [Nugget.parse(n) for n in metadata.get("nuggets") or []]


_ASIDE = re.compile(r"\([^()]*\)|\bNEC-\d+\b")


def load_nuggets(path, *, required: bool = False) -> dict[str, list[dict]] | None:
    """Nuggets kept beside a dataset that is not ours (``{"_id", "nuggets"}`` per line), by query id."""
    import json
    from pathlib import Path

    from ..errors import DatasetError

    path = Path(path)
    if not path.exists():
        if required:
            raise DatasetError(f"nugget file {path} does not exist; give a JSONL file of {{\"_id\", \"nuggets\"}} records")
        return None
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rec = json.loads(line)
                out[str(rec["_id"])] = list(rec["nuggets"])
            except (ValueError, KeyError, TypeError) as exc:
                raise DatasetError(f"{path}:{n}: not a nugget record ({exc}); expected {{\"_id\": ..., \"nuggets\": [...]}}") from None
    return out


def keys(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The hard keys of a text (numbers that are not versions, codes) and its version numbers.

    What a nugget says in parentheses ("(NEC-16025)", "(12 hours)") and issue-tracker ids are asides
    a reader does not miss, so they are not keys.
    """
    text = _ASIDE.sub(" ", text)
    hard, versions = set(), set()
    for m in _NUMBER.finditer(text):
        n = m.group(0).replace(",", "")
        (versions if _is_version(text, m) else hard).add(n)
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in _WORD_NUMBERS:
            hard.add(_WORD_NUMBERS[w])
    hard |= {c.upper() for c in _CODE.findall(text)}
    return frozenset(hard), frozenset(versions)


def _is_version(text: str, m: re.Match) -> bool:
    """``4.2`` is a version unless a unit follows it (``1.5 MB``, ``2.5 seconds``)."""
    n = m.group(0)
    if not re.match(r"^\d+\.\d+(\.\d+)?$", n):
        return False
    after = text[m.end(): m.end() + 12].lower()
    return not re.match(r"\s*(%|mb|gb|kb|tb|s\b|sec|second|minute|hour|day|x\b|times)", after)


@dataclass
class UnitMatch:
    found: bool
    unit: int  # index of the first answer unit of the best match (-1 when none)
    span: int  # 1 or 2 units
    coverage: float
    cosine: float


@dataclass
class NuggetMatcher:
    """Finds nuggets in answers (see the module docstring); ``embedder`` None uses wording and keys only."""

    embedder: object | None = None
    idf: Callable[[Sequence[str]], dict[str, float]] | None = None
    # Fitted on the 120 hand-labelled pairs of dev questions (grid search for Cohen's kappa):
    coverage: float = 0.6  # wording alone: this share of the nugget's weighted content words
    cosine: float = 0.65  # or meaning this close ...
    blended_coverage: float = 0.5  # ... with at least this share of the wording
    _vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def units(self, answer: str) -> list[str]:
        """The answer's units (sentences, list items, tables), without citation markers."""
        return [_MARKERS.sub("", c.text).strip() for c in claims_of(answer)]

    def _embed(self, texts: Sequence[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new and self.embedder is not None:
            for t, v in zip(new, self.embedder.encode(new)):
                self._vectors[t] = np.asarray(v, dtype=np.float32)

    def _weights(self, tokens: Sequence[str]) -> dict[str, float]:
        if not tokens:
            return {}
        if self.idf is None:
            return {t: 1.0 for t in tokens}
        w = self.idf(sorted(set(tokens)))
        return {t: max(0.1, w.get(t, 1.0)) for t in tokens}

    def match(self, units: Sequence[str], nugget: str) -> UnitMatch:
        """The best place for ``nugget`` among ``units`` (single units and adjacent pairs)."""
        if not units:
            return UnitMatch(False, -1, 0, 0.0, 0.0)
        hard, _ = keys(nugget)
        toks = [t for t in dict.fromkeys(lexical_tokens(nugget))]
        weights = self._weights(toks)
        total = sum(weights.values()) or 1.0
        windows = [(i, 1, units[i]) for i in range(len(units))] + [(i, 2, units[i] + " " + units[i + 1]) for i in range(len(units) - 1)]
        if self.embedder is not None:
            self._embed([nugget, *(w[2] for w in windows)])
        nv = self._vectors.get(nugget)
        best = UnitMatch(False, -1, 0, 0.0, 0.0)
        best_key = (-1, -1.0)
        for i, span, text in windows:
            text_hard, _ = keys(text)
            hard_ok = hard <= text_hard
            present = set(lexical_tokens(text))
            cov = sum(w for t, w in weights.items() if t in present) / total if toks else 0.0
            cos = float(nv @ self._vectors[text]) if nv is not None and text in self._vectors else 0.0
            found = hard_ok and (cov >= self.coverage or (cos >= self.cosine and cov >= self.blended_coverage))
            key = (int(found) * 2 - (span - 1) * int(found), cov + cos)  # a found single unit beats a found pair
            if key > best_key:
                best_key, best = key, UnitMatch(found, i, span, round(cov, 4), round(cos, 4))
        return best

    def found(self, answer: str, nugget: str) -> bool:
        return self.match(self.units(answer), nugget).found


# --------------------------------------------------------------------------- what a user feels

def truncation_defects(answer: str) -> list[str]:
    """What makes an answer look cut: a lead-in with nothing after it, a broken numbered list, a table
    row without its header, a sentence fragment, or the same marker twice in a row."""
    defects: list[str] = []
    if re.search(r"(\[\d{1,3}\])\s*\1", answer):
        defects.append("duplicate marker")
    blocks = [b for b in re.split(r"\n\s*\n", answer.strip()) if b.strip()]
    for j, block in enumerate(blocks):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        bare = _MARKERS.sub("", lines[-1]).strip()
        if bare.endswith(":") and (j == len(blocks) - 1 or not re.match(r"\s{0,3}([-*+]|\d{1,3}[.)]|\||```)", blocks[j + 1])):
            defects.append("lead-in without what it introduces")
        table = [ln for ln in lines if ln.lstrip().startswith("|")]
        if table and not any(re.match(r"\s*\|?\s*:?-{3,}", ln) for ln in table):
            defects.append("table row without its header")
        numbers = [int(m.group(1)) for ln in lines if (m := re.match(r"\s{0,3}(\d{1,3})[.)]\s", ln))]
        if numbers and numbers != list(range(1, len(numbers) + 1)):
            defects.append("broken numbered list")
    for c in claims_of(answer):
        text = _MARKERS.sub("", c.text).strip()
        if c.kind == "prose" and text and (text[0].islower() or re.search(r"(,|;|\band|\bor|\bthe)$", text)):
            defects.append("sentence fragment")
            break
    return list(dict.fromkeys(defects))


@dataclass
class NuggetScore:
    vital: int
    vital_found: int
    total: int
    found: int
    steps: int
    steps_found: int
    units: int  # cited units of the answer
    clutter: int  # cited units that carry no nugget and introduce nothing that does
    truncation: list[str]
    missing: list[str]  # nugget texts not found (vital first)

    @property
    def full(self) -> bool:
        return self.vital_found == self.vital


def score_answer(matcher: NuggetMatcher, answer: str, nuggets: Sequence[Nugget]) -> NuggetScore:
    """Which nuggets the answer holds, and which of its units carry none (clutter)."""
    claims = claims_of(answer)
    units = [_MARKERS.sub("", c.text).strip() for c in claims]
    cited = [bool(c.cited) for c in claims]
    carrying = [False] * len(units)
    found = []
    for n in nuggets:
        m = matcher.match(units, n.text)
        found.append(m.found)
        if m.found:
            for i in range(m.unit, m.unit + m.span):
                carrying[i] = True
    # needed context: a lead-in whose list or block carries a nugget
    for i, u in enumerate(units):
        if u.endswith(":") and i + 1 < len(units) and carrying[i + 1]:
            carrying[i] = True
    clutter = sum(1 for i in range(len(units)) if cited[i] and not carrying[i])
    vital = [n for n in nuggets if n.vital]
    steps = [(n, f) for n, f in zip(nuggets, found) if n.step is not None]
    missing = [n.text for n, f in sorted(zip(nuggets, found), key=lambda t: not t[0].vital) if not f]
    return NuggetScore(
        vital=len(vital), vital_found=sum(f for n, f in zip(nuggets, found) if n.vital), total=len(nuggets), found=sum(found),
        steps=len(steps), steps_found=sum(f for _, f in steps), units=sum(cited), clutter=clutter,
        truncation=truncation_defects(answer) if answer.strip() else [], missing=missing)


def summarise(scores: Sequence[NuggetScore]) -> dict[str, float]:
    """The figures of a group of answered questions (macro averages over questions; clutter over units)."""
    if not scores:
        return {}
    with_steps = [s for s in scores if s.steps]
    units = sum(s.units for s in scores)
    return {
        "vital_nugget_recall": float(np.mean([s.vital_found / s.vital for s in scores if s.vital])),
        "nugget_recall": float(np.mean([s.found / s.total for s in scores if s.total])),
        "full_answers": float(np.mean([s.full for s in scores])),
        "clutter": sum(s.clutter for s in scores) / units if units else 0.0,
        "truncation": float(np.mean([bool(s.truncation) for s in scores])),
        "questions": len(scores),
    } | ({"step_completeness": float(np.mean([s.steps_found / s.steps for s in with_steps]))} if with_steps else {})


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Agreement beyond chance between two binary labellings."""
    n = len(a)
    if not n:
        return math.nan
    po = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0
