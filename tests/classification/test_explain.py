import numpy as np
import pytest
import torch

from bertkit.classification.explain import log_odds, occlusion_batch, occlusion_weights


def test_occlusion_batch_masks_one_position_per_copy_and_keeps_the_input():
    batch = {"input_ids": torch.tensor([[101, 7, 8, 9, 102]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    out = occlusion_batch(batch, [1, 3])
    assert out["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 0, 1, 1, 1], [1, 1, 1, 0, 1]]
    assert out["input_ids"].tolist() == [[101, 7, 8, 9, 102]] * 3
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1]]


@pytest.mark.parametrize("chunk", [1, 2, 64])
def test_occlusion_weights_are_the_log_odds_each_token_adds(chunk):
    values = torch.tensor([0.0, 2.0, -1.5, 0.5, 0.0])  # what each token adds to label 1's logit

    def run(b):  # a "model" whose label-1 log-odds are the sum over the visible tokens
        z = (b["attention_mask"].float() * values).sum(dim=1)  # (B,)
        p = torch.sigmoid(z).numpy()
        return np.stack([1 - p, p], axis=1)  # (B, 2)

    batch = {"input_ids": torch.arange(5)[None], "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    probs, weights = occlusion_weights(run, batch, [True, False, False, False, True], chunk=chunk)
    assert probs.argmax() == 1
    np.testing.assert_allclose(weights, [0.0, 2.0, -1.5, 0.5, 0.0], atol=1e-5)


def test_log_odds_is_finite_at_the_ends():
    assert np.isfinite(log_odds(np.array([0.0, 1.0]))).all()
    assert log_odds(0.5) == pytest.approx(0.0)
