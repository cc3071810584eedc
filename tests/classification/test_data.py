import json

import pytest
from tiny_data import sentiment_rows, write_rows

from bertkit.classification.data import LabelMap, check_known_labels, check_trainable, read_examples, stratified_split
from bertkit.errors import InputError, UsageError


def test_read_csv_tsv_jsonl_and_pairs(tmp_path):
    rows = [{"q": "is it good?", "a": "yes it is", "y": "1"}, {"q": "is it bad?", "a": "no", "y": "0"}]
    for name, delim in (("d.csv", ","), ("d.tsv", "\t")):
        ex = read_examples(str(write_rows(tmp_path / name, rows, delim)), text_column="q", pair_column="a", label_column="y")
        assert ex.texts == ["is it good?", "is it bad?"] and ex.pairs == ["yes it is", "no"] and ex.labels == ["1", "0"]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": r["q"], "label": int(r["y"])}) + "\n" for r in rows))
    ex = read_examples(str(path))
    assert ex.labels == ["1", "0"] and ex.pairs is None and ex.lines == [1, 2]


def test_label_map_orders_integers_numerically():
    assert LabelMap.from_labels(["10", "2", "1"]).labels == ("1", "2", "10")
    assert LabelMap.from_labels(["pos", "neg"]).labels == ("neg", "pos")
    assert LabelMap(("neg", "pos")).encode(["pos", "neg"]).tolist() == [1, 0]


def test_bad_input_messages(tmp_path):
    with pytest.raises(InputError, match="unknown column 'label'"):
        read_examples(str(write_rows(tmp_path / "a.csv", [{"text": "x", "y": "1"}])))
    with pytest.raises(InputError, match=r"line 3: empty text"):
        read_examples(str(write_rows(tmp_path / "b.csv", [{"text": "fine", "label": "1"}, {"text": " ", "label": "0"}])))
    (tmp_path / "c.csv").write_text('text,label\n"ok",1\nbroken,0,extra\n')
    with pytest.raises(InputError, match=r"line 3: expected 2 fields"):
        read_examples(str(tmp_path / "c.csv"))
    with pytest.raises(InputError, match="at least two classes"):
        check_trainable(read_examples(str(write_rows(tmp_path / "d.csv", [{"text": "a", "label": "1"}, {"text": "b", "label": "1"}]))))
    with pytest.raises(UsageError, match=".txt"):
        read_examples(str(tmp_path / "e.txt"))


def test_unknown_label_refused_with_line(tmp_path):
    ex = read_examples(str(write_rows(tmp_path / "d.csv", [{"text": "a", "label": "pos"}, {"text": "b", "label": "meh"}])))
    with pytest.raises(InputError, match=r"line 3: label 'meh' was not seen in training; the model knows only: neg, pos"):
        check_known_labels(ex, LabelMap(("neg", "pos")))


def test_stratified_split_is_seeded_and_keeps_class_balance(tmp_path):
    rows = sentiment_rows(40) + [{"text": f"so-so {i}", "label": "mid"} for i in range(10)]
    ex = read_examples(str(write_rows(tmp_path / "d.csv", rows)))
    train, dev = stratified_split(ex, 0.2, seed=1)
    assert len(train) + len(dev) == len(ex) and not set(train.lines) & set(dev.lines)
    assert sorted(dev.labels) == ["mid"] * 2 + ["neg"] * 4 + ["pos"] * 4
    assert stratified_split(ex, 0.2, seed=1)[1].texts == dev.texts
    assert stratified_split(ex, 0.2, seed=2)[1].texts != dev.texts
    with pytest.raises(UsageError, match="dev_split"):
        stratified_split(ex, 1.5, seed=1)
