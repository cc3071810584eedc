"""The SQuAD metric against values computed by hand."""

import pytest

from bertkit.qa.metric import exact_match_score, f1_score, normalize_answer, squad_v1, squad_v2


def test_normalize_answer():
    assert normalize_answer("The  Cat's, hat!") == "cats hat"
    assert normalize_answer("  An apple\tand a PEAR. ") == "apple and pear"
    assert normalize_answer("theory") == "theory"  # articles only as whole words


def test_exact_and_f1():
    assert exact_match_score("the Denver Broncos!", "Denver Broncos") == 1
    # pred {cat, sat}, gold {cat, sat, on, mat}: precision 1, recall 1/2 -> F1 2/3
    assert f1_score("the cat sat", "a cat sat on the mat") == pytest.approx(2 / 3)
    # a repeated token matches once per occurrence in the reference: P = 1/2, R = 1
    assert f1_score("dog dog", "dog") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert f1_score("", "") == 1.0 and f1_score("", "x") == 0.0  # the v2.0 rule for empty answers


def test_squad_v1_best_over_references():
    references = {"q1": ["Denver Broncos", "The Denver Broncos"], "q2": ["1990"], "q3": ["blue"]}
    predictions = {"q1": "denver broncos", "q2": "in 1990 year"}  # q3 unanswered: scores 0
    # q1: EM 1, F1 1; q2: EM 0, F1 = 2 * (1/3 * 1) / (1/3 + 1) = 0.5; q3: 0
    result = squad_v1(references, predictions)
    assert set(result) == {"exact_match", "f1"}
    assert result["exact_match"] == pytest.approx(100 / 3)
    assert result["f1"] == pytest.approx(100 * 1.5 / 3)


REFS = {"q1": ["Paris"], "q2": [], "q3": [], "q4": ["blue sky"]}
PREDS = {"q1": "Paris", "q2": "", "q3": "London", "q4": ""}
NA = {"q1": 0.1, "q2": 0.9, "q3": 0.2, "q4": 0.8}


def test_squad_v2_keys_and_values():
    result = squad_v2(REFS, PREDS, NA)
    # q1 right, q2 right (no answer), q3 wrong (answered an unanswerable one), q4 wrong (missed)
    assert result["exact"] == pytest.approx(50.0) and result["f1"] == pytest.approx(50.0) and result["total"] == 4
    assert result["HasAns_exact"] == pytest.approx(50.0) and result["HasAns_total"] == 2
    assert result["NoAns_exact"] == pytest.approx(50.0) and result["NoAns_total"] == 2
    # thresholds: start at 2 (every no-answer right if we abstain everywhere), sweep by na_prob:
    # q1 (0.1) +1 -> 3 (best, thresh 0.1); q3 (0.2) -1 -> 2; q4 (0.8) +0; q2 (0.9) +0
    assert result["best_exact"] == pytest.approx(75.0) and result["best_exact_thresh"] == pytest.approx(0.1)
    assert result["best_f1"] == pytest.approx(75.0) and result["best_f1_thresh"] == pytest.approx(0.1)
    assert set(result) == {
        "exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1", "NoAns_total",
        "best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh",
    }


def test_squad_v2_threshold_turns_answers_into_abstentions():
    # na_prob > 0.15 counts as "no answer": q3 (0.2) becomes right; q4 (0.8) stays wrong
    assert squad_v2(REFS, PREDS, NA, na_prob_thresh=0.15)["exact"] == pytest.approx(75.0)
    partial = squad_v2({"q": ["the blue sky"]}, {"q": "a blue sea"})
    # pred {blue, sea}, gold {blue, sky}: P = R = 1/2
    assert partial["f1"] == pytest.approx(50.0) and partial["exact"] == 0.0
    assert "best_f1" not in partial and "NoAns_total" not in partial
