"""decode_spans on hand-written logits."""

import numpy as np
import pytest

from bertkit.qa.decode import decode_spans, max_context_mask

CONTEXT = "aa bb cc dd ee ff"
TOKENS = [(0, 2), (3, 5), (6, 8), (9, 11), (12, 14), (15, 17)]  # char spans of aa .. ff


def window(context_tokens):
    """[CLS] q1 q2 [SEP] <context tokens> [SEP]: offsets (T, 2) and context mask (T,)."""
    spans = [(-1, -1)] * 4 + [TOKENS[i] for i in context_tokens] + [(-1, -1)]
    mask = np.array([False] * 4 + [True] * len(context_tokens) + [False])
    return np.array(spans), mask


def logits(T, **at):
    x = np.zeros(T)
    for pos, value in at.items():
        x[int(pos[1:])] = value
    return x


ONE_OFFS, ONE_MASK = window([0, 1, 2, 3, 4])  # aa bb cc dd ee at positions 4..8, [SEP] at 9


def decode_one(start, end, **kw):
    return decode_spans([start], [end], [ONE_OFFS], [ONE_MASK], CONTEXT, **kw)


def test_end_before_start_is_rejected():
    d = decode_one(logits(10, p7=5.0), logits(10, p5=5.0, p8=2.0))  # best start dd, best end bb
    assert d.answer.text == "dd ee" and d.answer.score == pytest.approx(7.0)
    assert all(c.start < c.end for c in d.candidates)
    assert max(c.score for c in d.candidates) < 10.0  # (start dd, end bb) would score 10


def test_length_cap():
    start, end = logits(10, p4=5.0, p6=1.0), logits(10, p8=5.0)
    assert decode_one(start, end, max_answer_length=5).answer.text == "aa bb cc dd ee"
    capped = decode_one(start, end, max_answer_length=3)
    assert capped.answer.text == "cc dd ee"
    assert all(len(c.text.split()) <= 3 for c in capped.candidates)


def test_question_and_special_tokens_are_never_answers():
    start = logits(10, p0=9.0, p1=10.0, p2=10.0, p3=9.0, p5=1.0, p9=10.0)
    end = logits(10, p0=9.0, p1=10.0, p2=10.0, p3=9.0, p5=1.0, p9=10.0)
    d = decode_one(start, end)
    assert d.answer.text == "bb"
    assert all(0 <= c.start and c.end <= len(CONTEXT) for c in d.candidates)


def test_best_window_is_chosen_and_max_context_decides_where_a_token_starts():
    a_offs, a_mask = window([0, 1, 2, 3])  # aa bb cc dd
    b_offs, b_mask = window([2, 3, 4, 5])  # cc dd ee ff
    keep_a, keep_b = max_context_mask([a_offs, b_offs], [a_mask, b_mask])
    # cc: 2 tokens of context each side... in A min(2, 1) > in B min(0, 3): scored in A only
    assert keep_a[6] and not keep_b[4]
    # dd: A min(3, 0) < B min(1, 2): scored in B only
    assert not keep_a[7] and keep_b[5]
    a_start, a_end = logits(9, p5=2.0), logits(9, p5=2.0)  # "bb" in window A: 4
    b_start, b_end = logits(9, p6=3.0, p4=20.0), logits(9, p6=3.0, p4=20.0)  # "ee" in B: 6; "cc" would be 40 in B
    d = decode_spans([a_start, b_start], [a_end, b_end], [a_offs, b_offs], [a_mask, b_mask], CONTEXT)
    assert d.answer.text == "ee" and d.answer.score == pytest.approx(6.0)  # window B beats "bb" (4) in window A
    scores = {c.text: c.score for c in d.candidates}
    assert scores["bb"] == pytest.approx(4.0)
    assert scores.get("cc", 0.0) < 1.0  # B's huge cc logits do not count: cc has more context in A


def test_same_character_span_is_listed_once():
    offs, mask = window([0, 1, 1, 2])  # two tokens share the span of "bb" (one char, two pieces)
    d = decode_spans([logits(9, p5=2.0, p6=1.0)], [logits(9, p5=1.0, p6=3.0)], [offs], [mask], CONTEXT)
    texts = [c.text for c in d.candidates]
    assert texts.count("bb") == 1 and d.answer.text == "bb" and d.answer.score == pytest.approx(5.0)


