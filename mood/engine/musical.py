"""The musical features of one clip: harmony, rhythm, dynamics and timbre, as named numbers.

:func:`musical_features` measures, on the loudness-normalised clip, what tells
sad from calm and angry from happy beside the sound's energy: the mode and the clarity of the
key, the harmony's change over time, the pulse, the dynamics and the timbre. Each value has a
readable name (``"mode_major_minor"``, ``"rms_p90"``) so that a model reading them can say
which pushed its answer. Every value the features depend on is in :class:`MusicalConfig`,
whose :meth:`MusicalConfig.cache_key` names a cache of them.

Chroma is rotated to the estimated tonic, so its names are scale degrees (``chroma_b3_mean``
is the minor third's share) and do not depend on the key a song is in.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from mood.constants import MAJOR_PROFILE, MINOR_PROFILE, SAMPLE_RATE, SILENCE_RMS_DBFS, TARGET_RMS_DBFS
from mood.engine import constant_q, melspec, onsets, spectral
from mood.engine.audio import resample
from mood.engine.features import normalise_loudness, rms_dbfs

FloatArray = npt.NDArray[np.float32]
Group = Literal["harmony", "rhythm", "dynamics", "timbre"]
GROUPS: Final[tuple[Group, ...]] = ("harmony", "rhythm", "dynamics", "timbre")

# Scale degrees counted in semitones from the tonic: the names of the rotated chroma bins.
DEGREES: Final = ("1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7")
TONNETZ_CIRCLES: Final = ("fifths", "minor_thirds", "major_thirds")  # librosa's tonnetz rows, in pairs
# Metrical multiples of the tempo that the tempogram ratios read (Prockup et al. 2015, librosa's default).
TEMPOGRAM_FACTORS: Final = {
    "sixteenth": 4.0,
    "dotted_sixteenth": 8 / 3,
    "eighth_triplet": 3.0,
    "eighth": 2.0,
    "dotted_eighth": 4 / 3,
    "quarter_triplet": 1.5,
    "quarter": 1.0,
    "dotted_quarter": 2 / 3,
    "half_triplet": 0.75,
    "half": 0.5,
    "dotted_half": 1 / 3,
    "whole_triplet": 0.375,
    "whole": 0.25,
}
# The measures' definition, bumped whenever one changes (2: beat strength on the tempo's grid, no beat tracker).
DEFINITION: Final = 2
BEAT_TOLERANCE: Final = 0.1  # of a beat period: how far a beat may sit from its grid point
LEVEL_FLOOR_DB: Final = -100.0  # frame levels (dBFS) are floored here: silence stays finite
PROFILES: Final = np.array([MAJOR_PROFILE, MINOR_PROFILE], dtype=np.float64)  # Krumhansl & Kessler, from the tonic


@dataclass(frozen=True)
class MusicalConfig:
    """Every value the musical features depend on (a cache of them is keyed by all of it).

    Attributes:
        sample_rate: Hz the features are computed at (resampled from ``SAMPLE_RATE`` if lower).
        loudness_dbfs: RMS level every clip is brought to first (a silent clip is left as it is).
        max_duration_s: seconds from the start of a song analysed.
        n_fft: STFT length in samples (rhythm, dynamics and timbre).
        hop_length: samples between STFT frames.
        n_mels: mel bands of the onset envelope and the MFCCs.
        chroma_hop_length: samples between chroma (constant-Q) frames.
        chroma_bins_per_octave: constant-Q bins per octave folded into the 12 pitch classes.
        chroma_octaves: octaves of the constant-Q transform, from C1.
        mode_segment_s: seconds of each segment whose key and mode are measured over time.
        level_block_s: seconds of each block whose level the dynamics compare.
        n_mfcc: MFCCs (the first is the log energy).
        contrast_bands: spectral-contrast octave bands (librosa adds one for the rest).
        rolloff_percent: share of the spectral energy below the roll-off frequency.
        rms_percentiles: percentiles of the frame levels reported.
        groups: which feature groups are computed, in ``GROUPS`` order.
    """

    sample_rate: int = SAMPLE_RATE
    loudness_dbfs: float = TARGET_RMS_DBFS
    max_duration_s: float = 60.0
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    chroma_hop_length: int = 2048
    chroma_bins_per_octave: int = 12
    chroma_octaves: int = 7
    mode_segment_s: float = 3.0
    level_block_s: float = 1.0
    n_mfcc: int = 20
    contrast_bands: int = 6
    rolloff_percent: float = 0.85
    rms_percentiles: tuple[int, ...] = (10, 50, 90)
    groups: tuple[Group, ...] = GROUPS

    def __post_init__(self) -> None:
        if self.sample_rate > SAMPLE_RATE:
            raise ValueError(f"sample_rate above the decoding rate ({SAMPLE_RATE} Hz)")
        if not self.groups or any(g not in GROUPS for g in self.groups) or len(set(self.groups)) != len(self.groups):
            raise ValueError(f"groups must be distinct names from {GROUPS}, not {self.groups!r}")
        if min(self.n_fft, self.hop_length, self.n_mels, self.chroma_hop_length, self.n_mfcc) <= 0:
            raise ValueError("sizes must be positive")

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (for a manifest)."""
        return asdict(self)

    def cache_key(self) -> str:
        """A short name for these exact settings and ``DEFINITION``: a cache never mixes two of either."""
        keyed = self.to_dict() | {"definition": DEFINITION}
        return hashlib.sha1(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:12]


