"""Every constant of the mood pipeline, in one place.

Audio and feature values are recorded in each model's manifest; inference always reads
them from the manifest (see :class:`mood.engine.features.FeatureConfig`), these are the defaults
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

# Decoding: every song is decoded once, at this rate; each front end resamples from it.
SAMPLE_RATE: Final = 22_050  # Hz
MAX_DURATION_S: Final = 600.0  # analysis reads at most the first 10 minutes
MIN_DURATION_S: Final = 1.0  # shorter clips are rejected
DECODE_TIMEOUT_S: Final = 60.0  # wall-clock limit for one ffmpeg run
TRUNCATION_PROBE_S: Final = 0.1  # ffmpeg decodes this much past MAX_DURATION_S to tell a cut song
SILENCE_RMS_DBFS: Final = -60.0  # a clip quieter than this (RMS) counts as silent

# The front end of the project's own networks (ResNet18, CLDNN): log-mel power in dB.
TARGET_RMS_DBFS: Final = -20.0  # loudness every clip is normalised to before its spectrogram
N_FFT: Final = 2048  # samples, ~93 ms
HOP_LENGTH: Final = 512  # samples, ~23 ms
N_MELS: Final = 128
TOP_DB: Final = 80.0  # dynamic range kept below the loudest bin of a clip
WINDOW_S: Final = 5.0  # seconds a model sees at once
WINDOW_HOP_S: Final = 2.5  # seconds between the starts of consecutive windows

# musicnn's front end (Pons & Serra, the `musicnn` package): log10(1 + C * mel power).
MUSICNN_SAMPLE_RATE: Final = 16_000  # Hz
MUSICNN_N_FFT: Final = 512  # samples, 32 ms
MUSICNN_HOP_LENGTH: Final = 256  # samples, 16 ms
MUSICNN_N_MELS: Final = 96
MUSICNN_LOG_C: Final = 10_000.0
MUSICNN_PATCH_FRAMES: Final = 187  # 3 s patches, as musicnn cuts them
MUSICNN_MAX_INPUT: Final = 8.82  # log10(1 + C * 65504): the largest input, the mel power being rounded to float16
# A musicnn front-end filter that can move its batch-normalised output (about unit spread) by less than
# this for any input is taken as a constant: a hundredth, about bfloat16's rounding step for values of 1-2
# (1e-7 until 2026-12-07: MTT_musicnn's 124 and 84 timbral filters are now 65 and 67).
DEAD_FILTER_TOLERANCE: Final = 1e-2
# ... and as the fine-tuned member hears it: one loudness for every clip, its own non-overlapping patches.
MUSICNN_MOOD_LOUDNESS_DBFS: Final = -14.0  # RMS, about the level of the commercial masters musicnn learnt from
MUSICNN_MOOD_HOP_FRAMES: Final = 187  # 3 s: musicnn's own non-overlapping patches (each costs ~45 ms per backbone)
MUSICNN_MOOD_MAX_WINDOWS: Final = 11  # a 30 s preview's windows; a longer song gets 11 spread over it

# Krumhansl & Kessler (1982) key profiles: how well each pitch class, counted from the tonic, fits a key
# (the descriptors' key and mode, the hybrid's key clarity and mode features).
MAJOR_PROFILE: Final = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE: Final = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)

INFERENCE_BATCH_SIZE: Final = 64  # windows per forward pass

# A song this far from the training music (mood.engine.familiarity; 1: a typical training clip) is
# called unlike it: 2 % of 4Q's clips out of fold, 18 % of the Grekow excerpts (right 49 % of the time, against 60 %).
UNFAMILIAR_DISTANCE: Final = 1.5


def n_frames(duration_s: float, sample_rate: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> int:
    """Number of centred STFT frames librosa makes for ``duration_s`` seconds of audio."""
    return 1 + round(duration_s * sample_rate) // hop_length


WINDOW_FRAMES: Final = n_frames(WINDOW_S)
assert WINDOW_FRAMES == 216, "docs/DESIGN.md: a 5 s window is 216 frames"

# The models, in the order people see them, with their display names (the app, the CLI's
# `--model` choices, exports and charts). The ensemble combines the members its manifest lists.
ENSEMBLE: Final = "ensemble"
MODEL_DISPLAY_NAMES: Final = {
    ENSEMBLE: "Ensemble",
    "musicnn": "musicnn, fine-tuned",
    "hybrid": "Hybrid: musicnn + musical features",
    "resnet18": "ResNet18",
    "cldnn": "CLDNN",
}
MODEL_NAMES: Final = tuple(MODEL_DISPLAY_NAMES)
