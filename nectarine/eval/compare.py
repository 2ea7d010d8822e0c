"""Compare two evaluation results and flag regressions, so a docs or code change can be gated in CI.

>>> old, new = {"ndcg@10": 0.80, "latency_ms_p50": 20.0}, {"ndcg@10": 0.75, "latency_ms_p50": 35.0}  # read_metrics(path)
>>> [d.metric for d in compare(old, new, tolerance=0.01) if d.regression and d.gated]  # latency is not gated by default
['ndcg@10']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError

LOWER_IS_BETTER = ("latency", "ece", "false_confident", "clutter", "truncation", "answerable_declined")
NOT_GATED = ("latency", "queries", "questions")  # machine load moves latency; counts are not quality


@dataclass
class Delta:
    metric: str
    old: float
    new: float
    delta: float
    regression: bool
    gated: bool


def read_metrics(path: str | Path) -> dict:
    """The ``metrics`` of a result file written by ``nectarine eval ... --json``; a ``DatasetError`` if unreadable."""
    try:
        return json.loads(Path(path).read_text())["metrics"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"cannot read the results: {exc}; pass two --json files written by `nectarine eval ...`") from None


def compare(old: dict, new: dict, *, tolerance: float = 0.01, gate_latency: bool = False) -> list[Delta]:
    out = []
    for metric in sorted(set(old) & set(new)):
        a, b = old[metric], new[metric]
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool):
            continue
        lower = any(k in metric for k in LOWER_IS_BETTER)
        gated = gate_latency or not any(k in metric for k in NOT_GATED)
        worse = (b - a) if lower else (a - b)
        scale = max(abs(a), 1.0) if "latency" in metric else 1.0  # latency: relative; quality: absolute
        out.append(Delta(metric, float(a), float(b), float(b - a), gated and worse / scale > tolerance, gated))
    return out