DEFAULT_MUSICAL_CONFIG: Final = MusicalConfig()


@dataclass(frozen=True)
class MusicalFeatures:
    """A clip's musical features: ``values[i]`` is ``names[i]``, of feature group ``groups[i]``."""

    names: tuple[str, ...]
    groups: tuple[Group, ...]
    values: FloatArray  # shape (n_features,)

    def as_dict(self) -> dict[str, float]:
        """Name -> value."""
        return {name: float(v) for name, v in zip(self.names, self.values, strict=True)}


@dataclass(frozen=True)
class _Analysis:
    """The spectra every group reads, computed once per clip."""

    wav: FloatArray
    magnitude: FloatArray  # STFT magnitude, shape (1 + n_fft // 2, n_frames)
    log_mel: FloatArray  # dB, shape (n_mels, n_frames)
    config: MusicalConfig

    @property
    def duration_s(self) -> float:
        return self.wav.size / self.config.sample_rate


Values = dict[str, float]


def musical_features(wav: FloatArray, config: MusicalConfig = DEFAULT_MUSICAL_CONFIG) -> MusicalFeatures:
    """Measure a clip's musical features.

    Args:
        wav: mono float32 samples at ``SAMPLE_RATE``, shape ``(n_samples,)``.
        config: what to compute and how.

    Returns:
        The named float32 features of ``config.groups``, always finite (silence included).
    """
    analysis = _analyse(wav, config)
    names: list[str] = []
    groups: list[Group] = []
    values: list[float] = []
    for group in config.groups:
        measured = _GROUP_FUNCTIONS[group](analysis)
        names += measured
        groups += [group] * len(measured)
        values += measured.values()
    finite = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return MusicalFeatures(tuple(names), tuple(groups), finite)


@cache
def feature_names(config: MusicalConfig = DEFAULT_MUSICAL_CONFIG) -> tuple[tuple[str, ...], tuple[Group, ...]]:
    """The names and groups :func:`musical_features` returns for ``config`` (the same for every clip)."""
    measured = musical_features(np.zeros(round(config.mode_segment_s * SAMPLE_RATE), dtype=np.float32), config)
    return measured.names, measured.groups


def _analyse(wav: FloatArray, config: MusicalConfig) -> _Analysis:
    """Cut, resample and loudness-normalise the clip, then compute its STFT and log-mel spectrum once."""
    excerpt = np.asarray(wav[: round(config.max_duration_s * SAMPLE_RATE)], dtype=np.float32)
    if config.sample_rate != SAMPLE_RATE:
        excerpt = resample(excerpt, SAMPLE_RATE, config.sample_rate)
    if excerpt.size and rms_dbfs(excerpt) > SILENCE_RMS_DBFS:
        excerpt = normalise_loudness(excerpt, config.loudness_dbfs)
    magnitude = np.abs(melspec.spectrogram(excerpt, config.n_fft, config.hop_length)).T  # librosa's layout
    mel = melspec.mel_power_of(
        magnitude.T**2, config.sample_rate, config.n_fft, config.n_mels, 0.0, config.sample_rate / 2
    )
    return _Analysis(excerpt, magnitude, melspec.power_to_db(mel, top_db=None), config)


# ---------------------------------------------------------------- harmony


