"""Every constant of the mood pipeline, in one place.

Audio and feature values are recorded in each model's manifest; inference always reads
them from the manifest (see :class:`mood.features.FeatureConfig`), these are the defaults
that training writes there.
"""

from __future__ import annotations

from typing import Final

# Moods, in the order of every model output, manifest, JSON object and chart.
MOODS: Final = ("happy", "angry", "sad", "calm")
MOOD_DISPLAY_NAMES: Final = {
    "happy": "Happy / upbeat",
    "angry": "Angry / tense",
    "sad": "Sad / melancholic",
    "calm": "Calm / relaxed",
}

# Decoding.
SAMPLE_RATE: Final = 22_050  # Hz, every decoded signal
MAX_DURATION_S: Final = 600.0  # analysis reads at most the first 10 minutes
MIN_DURATION_S: Final = 1.0  # shorter clips are rejected
DECODE_TIMEOUT_S: Final = 60.0  # wall-clock limit for one ffmpeg run
SILENCE_RMS_DBFS: Final = -60.0  # a clip quieter than this (RMS) counts as silent
TARGET_RMS_DBFS: Final = -20.0  # loudness every clip is normalised to before features

# Log-mel spectrogram (librosa).
N_FFT: Final = 2048  # samples, ~93 ms
HOP_LENGTH: Final = 512  # samples, ~23 ms
N_MELS: Final = 128
TOP_DB: Final = 80.0  # dynamic range kept below the loudest bin of a clip

# Analysis windows.
WINDOW_S: Final = 5.0  # seconds a model sees at once
WINDOW_HOP_S: Final = 2.5  # seconds between the starts of consecutive windows
INFERENCE_BATCH_SIZE: Final = 32  # windows per forward pass


def n_frames(duration_s: float, sample_rate: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> int:
    """Number of centred STFT frames librosa makes for ``duration_s`` seconds of audio."""
    return 1 + round(duration_s * sample_rate) // hop_length


WINDOW_FRAMES: Final = n_frames(WINDOW_S)
assert WINDOW_FRAMES == 216, "DESIGN.md: a 5 s window is 216 frames"

# Model names as people read them (the app, exports and charts).
# The models a user can choose (DESIGN.md: CLI `--model`); "ensemble" is the mean of the others.
MODEL_NAMES: Final = ("resnet18", "cldnn", "ensemble")
MODEL_DISPLAY_NAMES: Final = {"ensemble": "Average of both", "resnet18": "ResNet18", "cldnn": "CLDNN"}
