"""Calibrated probabilities: a temperature fitted inside the training folds only, and the
expected calibration error (ECE) that shows whether "70 %" means right 70 % of the time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar

ECE_BINS = 10
TEMPERATURE_BOUNDS = (0.05, 20.0)
FAMILIARITY_SLOPE_BOUNDS = (0.0, 5.0)  # how fast the temperature may widen with a song's distance

ClipProbabilities = Callable[[float], npt.NDArray[np.float32]]  # temperature -> (n_clips, n_moods)


def expected_calibration_error(
    probabilities: npt.NDArray[np.float32], true: npt.NDArray[np.int_], n_bins: int = ECE_BINS
) -> float:
    """ECE of the top probability over ``n_bins`` equal-width bins: the clip-weighted mean gap
    between how sure the answers were and how often they were right."""
    top = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == true
    bins = np.minimum((top * n_bins).astype(int), n_bins - 1)
    gaps = [abs(top[bins == b].mean() - correct[bins == b].mean()) * (bins == b).sum() for b in np.unique(bins)]
    return float(sum(gaps) / len(true))


def negative_log_likelihood(probabilities: npt.NDArray[np.float32], true: npt.NDArray[np.int_]) -> float:
    """Mean -log p(true mood)."""
    return float(-np.log(np.clip(probabilities[np.arange(len(true)), true], 1e-12, None)).mean())


def fit_temperature(clip_probabilities: ClipProbabilities, true: npt.NDArray[np.int_]) -> float:
    """The temperature minimising the negative log-likelihood of the clips' probabilities.

    Args:
        clip_probabilities: the clips' probabilities for a given temperature (as the app
            scores a song: the mean over windows of softmax(logits / T)).
        true: the clips' true mood indices.
    """
    low, high = np.log(TEMPERATURE_BOUNDS)
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(clip_probabilities(float(np.exp(log_t))), true),
        bounds=(low, high),
        method="bounded",
    )
    return float(np.exp(result.x))


def fit_familiarity_slope(probabilities_at: ClipProbabilities, true: npt.NDArray[np.int_]) -> float:
    """The familiarity slope (:class:`mood.engine.manifest.FamiliarityCalibration`) minimising the
    negative log-likelihood of the clips' probabilities.

    Args:
        probabilities_at: the clips' probabilities for a given slope.
        true: the clips' true mood indices.
    """
    result = minimize_scalar(
        lambda slope: negative_log_likelihood(probabilities_at(float(slope)), true),
        bounds=FAMILIARITY_SLOPE_BOUNDS,
        method="bounded",
    )
    return float(result.x)


def cross_fitted_temperatures(
    clip_probabilities: Callable[[float, Sequence[int]], npt.NDArray[np.float32]],
    true: npt.NDArray[np.int_],
    clip_folds: npt.NDArray[np.int_],
) -> dict[int, float]:
    """For each held-out fold, the temperature fitted on the other folds' clips alone.

    Args:
        clip_probabilities: ``(temperature, clip indices) -> probabilities`` of those clips.
        true: each clip's true mood index.
        clip_folds: each clip's fold.
    """
    temperatures = {}
    for fold in sorted(set(clip_folds.tolist())):
        others = [int(i) for i in np.flatnonzero(clip_folds != fold)]
        temperatures[fold] = fit_temperature(partial(_on_clips, clip_probabilities, others), true[others])
    return temperatures


def _on_clips(
    clip_probabilities: Callable[[float, Sequence[int]], npt.NDArray[np.float32]], idx: Sequence[int], t: float
) -> npt.NDArray[np.float32]:
    return clip_probabilities(t, idx)