def _harmony(a: _Analysis) -> Values:
    """Key clarity and mode, the chroma (rotated to the tonic) and its CENS, tonnetz, mode over time."""
    c = a.config
    cqt = constant_q.cqt_magnitude(
        a.wav,
        c.sample_rate,
        c.chroma_hop_length,
        constant_q.C1_HZ,
        c.chroma_octaves * c.chroma_bins_per_octave,
        c.chroma_bins_per_octave,
    )
    chroma = constant_q.chroma_from_cqt(cqt, c.chroma_bins_per_octave)
    cens = constant_q.chroma_cens_from_cqt(cqt, c.chroma_bins_per_octave)
    correlations = _key_correlations(chroma.mean(axis=1))  # (2 modes, 12 tonics)
    _, tonic = np.unravel_index(int(correlations.argmax()), correlations.shape)
    ranked = np.sort(correlations.ravel())
    values: Values = {
        "key_clarity": float(ranked[-1]),
        "key_margin": float(ranked[-1] - ranked[-2]),
        "mode_major_minor": float(correlations[0].max() - correlations[1].max()),
    }
    values |= _over_time(chroma, round(c.mode_segment_s * c.sample_rate / c.chroma_hop_length))
    rotated, rotated_cens = np.roll(chroma, -int(tonic), axis=0), np.roll(cens, -int(tonic), axis=0)
    values |= _mean_and_spread("chroma", DEGREES, rotated)
    values |= _mean_and_spread("cens", DEGREES, rotated_cens)
    shares = chroma / np.maximum(chroma.sum(axis=0, keepdims=True), 1e-12)
    values["chroma_entropy"] = float(-(shares * np.log2(np.maximum(shares, 1e-12))).sum(axis=0).mean())
    values["harmonic_change"] = float(np.abs(np.diff(cens, axis=1)).sum(axis=0).mean()) if cens.shape[1] > 1 else 0.0
    values |= _tonnetz(constant_q.tonnetz(chroma))
    return values


