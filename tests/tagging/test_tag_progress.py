"""``tag predict`` / ``tag evaluate`` advance the command's one progress display (JobProgress)."""

from __future__ import annotations

import pytest

from bertkit.io.progress import JobProgress
from bertkit.tagging import TagTrainOptions, load_tagger, read_conll, train_tagger


@pytest.mark.slow  # trains a tiny tagger (over ~1.3 s: the default suite stays under 3 minutes)
def test_predict_and_evaluate_advance_one_job(tiny_bert, train_conll, dev_conll, tmp_path):
    out = tmp_path / "tagger"
    train_tagger(TagTrainOptions(train=str(train_conll), dev=str(dev_conll), out=str(out), model=str(tiny_bert), device="cpu",
                                 max_length=32, checkpoint_every=0, epochs=1, lstm_hidden=8, patience=0))
    tagger = load_tagger(out, device="cpu")
    gold = read_conll(dev_conll)
    texts = [" ".join(words) for words in gold.words]
    lines: list[str] = []
    job = JobProgress(len(texts), desc="tagging", terminal=False, every=0, log=lines.append)
    with job:
        tagged = tagger.predict(texts, batch_size=3, progress=job)
    assert (job.done, job.total) == (len(texts), len(texts))
    assert lines and lines[0].startswith("tagging: ")  # off a terminal: plain lines, at most one per interval
    assert tagged == tagger.predict(texts, batch_size=3)  # the same entities with or without a display
    job = JobProgress(len(gold), desc="tagging", unit="sentence", terminal=False, every=3600, log=lines.append)
    with job:
        report = tagger.evaluate(gold, batch_size=3, progress=job)
    assert job.done == len(gold) and report.metrics == tagger.evaluate(gold, batch_size=3).metrics
