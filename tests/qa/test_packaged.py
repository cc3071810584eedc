"""The shipped default QA model: small, loads with no --model, answers real questions."""

from bertkit.cli.app import main
from bertkit.modeldir import default_model_dir
from bertkit.qa import answer_questions, load_qa_model

CONTEXT = (
    "The Amazon River in South America is the largest river by discharge volume of water in the world. "
    "It flows through Peru, Colombia and Brazil and empties into the Atlantic Ocean. "
    "The first European to travel its length was Francisco de Orellana, in 1542."
)


def test_packaged_model_is_compact_and_complete():
    files = list(default_model_dir("qa").iterdir())
    assert {"bertkit.json", "qa_weights.safetensors", "manifest.json"} <= {f.name for f in files}
    assert sum(f.stat().st_size for f in files if f.is_file()) <= 30_000_000  # issue 13's limit


def test_packaged_model_finds_the_spans_and_ranks_the_unanswerable_question_last():
    import math

    model, config = load_qa_model(None, device="cpu")
    assert config.version_2 and config.base_model == "default"
    assert config.training["null_threshold"]["data"] == "holdout.json"  # chosen on held-out training questions
    questions = ["Who was the first European to travel the Amazon?", "When did Orellana travel the river?",
                 "Which countries does the Amazon flow through?", "How many people live in Brazil?"]
    preds = answer_questions(model, config, questions, [CONTEXT] * len(questions), null_threshold=math.inf)
    assert [d.answer.text for d in preds.decoded[:3]] == ["Francisco de Orellana", "1542", "Peru, Colombia and Brazil"]
    for d in preds.decoded[:3]:
        assert CONTEXT[d.answer.start : d.answer.end] == d.answer.text
    odds = [d.null_score - d.best_span_score for d in preds.decoded]
    assert odds[3] == max(odds) and odds[3] > config.null_threshold  # the unanswerable one is the least answerable
    shipped = answer_questions(model, config, questions[3:], [CONTEXT])
    assert shipped.decoded[0].answer is None  # and the shipped threshold says "no answer"


def test_cli_ask_without_model(capsys):
    code = main(["qa", "ask", "-q", "When did Orellana travel the river?", "-c", CONTEXT, "--json", "--null-threshold", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert '"answer": "1542"' in out
