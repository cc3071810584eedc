"""One Classifier, many threads: exactly the serial predictions; errors name parameters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import bertkit
from bertkit.errors import ParameterError

TEXTS = ["a gorgeous, witty film", "a dull, lifeless mess", "not bad at all", "I wanted to love it.", "meh", ""]


@pytest.fixture(scope="module")
def classifier():
    return bertkit.Classifier.load()  # the shipped sentiment model; the suite pins torch fp32


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_eight_threads_give_the_serial_predictions(classifier):
    jobs = [TEXTS[i:] + TEXTS[:i] for i in range(len(TEXTS))] * 3
    serial = [classifier.predict(job, top_k=2) for job in jobs]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda job: classifier.predict(job, top_k=2), jobs))
    assert parallel == serial
    assert serial[0][0].label == "positive" and serial[0][1].label == "negative"


def test_the_predictor_shape(classifier):
    assert bertkit.load_classifier().labels == classifier.labels == ["negative", "positive"]
    rt = classifier.runtime
    assert isinstance(rt, bertkit.Runtime) and (rt.backend, rt.dtype, rt.device) == ("torch", "fp32", "cpu")
    p = classifier.predict(["fine"])[0]
    assert set(p.probabilities) == {"negative", "positive"} and len(p.top) == 1


def test_errors_name_the_parameter(classifier):
    with pytest.raises(ParameterError, match="top_k must be >= 1") as err:
        classifier.predict(["x"], top_k=0)
    assert err.value.param == "top_k"
    with pytest.raises(ParameterError, match="leave out pairs") as err:
        classifier.predict(["x"], ["y"])
    assert err.value.param == "pairs"
