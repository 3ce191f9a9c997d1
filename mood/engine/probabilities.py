"""Logits to probabilities, the one softmax every model's answer goes through."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def softmax(
    logits: npt.NDArray[np.float32], temperature: float | npt.NDArray[np.float64] = 1.0
) -> npt.NDArray[np.float32]:
    """Row-wise softmax of ``logits / temperature`` (one, or one per row as ``(n, 1)``; computed in float64)."""
    scaled = logits.astype(np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    probabilities: npt.NDArray[np.float32] = (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)
    return probabilities
