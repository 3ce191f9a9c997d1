"""The 4Q training data: its metadata, a cache of decoded spectrograms, and augmented crops.

Every clip is decoded and turned into each front end's spectrogram once, by the same
:func:`mood.engine.features.log_mel` that inference uses, and kept as float16 in a cache
folder named by the front end's every value.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mood.constants import MOODS
from mood.engine.features import FloatArray, FrontEnd, log_mel
from mood.training.clip_cache import Clip, fill, written_whole

# Augmentation strengths (training only).
FREQ_MASKS, FREQ_MASK_MAX = 2, 16  # SpecAugment: count and largest width in mel bands
TIME_MASKS, TIME_MASK_MAX = 2, 24  # ... and in frames
EQ_TILT_MAX_DB = 6.0  # a random spectral tilt from -x dB (lowest band) to +x dB (highest)
GAIN_MAX_DB = 3.0  # a random level offset, so normalisation need not be exact


@dataclass(frozen=True)
class TrainingClip:
    """One labelled clip of the data set."""

    song_id: str
    path: Path
    mood: int  # index into MOODS
    fold: int
    artist: str


def read_clips(data_dir: Path) -> list[TrainingClip]:
    """The clips listed in ``data_dir/metadata.csv``, in its order."""
    with (data_dir / "metadata.csv").open(newline="") as f:
        return [
            TrainingClip(
                song_id=row["song_id"],
                path=data_dir / row["path"],
                mood=MOODS.index(row["mood"]),
                fold=int(row["fold"]),
                artist=row["artist"],
            )
            for row in csv.DictReader(f)
        ]


@dataclass(frozen=True)
class SpectrogramCache:
    """Clips' spectrograms for one front end, one float16 ``.npy`` each (a :class:`ClipCache`)."""

    folder: Path
    front_end: FrontEnd
    label: str = "spectrograms"

    def path(self, clip: Clip) -> Path:
        return self.folder / f"{clip.song_id}.npy"

    def write(self, clip: Clip, wav: FloatArray) -> None:
        with written_whole(self.path(clip)) as partial:
            np.save(partial, log_mel(wav, self.front_end).astype(np.float16))


def load_spectrograms(clips: list[TrainingClip], front_end: FrontEnd, cache_dir: Path) -> list[npt.NDArray[np.float16]]:
    """Each clip's spectrogram, shape ``(n_mels, n_frames)``, computed once and cached."""
    cache = SpectrogramCache(cache_dir / front_end.cache_key(), front_end)
    cache.folder.mkdir(parents=True, exist_ok=True)
    fill([cache], clips, "spectrograms")
    return [np.load(cache.path(clip)) for clip in clips]


def random_crop(mel: npt.NDArray[np.float16], width: int, rng: np.random.Generator) -> tuple[FloatArray, int]:
    """A random ``width``-frame window of a spectrogram (looped if the clip is shorter) and its first frame."""
    if mel.shape[1] < width:
        mel = np.pad(mel, ((0, 0), (0, width - mel.shape[1])), mode="wrap")
    start = int(rng.integers(0, mel.shape[1] - width + 1))
    return mel[:, start : start + width].astype(np.float32), start


def augment(window: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Gain, EQ tilt and SpecAugment masks on one dB window, shape ``(n_mels, n_frames)``."""
    n_mels, n_frames = window.shape
    tilt = rng.uniform(-EQ_TILT_MAX_DB, EQ_TILT_MAX_DB) * np.linspace(-1.0, 1.0, n_mels, dtype=np.float32)
    out = window + tilt[:, None] + rng.uniform(-GAIN_MAX_DB, GAIN_MAX_DB)
    fill = float(out.mean())
    for _ in range(FREQ_MASKS):
        width = int(rng.integers(0, FREQ_MASK_MAX + 1))
        start = int(rng.integers(0, n_mels - width + 1))
        out[start : start + width, :] = fill
    for _ in range(TIME_MASKS):
        width = int(rng.integers(0, TIME_MASK_MAX + 1))
        start = int(rng.integers(0, n_frames - width + 1))
        out[:, start : start + width] = fill
    return out.astype(np.float32)
