"""The CRF against brute-force enumeration over every tag sequence on tiny cases."""

from __future__ import annotations

import itertools

import pytest
import torch

from bertkit.nn.crf import CRF, FORBIDDEN, transition_constraints


def _brute(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[float, list[int]]:
    trans, start, end = (t.detach() for t in crf._scores())
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        s = start[path[0]] + emissions[0, path[0]] + end[path[-1]]
        for t in range(1, length):
            s = s + trans[path[t - 1], path[t]] + emissions[t, path[t]]
        scores[path] = float(s)
    values = torch.tensor(list(scores.values()), dtype=torch.float64)
    return float(torch.logsumexp(values, 0)), list(max(scores, key=scores.get))


def _random_crf(num_tags: int, seed: int, constraints=None) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags, constraints)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


@pytest.mark.parametrize("seed", range(4))
def test_log_partition_viterbi_and_likelihood_match_brute_force(seed):
    crf = _random_crf(3, seed)
    lengths = [4, 2, 1]
    emissions = torch.randn(3, 4, 3)
    mask = torch.arange(4)[None, :] < torch.tensor(lengths)[:, None]
    log_z = crf.log_partition(emissions, mask)
    paths = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        want_z, want_path = _brute(crf, emissions[b], n)
        assert log_z[b].item() == pytest.approx(want_z, abs=1e-4)
        assert paths[b] == want_path
    tags = torch.randint(0, 3, (3, 4))
    ll = crf.log_likelihood(emissions, tags, mask)
    probs = torch.exp(ll)
    assert torch.all(probs > 0) and torch.all(probs <= 1)


def test_probabilities_sum_to_one_and_marginals_match_enumeration():
    crf = _random_crf(2, 7)
    emissions = torch.randn(1, 3, 2)
    mask = torch.ones(1, 3, dtype=torch.bool)
    total = 0.0
    marg = torch.zeros(3, 2)
    for path in itertools.product(range(2), repeat=3):
        p = float(torch.exp(crf.log_likelihood(emissions, torch.tensor([path]), mask)).detach())
        total += p
        for t, tag in enumerate(path):
            marg[t, tag] += p
    assert total == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(crf.marginals(emissions, mask)[0], marg, atol=1e-5)


def test_bio_constraints_forbid_i_without_b():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed, start, end = transition_constraints(labels, "BIO")
    assert not start[2] and start[1] and start[0]
    assert allowed[1, 2] and allowed[2, 2] and not allowed[0, 2] and not allowed[3, 2]
    assert end.all()
    crf = _random_crf(5, 3, (allowed, start, end))
    emissions = torch.zeros(1, 4, 5)
    emissions[0, :, 2] = 50.0  # I-PER everywhere is by far the best *unconstrained* choice
    path = crf.decode(emissions, torch.ones(1, 4, dtype=torch.bool))[0]
    assert path[0] != 2
    for a, b in zip(path, path[1:]):
        assert allowed[a, b]
    want_z, want_path = _brute(crf, emissions[0], 4)
    assert path == want_path


def test_bioes_constraints():
    labels = ["O", "B-X", "I-X", "E-X", "S-X"]
    allowed, start, end = transition_constraints(labels, "BIOES")
    assert allowed[1, 3] and allowed[2, 3] and allowed[3, 0] and allowed[4, 1]
    assert not allowed[1, 0] and not allowed[0, 3] and not allowed[1, 4] and not allowed[2, 1]
    assert not start[2] and not start[3] and not end[1] and not end[2] and end[3] and end[4]
    with pytest.raises(ValueError, match="valid options: BIO, BIOES"):
        transition_constraints(labels, "IOB1")


def test_empty_row_and_gradients():
    crf = _random_crf(3, 1)
    emissions = torch.randn(2, 3, 3, requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]], dtype=torch.bool)
    tags = torch.tensor([[0, 2, -100], [-100, -100, -100]])
    loss = crf(emissions, tags, mask)
    loss.backward()
    assert torch.isfinite(loss) and emissions.grad is not None
    assert crf.decode(emissions, mask)[1] == []
    assert FORBIDDEN < -1000
