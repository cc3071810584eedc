import pytest

from bertkit.classification.metrics import classification_report, confusion_matrix


def test_report_matches_hand_computed_values():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    r = classification_report(y_true, y_pred, ["a", "b", "c"])
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    a, b, c = (r["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"]) == (1.0, pytest.approx(2 / 3))
    assert (b["precision"], b["recall"]) == (0.5, 0.5)
    assert (c["precision"], c["recall"], c["support"]) == (0.5, 1.0, 1)
    f1s = [2 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 / 1.5]
    assert r["macro_f1"] == pytest.approx(sum(f1s) / 3)


def test_never_predicted_class_and_missing_class():
    r = classification_report([0, 0, 1], [0, 0, 0], ["x", "y", "z"])
    assert r["per_class"]["y"]["precision"] == 0.0 and r["per_class"]["y"]["recall"] == 0.0
    assert r["per_class"]["z"]["support"] == 0  # absent class: left out of the macro average
    assert r["macro_f1"] == pytest.approx((0.8 + 0.0) / 2)
    assert confusion_matrix([1], [0], 2).tolist() == [[0, 0], [1, 0]]