def _key_correlations(chroma: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Pearson correlation of a 12-bin chroma with each key profile at each tonic: shape (2, 12).

    A flat (or silent) chroma correlates 0 with every key.
    """
    keys = np.stack([[np.roll(p, tonic) for tonic in range(12)] for p in PROFILES])  # (2, 12, 12)
    keys = keys - keys.mean(axis=-1, keepdims=True)
    centred = chroma - chroma.mean()
    norms = np.linalg.norm(keys, axis=-1) * np.linalg.norm(centred)
    correlations: npt.NDArray[np.float64] = (keys @ centred) / np.maximum(norms, 1e-12)
    return correlations


def _over_time(chroma: FloatArray, segment_frames: int) -> Values:
    """Major-minor strength and key clarity of each segment of ``segment_frames`` chroma frames."""
    n_segments = max(1, chroma.shape[1] // max(segment_frames, 1))
    segments = np.array_split(chroma, n_segments, axis=1)
    per_segment = np.array([_key_correlations(s.mean(axis=1)) for s in segments])  # (n_segments, 2, 12)
    strength = per_segment[:, 0].max(axis=1) - per_segment[:, 1].max(axis=1)
    return {
        "mode_over_time_mean": float(strength.mean()),
        "mode_over_time_spread": float(strength.std()),
        "major_share_over_time": float((strength > 0).mean()),
        "key_clarity_over_time": float(per_segment.reshape(len(segments), -1).max(axis=1).mean()),
    }


def _tonnetz(tonnetz: npt.NDArray[np.float64]) -> Values:
    """For each circle of the tonnetz (fifths, minor and major thirds): how far its mean lies from
    the centre (a steady tonal centre) and how far frames stray from that mean; both key-invariant."""
    values: Values = {}
    for i, circle in enumerate(TONNETZ_CIRCLES):
        xy = tonnetz[2 * i : 2 * i + 2]
        centre = xy.mean(axis=1, keepdims=True)
        values[f"tonnetz_{circle}_centre"] = float(np.linalg.norm(centre))
        values[f"tonnetz_{circle}_spread"] = float(np.linalg.norm(xy - centre, axis=0).mean())
    return values


# ---------------------------------------------------------------- rhythm


def _rhythm(a: _Analysis) -> Values:
    """Tempo, beat strength, onset rate and regularity, pulse clarity and tempogram ratios."""
    c = a.config
    envelope = onsets.onset_strength(a.log_mel, c.hop_length)
    tempogram = onsets.tempogram(envelope)
    tempo = onsets.tempo(tempogram, c.sample_rate, c.hop_length)
    onset_frames = onsets.onset_frames(envelope, c.sample_rate, c.hop_length)
    mean_tempogram = tempogram.mean(axis=1)  # summarised first: the ratios of each frame cost 20x more
    factors = np.array(list(TEMPOGRAM_FACTORS.values()))
    ratios = onsets.tempogram_ratio(mean_tempogram, c.sample_rate, tempo, c.hop_length, factors)
    mean_envelope = max(float(envelope.mean()), 1e-12)
    frame_s = c.hop_length / c.sample_rate
    values: Values = {
        "tempo_bpm": tempo,
        "beat_strength": _beat_strength(envelope, tempo * frame_s / 60.0) / mean_envelope,
        "onset_strength_mean": float(envelope.mean()),
        "onset_rate_per_s": onset_frames.size / max(a.duration_s, frame_s),
        "onset_interval_cv": _variation(np.diff(onset_frames)),
        "pulse_clarity": float(mean_tempogram[1:].max()) if tempogram.shape[0] > 1 else 0.0,
    }
    values |= {f"tempogram_{name}": float(r) for name, r in zip(TEMPOGRAM_FACTORS, ratios, strict=True)}
    return values


def _beat_strength(envelope: FloatArray, beats_per_frame: float) -> float:
    """The onset envelope on a regular grid at the tempo, at the phase where it is strongest (each
    beat read as the envelope's peak within ``BEAT_TOLERANCE`` of a period of its grid point).

    A beat tracker would follow the tempo's drift too; librosa's compiles its numba kernels in
    every new process (about 3 s), which the serving path cannot afford for one feature.
    """
    period = 1.0 / beats_per_frame if beats_per_frame > 0 else 0.0  # frames per beat
    n_beats = int(envelope.size // period) if period >= 1.0 else 0
    if n_beats < 2:
        return 0.0
    reach = max(1, round(BEAT_TOLERANCE * period))
    padded = np.pad(envelope, reach, mode="edge")
    peaks = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1).max(axis=1)  # peaks[i]: max near frame i
    grid = np.arange(n_beats) * period + np.arange(math.ceil(period))[:, None]  # one row per phase
    on_grid = peaks[np.minimum(np.round(grid).astype(np.int64), envelope.size - 1)]
    return float(on_grid.mean(axis=1).max())


def _variation(intervals: npt.NDArray[np.int_]) -> float:
    """Coefficient of variation of intervals (0: perfectly regular; 0 too when there are too few)."""
    if intervals.size < 2:
        return 0.0
    return float(intervals.std() / max(float(intervals.mean()), 1e-12))


# ---------------------------------------------------------------- dynamics


def _dynamics(a: _Analysis) -> Values:
    """Frame-level percentiles (dBFS), dynamic range, crescendo slope and block-to-block change."""
    c = a.config
    rms = spectral.frame_rms(a.magnitude)
    level = np.maximum(20.0 * np.log10(np.maximum(rms, 1e-12)), LEVEL_FLOOR_DB)
    values: Values = {f"rms_p{p}": float(np.percentile(level, p)) for p in c.rms_percentiles}
    values["dynamic_range_db"] = float(np.percentile(level, 95) - np.percentile(level, 5))
    values["rms_spread_db"] = float(level.std())
    frame_s = c.hop_length / c.sample_rate
    times = np.arange(level.size) * frame_s
    values["crescendo_db_per_s"] = float(np.polyfit(times, level, 1)[0]) if level.size > 1 else 0.0
    block = max(1, round(c.level_block_s / frame_s))
    n_blocks = level.size // block
    blocks = level[: n_blocks * block].reshape(n_blocks, block).mean(axis=1) if n_blocks else level[:1]
    values["level_change_db"] = float(np.abs(np.diff(blocks)).mean()) if blocks.size > 1 else 0.0
    return values


# ---------------------------------------------------------------- timbre


def _timbre(a: _Analysis) -> Values:
    """MFCCs and spectral contrast, flatness, roll-off and centroid: means and spreads over frames."""
    c = a.config
    mfcc = spectral.mfcc(a.log_mel, c.n_mfcc)
    contrast = spectral.spectral_contrast(a.magnitude, c.sample_rate, c.contrast_bands)
    flatness = spectral.spectral_flatness(a.magnitude)
    rolloff = spectral.spectral_rolloff(a.magnitude, c.sample_rate, c.rolloff_percent)
    centroid = spectral.spectral_centroid(a.magnitude, c.sample_rate)
    values = _mean_and_spread("mfcc", [f"{i:02d}" for i in range(c.n_mfcc)], mfcc)
    values |= _mean_and_spread("contrast", [f"band{i}" for i in range(contrast.shape[0])], contrast)
    values |= _mean_and_spread(
        "spectral", ["flatness", "rolloff_hz", "centroid_hz"], np.vstack([flatness, rolloff, centroid])
    )
    return values


def _mean_and_spread(prefix: str, labels: tuple[str, ...] | list[str], rows: npt.NDArray[np.floating[Any]]) -> Values:
    """``{prefix}_{label}_mean`` and ``..._spread`` (standard deviation over frames) of each row."""
    means, spreads = rows.mean(axis=1), rows.std(axis=1)
    return {
        f"{prefix}_{label}_{stat}": float(v[i])
        for stat, v in (("mean", means), ("spread", spreads))
        for i, label in enumerate(labels)
    }


_GROUP_FUNCTIONS: Final[dict[Group, Callable[[_Analysis], Values]]] = {
    "harmony": _harmony,
    "rhythm": _rhythm,
    "dynamics": _dynamics,
    "timbre": _timbre,
}
