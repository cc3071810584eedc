"""A stratified --dev-split that cannot honour its fraction (every label keeps one dev row) is
refused naming the labels, not silently turned into a 50% split; a mild excess is a warning."""

from __future__ import annotations

import warnings

import pytest

from bertkit.classification.data import Examples, stratified_split
from bertkit.errors import BertkitWarning, ParameterError


def _examples(counts: dict[str, int]) -> Examples:
    labels = [label for label, n in counts.items() for _ in range(n)]
    return Examples([f"text {i}" for i in range(len(labels))], labels, None, [], "train.csv")


def test_many_labels_of_two_rows_are_refused_with_the_labels_named():
    with pytest.raises(ParameterError) as info:
        stratified_split(_examples({f"label{i}": 2 for i in range(500)}), 0.1, seed=1)
    message = str(info.value)
    assert info.value.param == "dev_split" and "cannot be honoured" in message and "'label0'" in message
    assert "50%" in message and "500 of 500 labels" in message and "\n" not in message


def test_a_mild_excess_warns_and_an_honoured_split_is_silent():
    with pytest.warns(BertkitWarning, match="'rare'"):
        train, dev = stratified_split(_examples({"a": 40, "b": 40, "rare": 2, "rare2": 2, "rare3": 2}), 0.1, seed=1)
    assert len(dev) == 11  # 4 + 4 + one row of each rare label
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, dev = stratified_split(_examples({"a": 50, "b": 50}), 0.1, seed=1)
    assert (len(train), len(dev)) == (90, 10)
