"""Priority classifier evaluation: accuracy, macro-F1, per-class precision/recall/F1, confusion matrix.

Used by ``nectarine eval priority``, ``nectarine eval all`` and ``scripts/train_priority.py``.

>>> from nectarine.handoff.priority import PriorityClassifier
>>> from nectarine.index.embedder import get_embedder
>>> _ = Path("tickets.jsonl").write_text('{"_id": "t-001", "text": "Nobody in the company can log in", "priority": "Highest"}\\n')
>>> classifier = PriorityClassifier.load(embedder=get_embedder("fake"))  # a hashing test embedder; by default MiniLM
>>> result = evaluate_priority("tickets.jsonl", classifier=classifier)  # or eval/tickets/test.jsonl
>>> result["metrics"]["accuracy"], result["items"][0]  # doctest: +ELLIPSIS
(1.0, {'id': 't-001', 'gold': 'Highest', 'predicted': 'Highest', 'rationale': 'Highest: everyone is affected, ...'})
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import DatasetError, NectarineError
from .metrics import classification_report


def load_priority_tickets(path: str | Path) -> list[dict]:
    """Tickets as JSONL (``{"_id", "text", "priority", "language"?}``); a malformed line is a
    ``DatasetError`` naming the file and line, an unknown priority an ``OptionError``."""
    from ..handoff.priority import load_tickets

    try:
        return load_tickets(Path(path))
    except NectarineError:
        raise
    except ValueError as exc:  # a bad line, or a file that is not UTF-8 text
        raise DatasetError(str(exc)) from None


def evaluate_priority(tickets: str | Path, *, classifier=None, progress: Callable[[int, int], None] | None = None) -> dict:
    """Classify every ticket of the file and score the verdicts against the gold priorities.

    Returns ``{"metrics": {accuracy, macro_f1, per_class, confusion_matrix, labels}, "items": [{id, gold,
    predicted, rationale}]}`` (the ``--json`` of ``nectarine eval priority``). ``classifier`` defaults to
    the packaged ``PriorityClassifier``; ``progress(done, total)`` is told before and after."""
    from ..handoff.priority import LABELS, PriorityClassifier

    rows = load_priority_tickets(tickets)
    classifier = classifier or PriorityClassifier.load()
    if progress:
        progress(0, len(rows))
    # One call for all tickets: the embedder batches them by length, and the same batching as in
    # training keeps the figures reproducible to the last ticket (a borderline one flipped otherwise).
    verdicts = classifier.classify_many([t["text"] for t in rows])
    if progress:
        progress(len(rows), len(rows))
    cr = classification_report([t["priority"] for t in rows], [v.priority for v in verdicts], labels=LABELS)
    return {"metrics": {"accuracy": cr["accuracy"], "macro_f1": cr["macro_f1"], "per_class": cr["per_class"],
                        "confusion_matrix": cr["confusion_matrix"], "labels": LABELS},
            "items": [{"id": t.get("_id"), "gold": t["priority"], "predicted": v.priority, "rationale": v.rationale}
                      for t, v in zip(rows, verdicts)]}
