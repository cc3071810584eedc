"""Features: every answer's character span comes back exactly from the token offsets."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertkit.encoder import Encoder
from bertkit.errors import UsageError
from bertkit.qa.features import build_features, check_lengths, label_window, truncate_questions

WORDS = ["Café", "Müller", "naïve", "São", "Paulo", "U.S.-based", "(Acme,", "Inc.)", "3,000", "1998!", "rock'n'roll",
         "e-mail", "über", "Zoë", "Ångström", "«quoted»", "—", "x", "river", "the", "of", "Tōkyō", "déjà-vu", "50%"]
SPACES = [" ", "  ", "\t", " \n\n ", "   "]


@pytest.fixture(scope="module")
def encoder(tiny_bert):
    return Encoder(tiny_bert, device="cpu", max_length=40)


def _assert_round_trip(features, contexts, spans):
    """Each answer is labelled exactly in some window; every [CLS]-labelled window lacks it.

    (An answer is sure to lie whole in some window when it is no longer than the stride.)
    """
    found = [False] * len(contexts)
    cut = 0
    for w, e in enumerate(features.example_index):
        offs, mask = features.offsets[w], features.context_mask[w]
        s, t = features.start_positions[w], features.end_positions[w]
        lo, hi = offs[mask][0, 0], offs[mask][-1, 1]
        if spans[e] is None:
            assert s == t == features.cls_index[w]
            continue
        a, b = spans[e]
        if s == features.cls_index[w]:
            assert t == s and not (lo <= a and b <= hi)  # the window does not hold the whole answer
            cut += int(a < hi and b > lo)  # ... though it may hold part of it
            continue
        assert mask[s] and mask[t] and s <= t
        assert contexts[e][offs[s, 0] : offs[t, 1]] == contexts[e][a:b]
        found[e] = True
    assert all(f for f, sp in zip(found, spans) if sp is not None)
    return cut


def test_round_trip_accents_punctuation_whitespace_and_window_boundaries(encoder):
    contexts = [
        "Café   Müller\topened in  São Paulo in 1998!  The U.S.-based firm (Acme, Inc.) sold 3,000 units.",
        "Zoë  moved to Tōkyō.\n\nThere she studied the «déjà-vu» effect, rock'n'roll and e-mail, 50% of the time. "
        "Later, in Ångström units, she measured the river of light over and over, all night long.",
        "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five.",
    ]
    answers = ["São Paulo", "(Acme, Inc.)", "«déjà-vu» effect, rock'n'roll", "Ångström units"]
    which = [0, 0, 1, 1]
    numbers = contexts[2].split(" ")
    for k in range(len(numbers) - 2):  # every run of three words: some cross a window boundary
        answers.append(" ".join(numbers[k : k + 3]))
        which.append(2)
    spans = [(contexts[c].index(a), contexts[c].index(a) + len(a)) for c, a in zip(which, answers)]
    features = build_features(
        encoder, ["Which?"] * len(answers), [contexts[c] for c in which], doc_stride=16, max_question_length=8, answers=spans,
    )
    assert max(np.bincount(features.example_index)) > 1  # long contexts were split into windows
    assert _assert_round_trip(features, [contexts[c] for c in which], spans) > 0  # some answer crossed a boundary


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(st.sampled_from(WORDS), min_size=3, max_size=45),
    spaces=st.lists(st.sampled_from(SPACES), min_size=45, max_size=45),
    data=st.data(),
)
def test_round_trip_property(encoder, words, spaces, data):
    context = "".join(w + s for w, s in zip(words, spaces)).strip()
    starts, pos = [], 0
    for w, s in zip(words, spaces):
        starts.append(pos)
        pos += len(w) + len(s)
    i = data.draw(st.integers(0, len(words) - 1))
    j = data.draw(st.integers(i, min(len(words) - 1, i + 2)))  # <= 18 tokens: within the stride
    span = (starts[i], starts[j] + len(words[j]))
    features = build_features(encoder, ["What is it?"], [context], doc_stride=20, max_question_length=8, answers=[span])
    _assert_round_trip(features, [context], [span])


def test_unanswerable_questions_point_at_cls(encoder):
    features = build_features(encoder, ["Who?"], ["Nobody knows this at all."], doc_stride=4, max_question_length=8, answers=[None])
    assert features.start_positions == features.end_positions == [0] == features.cls_index


def test_context_mask_excludes_question_and_special_tokens(encoder):
    features = build_features(encoder, ["Where is Paris?"], ["Paris is in France."], doc_stride=4, max_question_length=8)
    ids = features.windows.features[0]["input_ids"]
    tokens = encoder.tokenizer.convert_ids_to_tokens(ids)
    context_tokens = [t for t, m in zip(tokens, features.context_mask[0]) if m]
    assert context_tokens == ["paris", "is", "in", "france", "."]
    assert features.windows.features[0]["token_type_ids"] == [0] * 6 + [1] * 6
    assert (features.offsets[0][~features.context_mask[0]] == -1).all()


def test_long_questions_are_truncated_and_counted(encoder):
    long_q = " ".join(["why"] * 30) + "?"
    texts, cut = truncate_questions(encoder.tokenizer, [long_q, "short?"], 8)
    assert cut == 1 and texts[1] == "short?"
    assert len(encoder.tokenizer(texts[0], add_special_tokens=False)["input_ids"]) == 8
    features = build_features(encoder, [long_q], ["Because it is so."], doc_stride=4, max_question_length=8)
    assert features.questions_truncated == 1
    assert features.context_mask[0].sum() == 5  # the whole context still fits


def test_label_window_outside_and_inside():
    offsets = np.array([[-1, -1], [0, 5], [6, 9], [10, 14], [-1, -1]])
    mask = np.array([False, True, True, True, False])
    assert label_window(offsets, mask, 6, 14, 0) == (2, 3)
    assert label_window(offsets, mask, 6, 20, 0) == (0, 0)  # ends past the window


def test_lengths_must_leave_room_for_context():
    check_lengths(384, 128, 64)
    with pytest.raises(UsageError, match="leaves no room for context"):
        check_lengths(100, 64, 64)
