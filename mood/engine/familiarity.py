"""How unlike the training music a song is, as the hybrid member hears it.

The hybrid's standardised columns, each weighted as its head weighs it, of every row it learnt
from (the clips and their short crops) lie close to a few directions: their top principal
components. A song's *distance from the training music* is how far its own columns lie off those
directions (the residual's length), over the training rows' median residual: about 1 for a song
like the training clips, more for music unlike them. The hybrid's and the ensemble's calibration
soften their answer with it (:meth:`mood.engine.manifest.Calibration.softening_for`), so answers
on unfamiliar music are less sure, and the app says when a song is unfamiliar
(:data:`mood.constants.UNFAMILIAR_DISTANCE`).

Training fits it (:func:`mood.training.members.hybrid.fit_familiarity`); it ships in the hybrid's
`.npz` beside the head (:data:`FAMILIARITY_TENSORS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mood.engine.features import FloatArray

FAMILIARITY_TENSORS: Final = (
    "familiarity_weights",
    "familiarity_center",
    "familiarity_components",
    "familiarity_typical",
)


@dataclass(frozen=True)
class Familiarity:
    """The training rows' principal directions in the hybrid's weighted standardised columns.

    Attributes:
        weights: each column's weight in the head, shape ``(n_features,)``.
        center: the training rows' mean weighted column, shape ``(n_features,)``.
        components: their top principal directions (orthonormal rows), shape ``(k, n_features)``.
        typical: the training rows' median squared residual off those directions.
    """

    weights: FloatArray
    center: FloatArray
    components: FloatArray
    typical: float

    def distances(self, standardised: FloatArray) -> FloatArray:
        """Each row's distance from the training music (1: a typical training row), for the head's
        standardised columns ``(n_rows, n_features)``."""
        centred = np.asarray(standardised, dtype=np.float64) * self.weights - self.center
        residual = centred - (centred @ self.components.T) @ self.components
        out: FloatArray = np.sqrt((residual**2).sum(axis=1) / self.typical).astype(np.float32)
        return out

    def arrays(self) -> dict[str, FloatArray]:
        """The `.npz` contents: :data:`FAMILIARITY_TENSORS` as float32 arrays."""
        values = (self.weights, self.center, self.components, self.typical)
        return {name: np.asarray(v, dtype=np.float32) for name, v in zip(FAMILIARITY_TENSORS, values, strict=True)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, FloatArray]) -> Familiarity:
        """The familiarity of :meth:`arrays`' output."""
        weights, center, components, typical = (np.asarray(arrays[name], np.float32) for name in FAMILIARITY_TENSORS)
        return cls(weights, center, components, float(typical))


def softening_factors(slope: float, distances: npt.NDArray[np.floating[Any]] | float) -> npt.NDArray[np.float64]:
    """What the answer to a song is softened by at each of ``distances`` (a second temperature):
    ``exp(slope * max(0, d - 1))``, 1 for a song as near as a typical training clip, or nearer."""
    out: npt.NDArray[np.float64] = np.exp(slope * np.maximum(0.0, np.asarray(distances, dtype=np.float64) - 1.0))
    return out


def familiarity_shapes(arrays: dict[str, FloatArray], n_features: int) -> dict[str, tuple[int, ...]]:
    """The shape each of :data:`FAMILIARITY_TENSORS` must have in ``arrays`` for a head of
    ``n_features`` (its number of directions read from the components)."""
    components = arrays.get("familiarity_components")
    k = components.shape[0] if components is not None and components.ndim == 2 else 0
    return dict(zip(FAMILIARITY_TENSORS, ((n_features,), (n_features,), (k, n_features), ()), strict=True))
