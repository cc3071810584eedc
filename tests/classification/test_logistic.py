"""The exact linear head (L-BFGS logistic regression) against scikit-learn on the same data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertkit.classification.headtrain import feature_stats, held_out_split
from bertkit.classification.logistic import fit_logistic, select_l2, select_l2_cv, stratified_folds

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402


def _problem(n: int, dim: int, classes: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters with a few uninformative and badly scaled dimensions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 1.5
    y = rng.integers(0, classes, size=n)
    x = centres[y] + rng.normal(scale=noise, size=(n, dim))
    x[:, : dim // 4] *= 50.0  # badly scaled, as raw encoder features can be
    return x.astype(np.float32), y.astype(np.int64)


def _split_standardised(x: np.ndarray, y: np.ndarray, n_train: int = 800):
    """Train/test rows, and both standardised with the training rows' statistics (as the head does)."""
    x_test, y_test, x, y = x[n_train:], y[n_train:], x[:n_train], y[:n_train]
    mean, std = feature_stats(x)
    z, z_test = ((torch.from_numpy(a) - mean) / std for a in (x, x_test))
    return x, y, x_test, y_test, z, z_test


def _sklearn_cv_probs(x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """The textbook baseline: StandardScaler + LogisticRegressionCV (C by 5-fold CV), test probabilities."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=10, cv=5, max_iter=5000)).fit(x, y).predict_proba(x_test)


@pytest.mark.parametrize(("classes", "noise"), [(2, 0.5), (2, 3.0), (3, 2.0)])
def test_fixed_l2_matches_sklearn_solution(classes, noise):
    x, y = _problem(400, 12, classes, noise, seed=classes)
    x = (x - x.mean(0)) / x.std(0)
    C = 0.5
    l2 = 1.0 / (C * len(y))  # sklearn: C * sum CE + ||W||^2 / 2
    fit = fit_logistic(torch.from_numpy(x), torch.from_numpy(y), classes, l2)
    ours = torch.softmax(torch.from_numpy(x).double() @ fit.weight.T + fit.bias, dim=1).numpy()
    ref = LogisticRegression(C=C, tol=1e-10, max_iter=5000)
    if classes == 2:  # sklearn's binary model is one sigmoid: the softmax pair with W = [-w/2, w/2] has half the penalty
        ref.set_params(C=2 * C)
    ref.fit(x, y)
    theirs = ref.predict_proba(x)
    assert np.abs(ours - theirs).max() < 1e-4
    assert log_loss(y, ours) == pytest.approx(log_loss(y, theirs), abs=1e-5)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize(("classes", "noise"), [(2, 0.3), (2, 4.0), (4, 3.0)])
def test_selected_head_matches_sklearn_on_unseen_rows(classes, noise):
    x, y = _problem(1200, 16, classes, noise, seed=10 + classes)
    x, y, x_test, y_test, z, z_test = _split_standardised(x, y)
    fit_rows, held = held_out_split(y, 0.1, seed=0)
    chosen, records = select_l2(z[fit_rows], torch.from_numpy(y[fit_rows]), z[held], torch.from_numpy(y[held]), classes)
    assert len(records) == 15 and chosen.l2 == min(records, key=lambda r: r["loss"])["l2"]
    final = fit_logistic(z, torch.from_numpy(y), classes, chosen.l2 * len(fit_rows) / len(y), init=(chosen.weight, chosen.bias))
    ours = torch.softmax(z_test.double() @ final.weight.T + final.bias, dim=1).numpy()
    theirs = _sklearn_cv_probs(x, y, x_test)
    acc_ours = (ours.argmax(1) == y_test).mean()
    acc_theirs = (theirs.argmax(1) == y_test).mean()
    assert acc_ours >= acc_theirs - 0.02
    assert log_loss(y_test, ours) <= log_loss(y_test, theirs) + 0.03


def test_held_out_split_is_stratified_and_seeded():
    y = np.array([0] * 30 + [1] * 10 + [2])
    fit, held = held_out_split(y, 0.1, seed=3)
    assert sorted(fit + held) == list(range(len(y)))
    assert sorted(y[held].tolist()) == [0, 0, 0, 1]  # the singleton class stays in fit
    assert held_out_split(y, 0.1, seed=3) == (fit, held)


def test_feature_stats_over_token_states():
    states = np.arange(24, dtype=np.float16).reshape(6, 2, 2)  # (tokens, K, H)
    mean, std = feature_stats(states, chunk=4)
    flat = states.astype(np.float64).reshape(-1, 2)
    assert np.allclose(mean.numpy(), flat.mean(0)) and np.allclose(std.numpy(), flat.std(0))


def test_l2_must_be_positive():
    with pytest.raises(ValueError, match="l2 must be > 0"):
        fit_logistic(torch.zeros(2, 2), torch.tensor([0, 1]), 2, 0.0)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize(("classes", "noise"), [(2, 0.3), (2, 4.0), (4, 3.0)])
def test_cross_validated_head_matches_sklearn_cv_on_unseen_rows(classes, noise):
    x, y = _problem(1200, 16, classes, noise, seed=20 + classes)
    x, y, x_test, y_test, z, z_test = _split_standardised(x, y)
    l2, records = select_l2_cv(z, torch.from_numpy(y), classes, folds=5, seed=0)
    assert len(records) == 15 and l2 == min(records, key=lambda r: r["loss"])["l2"]
    assert all(r["train_loss"] <= r["loss"] + 0.05 for r in records)  # held-out loss is not below training loss
    final = fit_logistic(z, torch.from_numpy(y), classes, l2 * 4 / 5)
    ours = torch.softmax(z_test.double() @ final.weight.T + final.bias, dim=1).numpy()
    theirs = _sklearn_cv_probs(x, y, x_test)
    assert (ours.argmax(1) == y_test).mean() >= (theirs.argmax(1) == y_test).mean() - 0.02
    assert log_loss(y_test, ours) <= log_loss(y_test, theirs) + 0.03


def test_stratified_folds_partition_every_class_evenly():
    y = np.array([0] * 23 + [1] * 11 + [2] * 2)
    folds = stratified_folds(y, 5, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(y)))
    for label, count in ((0, 23), (1, 11)):
        per_fold = [int(np.sum(y[f] == label)) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == count
    assert [f.tolist() for f in stratified_folds(y, 5, seed=1)] == [f.tolist() for f in folds]
    with pytest.raises(ValueError, match="folds must be >= 2"):
        select_l2_cv(torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]), 2, folds=1)
