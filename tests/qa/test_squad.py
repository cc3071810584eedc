import copy

import pytest
from qa_tiny_squad import squad_dict, write_squad

from bertkit.errors import InputError
from bertkit.qa.squad import parse_squad, read_squad


def test_reads_v2_with_unanswerable(tmp_path):
    data = read_squad(write_squad(tmp_path / "s.json", squad_dict(version_2=True)))
    assert data.version_2
    assert len(data.examples) == 5
    impossible = [e for e in data.examples if e.is_impossible]
    assert [e.id for e in impossible] == ["q4"] and impossible[0].answers == [] and impossible[0].trainable
    first = data.examples[0]
    assert first.context[first.answers[0].start : first.answers[0].end] == "Warsaw"
    assert data.mismatched == 0


def test_v1_is_recognised_without_is_impossible(tmp_path):
    data = read_squad(write_squad(tmp_path / "s.json", squad_dict(version_2=False)))
    assert not data.version_2 and len(data.examples) == 4


def test_mismatched_answer_start_is_counted_and_skipped():
    obj = squad_dict()
    qas = obj["data"][0]["paragraphs"][0]["qas"]
    qas[0]["answers"][0]["answer_start"] += 1  # no longer points at "Warsaw"
    qas[1]["answers"].append({"text": "1903", "answer_start": 0})  # a second, wrong reference
    data = parse_squad(obj, "x.json")
    assert data.mismatched == 2
    assert data.mismatched_at[0] == "data[0].paragraphs[0].qas[0].answers[0].answer_start"
    q0, q1 = data.examples[0], data.examples[1]
    assert q0.answers == [] and q0.references == ["Warsaw"] and not q0.trainable
    assert len(q1.answers) == 1 and q1.references == ["1903", "1903"]
    assert data.untrainable == 1
    assert "2 answer(s) whose answer_start does not match" in data.summary()


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda o: o["data"][0]["paragraphs"][1]["qas"][1]["answers"][0].update(answer_start="7"),
         "data[0].paragraphs[1].qas[1].answers[0].answer_start: expected an integer"),
        (lambda o: o["data"][0]["paragraphs"][0].pop("context"), "data[0].paragraphs[0]: missing field 'context'"),
        (lambda o: o["data"][0]["paragraphs"][0]["qas"][1].update(question="  "), "data[0].paragraphs[0].qas[1].question: empty question"),
        (lambda o: o["data"][0]["paragraphs"][1]["qas"][0].update(id="q0"), "data[0].paragraphs[1].qas[0].id: duplicate id 'q0'"),
        (lambda o: o["data"][0]["paragraphs"][1]["qas"][2].update(is_impossible="no"), "data[0].paragraphs[1].qas[2].is_impossible: expected true or false"),
        (lambda o: o["data"][0]["paragraphs"][0]["qas"][0].update(answers=[], is_impossible=False), "data[0].paragraphs[0].qas[0].answers: an answerable question needs"),
        (lambda o: o["data"].append([]), "data[1]: expected an object"),
        (lambda o: o.pop("data"), "(top level): missing field 'data'"),
    ],
)
def test_errors_name_the_json_path(edit, where):
    obj = copy.deepcopy(squad_dict())
    edit(obj)
    with pytest.raises(InputError) as info:
        parse_squad(obj, "bad.json")
    message = str(info.value)
    assert message.startswith("bad.json: ") and where in message and "\n" not in message


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_squad(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [\n  {"title": }\n]}')
    with pytest.raises(InputError, match=r"bad.json, line 2, column 13: malformed JSON"):
        read_squad(bad)
    empty = write_squad(tmp_path / "empty.json", {"data": []})
    with pytest.raises(InputError, match="no questions found"):
        read_squad(empty)
