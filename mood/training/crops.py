"""Short crops of the training clips: where each is cut, and what a run calls it.

The hybrid's head learns from them as well as from whole clips, and every member that can be
scored on them gets a temperature for short songs fitted on its out-of-fold answers to them
(docs/DESIGN.md, ``calibration.short_clips``): a 6 s song is judged from fewer windows, and its
answers are not as sure as a 30 s clip's.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from mood.training.dataset import TrainingClip

CLIP_LENGTH_S: Final = 30.0  # how long 4Q's clips are
CROP_MARK: Final = "@"  # a crop's id in a run: its clip's song id, this, then its number (song ids have none)


@dataclass(frozen=True)
class ShortCrops:
    """Short excerpts cut from each training clip at random (but reproducible) places, each
    taking its clip's mood and fold."""

    length_s: float = 6.0
    per_clip: int = 2
    seed: int = 0

    def starts_s(self, song_id: str, clip_s: float) -> npt.NDArray[np.float32]:
        """Where this clip's crops start, in seconds: the same for a clip whatever else is cached."""
        rng = np.random.default_rng([self.seed, zlib.crc32(song_id.encode())])
        return rng.uniform(0.0, max(clip_s - self.length_s, 0.0), self.per_clip).astype(np.float32)

    def cache_key(self) -> str:
        """A short name for these settings."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]


DEFAULT_CROPS: Final = ShortCrops()


@dataclass(frozen=True)
class CropTable:
    """A collection's crops: their hybrid features, whose crop each row is, and each crop's
    frozen musicnn patches (what the musicnn member reads of it)."""

    settings: ShortCrops
    values: npt.NDArray[np.float32]  # (n_crops, n_features)
    parents: npt.NDArray[np.int_]  # the index of the clip each crop was cut from, in order
    pooled: npt.NDArray[np.float16]  # (n_crops, n_patches, n_backbones, pooled_dim)
    patch_starts_s: npt.NDArray[np.float64]  # where each crop's patches start in it, in seconds

    def ids(self, clips: Sequence[TrainingClip]) -> list[str]:
        """Each crop's id in a run (:func:`crop_id`): its clip's song id and its number among that clip's crops."""
        seen: dict[int, int] = {}
        ids = []
        for parent in self.parents.tolist():
            ids.append(crop_id(clips[parent].song_id, seen.get(parent, 0)))
            seen[parent] = seen.get(parent, 0) + 1
        return ids

    def of_clips(self, idx: Sequence[int]) -> npt.NDArray[np.int_]:
        """The rows of the crops of clips ``idx``."""
        return np.flatnonzero(np.isin(self.parents, np.asarray(list(idx), dtype=int)))


def crop_id(song_id: str, k: int) -> str:
    """The id of a clip's ``k``-th crop in a run."""
    return f"{song_id}{CROP_MARK}{k}"


def parent_song_id(run_id: str) -> str:
    """The song id of the clip a crop (:func:`crop_id`) was cut from."""
    return run_id.rsplit(CROP_MARK, 1)[0]
