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
    assert sum(f.stat().st_size for f in files if f.is_file()) <= 15_000_000


def test_packaged_model_answers_and_abstains():
    model, config = load_qa_model(None, device="cpu")
    assert config.version_2 and config.base_model == "default"
    questions = ["Who was the first European to travel the Amazon?", "When did Orellana travel the river?",
                 "Which countries does the Amazon flow through?", "How many people live in Brazil?"]
    preds = answer_questions(model, config, questions, [CONTEXT] * len(questions))
    answers = [d.answer.text if d.answer else None for d in preds.decoded]
    assert answers == ["Francisco de Orellana", "1542", "Peru, Colombia and Brazil", None]
    for d in preds.decoded[:3]:
        assert CONTEXT[d.answer.start : d.answer.end] == d.answer.text


def test_cli_ask_without_model(capsys):
    code = main(["qa", "ask", "-q", "When did Orellana travel the river?", "-c", CONTEXT, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert '"answer": "1542"' in out