def test_null_answer_uses_the_smallest_cls_score():
    a_offs, a_mask = window([0, 1, 2, 3])
    b_offs, b_mask = window([2, 3, 4, 5])
    starts = [logits(9, p0=5.0, p5=3.0), logits(9, p0=3.0)]
    ends = [logits(9, p0=5.0, p5=4.0), logits(9, p0=3.0)]
    args = ([a_offs, b_offs], [a_mask, b_mask], CONTEXT)
    d = decode_spans(starts, ends, *args, with_null=True)
    assert d.null_score == pytest.approx(6.0)  # min(10, 6)
    assert d.answer.text == "bb"  # 7 > 6
    assert d.null_odds == pytest.approx(-1.0)
    assert decode_spans(starts, ends, *args, with_null=True, null_threshold=-2.0).answer is None
    starts[1][0] = ends[1][0] = 8.0  # now the null score is min(10, 16) = 10 > 7
    d = decode_spans(starts, ends, *args, with_null=True)
    assert d.answer is None and d.null_score == pytest.approx(10.0)
    assert d.candidates[0].is_null and d.candidates[0].text == ""
    # without with_null (SQuAD 1.1) the best span is always given
    assert decode_spans(starts, ends, *args).answer.text == "bb"


def test_probabilities_are_a_softmax_over_the_n_best():
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=10), rng.normal(size=10)
    d = decode_one(start, end, n_best=4, with_null=True)
    spans = [c for c in d.candidates if not c.is_null]
    assert len(spans) == 4 and len(d.candidates) == 5
    scores = np.array([c.score for c in d.candidates])
    expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    np.testing.assert_allclose([c.probability for c in d.candidates], expected)
    assert list(scores) == sorted(scores, reverse=True)
    best = max(((s, e) for s in range(4, 9) for e in range(s, 9)), key=lambda p: start[p[0]] + end[p[1]])
    assert spans[0].score == pytest.approx(start[best[0]] + end[best[1]])


# Word boundaries: "Denver Broncos, 1990s." tokenised into word pieces:
# Den ##ver Bron ##cos , 1990 ##s .
WORDS = "Denver Broncos, 1990s."
PIECES = [(0, 3), (3, 6), (7, 11), (11, 14), (14, 15), (16, 20), (20, 21), (21, 22)]


def _pieces_window():
    spans = [(-1, -1)] * 2 + PIECES + [(-1, -1)]  # [CLS] q, the context pieces, [SEP]
    mask = np.array([False] * 2 + [True] * len(PIECES) + [False])
    return np.array(spans), mask


def _decode_pieces(start_pos, end_pos, **kw):
    offs, mask = _pieces_window()
    T = len(offs)
    return decode_spans([logits(T, **{f"p{start_pos}": 5.0})], [logits(T, **{f"p{end_pos}": 5.0})], [offs], [mask], WORDS, **kw)


@pytest.mark.parametrize(("start_pos", "end_pos", "expected"), [
    (3, 3, "Denver"),  # "##ver" alone -> the whole word
    (2, 4, "Denver Broncos"),  # ends inside "Broncos" -> extended to its end
    (5, 5, "Broncos"),  # "##cos" -> "Broncos"
    (7, 8, "1990s"),  # a whole word already
    (8, 8, "1990s"),  # "##s"
    (6, 6, ","),  # punctuation is its own word: never merged into "Broncos"
    (4, 6, "Broncos,"),  # a span ending on punctuation keeps it, no further
])
def test_answers_are_whole_words(start_pos, end_pos, expected):
    d = _decode_pieces(start_pos, end_pos)
    assert d.answer.text == expected
    for c in d.candidates:  # no candidate starts or ends inside a word
        assert c.start == 0 or not (WORDS[c.start - 1].isalnum() and WORDS[c.start].isalnum())
        assert c.end == len(WORDS) or not (WORDS[c.end - 1].isalnum() and WORDS[c.end].isalnum())


def test_pieces_of_one_word_merge_into_one_candidate():
    d = _decode_pieces(2, 3)  # "Den" .. "##ver" and "##ver" alone are both "Denver"
    texts = [c.text for c in d.candidates]
    assert len(texts) == len(set(texts))


def test_align_to_words_edges():
    from bertkit.qa.decode import align_to_words

    assert align_to_words("abc", 1, 2) == (0, 3)
    assert align_to_words("abc", 0, 3) == (0, 3)
    assert align_to_words("ab cd", 3, 4) == (3, 5)
    assert align_to_words("x-ray", 2, 5) == (2, 5)  # the hyphen is a boundary
    assert align_to_words("café au lait", 1, 2) == (0, 4)  # letters beyond ASCII
