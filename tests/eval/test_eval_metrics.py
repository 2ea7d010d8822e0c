"""Metrics against hand-computed values, edge cases included."""

import math

import numpy as np

import pytest

from nectarine.eval.metrics import auroc, calibration_bins, classification_report, ece, mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_hand_computed():
    # relevant at ranks 1 and 3 of 2 gold: (1 + 1/log2 4) / (1 + 1/log2 3)
    assert ndcg_at_k([1, 0, 1], [1, 1], 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    # graded: gain 1 at rank 1, gain 2 at rank 2; ideal puts the 2 first
    assert ndcg_at_k([1, 2], [2, 1], 10) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k([0, 0, 1], [1], 2) == 0.0  # beyond the cut-off
    assert ndcg_at_k([1, 0], [1], 10) == 1.0


def test_ndcg_no_relevant_documents():
    assert ndcg_at_k([0, 0], [], 10) == 0.0
    assert ndcg_at_k([], [1], 10) == 0.0


def test_recall_and_mrr():
    assert recall_at_k([0, 1, 0, 1], 3, 2) == pytest.approx(1 / 3)
    assert recall_at_k([0, 1, 0, 1], 3, 4) == pytest.approx(2 / 3)
    assert recall_at_k([1], 0, 5) == 0.0
    assert mrr_at_k([0, 0, 1], 10) == pytest.approx(1 / 3)
    assert mrr_at_k([0, 0, 1], 2) == 0.0


def test_auroc_hand_computed_with_ties():
    # positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5), (0.9>0.1), (0.5=0.5 tie), (0.5>0.1) = 3.5/4
    assert auroc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.875)
    assert auroc([0.1, 0.9], [1, 0]) == 0.0
    assert auroc([0.3, 0.3], [1, 0]) == 0.5


def test_auroc_single_class_is_undefined():
    assert math.isnan(auroc([0.2, 0.4], [1, 1]))


def test_ece_hand_computed():
    # bin (0.7, 0.8]: confidences 0.8, 0.8, accuracy 1/2 -> gap 0.3; bin (0.1, 0.2]: 0.2, correct 0 -> gap 0.2
    conf, correct = [0.8, 0.8, 0.2], [1, 0, 0]
    assert ece(conf, correct) == pytest.approx(2 / 3 * 0.3 + 1 / 3 * 0.2)
    bins = calibration_bins(conf, correct)
    assert [(b["count"], b["accuracy"]) for b in bins] == [(1, 0.0), (2, 0.5)]
    assert ece([1.0, 0.0], [1, 0]) == 0.0  # perfectly calibrated extremes
    assert ece([], []) == 0.0


def test_classification_report_hand_computed():
    gold = ["High", "High", "Low", "Low", "Normal"]
    pred = ["High", "Low", "Low", "Low", "High"]
    r = classification_report(gold, pred, labels=["High", "Normal", "Low"])
    assert r["accuracy"] == pytest.approx(3 / 5)
    assert r["per_class"]["High"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert r["per_class"]["Low"]["precision"] == pytest.approx(2 / 3) and r["per_class"]["Low"]["recall"] == 1.0
    assert r["per_class"]["Normal"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert r["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert r["confusion_matrix"] == [[1, 0, 1], [1, 0, 0], [0, 0, 2]]


def test_classification_single_class():
    r = classification_report(["Low", "Low"], ["Low", "Low"])
    assert r["accuracy"] == 1.0 and r["macro_f1"] == 1.0 and r["labels"] == ["Low"]


def test_group_gap_interval_widens_with_a_small_group():
    from nectarine.eval.metrics import group_gap

    rng = np.random.default_rng(1)
    follow = rng.uniform(0.4, 1.0, 130)
    few, many = rng.uniform(0.5, 1.0, 18), rng.uniform(0.5, 1.0, 400)
    gap, lo, hi = group_gap(few, follow)
    assert lo < gap < hi and gap == pytest.approx(few.mean() - follow.mean())
    _, lo2, hi2 = group_gap(many, follow)
    assert hi2 - lo2 < 0.7 * (hi - lo)  # 18 first turns: the interval is much wider than with 400
    assert all(np.isnan(group_gap([], follow)))
