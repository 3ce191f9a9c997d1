"""Out-of-fold runs: each held-out clip's window logits, kept so that calibration and the
ensemble can be scored exactly as the app scores a song, without retraining."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mood.engine.inference import WindowOutputs
from mood.engine.probabilities import softmax


@dataclass(frozen=True)
class OutOfFold:
    """A model's out-of-fold window logits, per held-out clip.

    Attributes:
        logits: song id -> logits of its windows, shape ``(n_windows, n_moods)``.
        starts_s: song id -> the start of each window, in seconds.
        window_s: how long each window is, in seconds.
        excerpt_s: in a run on short crops (ids :func:`mood.training.crops.crop_id`), how long
            each crop is; None in a run on whole clips.
        distances: song id -> how unlike the rows the model learnt from the clip is
            (:mod:`mood.engine.familiarity`), from a model that measures it (the hybrid); else empty.
    """

    logits: dict[str, npt.NDArray[np.float32]]
    starts_s: dict[str, npt.NDArray[np.float64]]
    window_s: float
    excerpt_s: float | None = None
    distances: dict[str, float] = field(default_factory=dict)

    def outputs(self, song_id: str, temperature: float = 1.0) -> WindowOutputs:
        """One clip's window probabilities after dividing the logits by ``temperature``."""
        return WindowOutputs(softmax(self.logits[song_id], temperature), self.starts_s[song_id], self.window_s)

    def merged(self, other: OutOfFold) -> OutOfFold:
        """This run with another run's clips added (e.g. folds trained in two commands)."""
        if other.excerpt_s != self.excerpt_s:
            raise ValueError("a run on crops cannot be merged with a run on other excerpts")
        return OutOfFold(
            {**self.logits, **other.logits},
            {**self.starts_s, **other.starts_s},
            self.window_s,
            self.excerpt_s,
            {**self.distances, **other.distances},
        )


def save_run(run: OutOfFold, path: Path) -> None:
    """Write a run as one ``.npz`` (flattened windows with per-clip offsets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = list(run.logits)
    counts = np.array([len(run.logits[i]) for i in ids])
    np.savez_compressed(
        path,
        song_ids=np.array(ids),
        counts=counts,
        logits=np.concatenate([run.logits[i] for i in ids]) if ids else np.zeros((0, 4), np.float32),
        starts_s=np.concatenate([run.starts_s[i] for i in ids]) if ids else np.zeros(0),
        window_s=np.array(run.window_s),
        excerpt_s=np.array(np.nan if run.excerpt_s is None else run.excerpt_s),
        distances=np.array([run.distances.get(i, np.nan) for i in ids] if run.distances else []),
    )


def load_run(path: Path) -> OutOfFold:
    """The run saved by :func:`save_run`."""
    with np.load(path) as data:
        offsets = np.concatenate([[0], np.cumsum(data["counts"])])
        ids = [str(i) for i in data["song_ids"]]
        spans = list(itertools.pairwise(offsets))
        has_distances = "distances" in data.files and data["distances"].size > 0  # networks' runs hold none
        return OutOfFold(
            logits={i: data["logits"][a:b].astype(np.float32) for i, (a, b) in zip(ids, spans, strict=True)},
            starts_s={i: data["starts_s"][a:b] for i, (a, b) in zip(ids, spans, strict=True)},
            window_s=float(data["window_s"]),
            excerpt_s=None if "excerpt_s" not in data or np.isnan(data["excerpt_s"]) else float(data["excerpt_s"]),
            distances=dict(zip(ids, map(float, data["distances"]), strict=True)) if has_distances else {},
        )
