"""Nugget evaluation: the data, the matcher (against the hand labels) and the figures a user feels."""

import json
from pathlib import Path

import pytest

from nectarine.eval.datasets import load_dataset
from nectarine.eval.nuggets import (NuggetMatcher, Nugget, cohen_kappa, keys, load_nuggets, nuggets_of, score_answer, summarise,
                                    truncation_defects)
from nectarine.errors import DatasetError

LABELS = Path("eval/nuggets/matcher-labels.jsonl")


def test_every_answerable_question_has_vital_nuggets_and_test_has_150():
    ds = load_dataset("eval/nectain")
    answerable = [q for q in ds.queries.values() if q.answerable]
    assert all(any(n.vital for n in nuggets_of(q.metadata)) for q in answerable)
    assert sum(1 for q in ds.queries_for("test") if q.answerable and nuggets_of(q.metadata)) >= 150
    steps = [n for q in answerable for n in nuggets_of(q.metadata) if n.step is not None]
    assert len(steps) > 100  # procedures are written as their steps


def test_keys_normalise_numbers_and_codes_and_keep_versions_apart():
    hard, versions = keys("Up to 4.2 the limit is 1,200 requests; five tries; AUTH-1002 and RATE_LIMITED (NEC-15393); 1.5 MB")
    assert {"1200", "5", "AUTH-1002", "RATE_LIMITED", "1.5"} <= hard and "NEC-15393" not in hard
    assert versions == {"4.2"}


def test_matcher_needs_the_number_not_just_the_topic():
    m = NuggetMatcher(embedder=None)
    nugget = "The lockout lasts 15 minutes by default"
    assert m.found("By default the lock lasts 15 minutes [1].", nugget)
    assert not m.found("By default the lock lasts a while [1].", nugget)
    assert not m.found("By default the lock lasts 30 minutes [1].", nugget)


@pytest.mark.parametrize("answer,defect", [
    ("To unlock a user:", "lead-in without what it introduces"),
    ("3. Click **Save**. [1]\n4. Test it. [1]", "broken numbered list"),
    ("| Payload size | 256 KB |\n[1]", "table row without its header"),
    ("The limit is 600 [1] [1].", "duplicate marker"),
    ("and then the settings page opens [1].", "sentence fragment"),
])
def test_truncation_defects(answer, defect):
    assert defect in truncation_defects(answer)


def test_a_whole_answer_has_no_defects():
    assert truncation_defects("To unlock a user:\n\n1. Open **Users**. [1]\n2. Click **Unlock**. [1]") == []


def test_score_answer_counts_vital_steps_and_clutter():
    nuggets = [Nugget("Open Admin Console › Users", True, 1), Nugget("Click Unlock account", True, 2),
               Nugget("The lock lifts by itself after 15 minutes", False)]
    answer = ("Nectain was founded to make approvals easy [2].\n\n"
              "1. Open **Admin Console › Users**. [1]\n2. Select the user and click **Unlock account**. [1]")
    s = score_answer(NuggetMatcher(embedder=None), answer, nuggets)
    assert (s.vital, s.vital_found, s.steps, s.steps_found, s.full) == (2, 2, 2, 2, True)
    assert (s.units, s.clutter) == (3, 1)  # the founding story carries nothing
    assert s.missing == ["The lock lifts by itself after 15 minutes"]
    figures = summarise([s])
    assert figures["vital_nugget_recall"] == 1.0 and figures["clutter"] == pytest.approx(1 / 3) and figures["step_completeness"] == 1.0


def test_cohen_kappa_hand_computed():
    assert cohen_kappa([True, True, False, False], [True, True, False, False]) == 1.0
    assert cohen_kappa([True, False, True, False], [True, True, False, False]) == pytest.approx(0.0)


def test_side_nugget_files_load_and_bad_ones_say_where(tmp_path):
    good = tmp_path / "n.jsonl"
    good.write_text('{"_id": "a<::>1", "nuggets": [{"text": "x", "vital": true}]}\n')
    assert load_nuggets(good) == {"a<::>1": [{"text": "x", "vital": True}]}
    assert load_nuggets(tmp_path / "missing.jsonl") is None
    with pytest.raises(DatasetError, match="does not exist"):
        load_nuggets(tmp_path / "missing.jsonl", required=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(DatasetError, match=r"bad.jsonl:1"):
        load_nuggets(bad)


def test_matcher_agrees_with_the_hand_labels_on_test_questions(embedder, kb_index):
    """The thresholds were fitted on the dev questions' pairs; on the test questions' 120 pairs the matcher must agree."""
    from nectarine import Nectarine

    nec = Nectarine.load(kb_index, embedder=embedder)
    rows = [json.loads(line) for line in LABELS.read_text().splitlines()]
    assert len(rows) >= 200 and all(isinstance(r["label"], bool) for r in rows)
    test = [r for r in rows if r["split"] == "test"]
    m = NuggetMatcher(embedder=embedder, idf=nec.reader.lexical.idf)
    predicted = [m.found(r["answer"], r["nugget"]) for r in test]
    gold = [r["label"] for r in test]
    accuracy = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
    assert accuracy >= 0.85 and cohen_kappa(predicted, gold) >= 0.65, (accuracy, cohen_kappa(predicted, gold))


def test_html_report_shows_nugget_figures_and_the_worst_answers_beside_their_missing_nuggets():
    from nectarine.eval.report import nuggets_section

    item = {"id": "q-1", "text": "how do I unlock <b>a user</b>?", "answer": "Nectain was founded in 2019 [1].",
            "nuggets": {"vital": 2, "vital_found": 0, "missing": ["Open Admin Console › Users", "Click Unlock account"],
                        "truncation": []}}
    result = {"items": [item], "by_kind": {"how-to": {"vital_nugget_recall": 0.0, "nugget_recall": 0.0, "full_answers": 0.0,
                                                       "clutter": 1.0, "truncation": 0.0, "questions": 1}}}
    html = nuggets_section(result)
    assert "Worst answers, beside the nuggets they miss" in html and "Click Unlock account" in html and "0/2" in html
    assert "<b>a user</b>" not in html and "&lt;b&gt;" in html  # the question is shown as text
    assert "data:image/png;base64," in html  # the per-kind plot
    assert nuggets_section({"items": [{"id": "x"}]}) == ""
