"""librosa's onset envelope, tempogram, tempo, onsets and tempogram ratios, step for step, in numpy alone.

Importing librosa costs 2 to 3.5 s in every new process (scipy.signal, scipy.interpolate and the
numba kernels it compiles), which the rhythm features do not need: they are a few array operations
on the log-mel spectrum. These functions do what ``librosa.onset.onset_strength``,
``librosa.feature.tempogram``, ``librosa.feature.tempo``, ``librosa.onset.onset_detect`` and
``librosa.feature.tempogram_ratio`` (librosa 0.11.0) do with the arguments the musical features pass
and librosa's other defaults, in the same order of float operations; ``tests/test_onsets.py`` checks
them against librosa itself. What librosa delegates elsewhere is reproduced here too: scipy's
periodic Hann window and ``next_fast_len``, the float32 running sums of librosa's numba peak picker,
and ``scipy.interpolate.interp1d``, which for this linear case is ``np.interp`` with zeros outside
the tempo grid.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mood.engine.dsp import hann, normalize

FloatArray = npt.NDArray[np.float32]
DoubleArray = npt.NDArray[np.float64]
FrameArray = npt.NDArray[np.intp]

# onset_strength: spectral flux between frames LAG apart, shifted as if frames were centred on
# librosa's default STFT (N_FFT samples) rather than starting at their hop.
LAG = 1
N_FFT = 2048
# tempogram: windowed autocorrelation of the onset envelope over WIN_LENGTH frames (8.9 s at 43 Hz).
WIN_LENGTH = 384
FFT_FACTORS = (2, 3, 5)  # scipy.fft.next_fast_len(n, real=True): lengths with only these prime factors
_TEMPOGRAM_BLOCK = 128  # frames autocorrelated at once (twice as fast as all at once)
# tempo: a log-normal prior on the autocorrelation, centred on START_BPM with STD_BPM octaves,
# nothing faster than MAX_TEMPO, the tempogram compressed by log1p(TEMPOGRAM_GAIN * tg).
START_BPM = 120.0
STD_BPM = 1.0
MAX_TEMPO = 320.0
TEMPOGRAM_GAIN = 1e6
# onset_detect's peak picking (found by librosa's hyper-parameter search): a peak is the maximum from
# PRE_MAX_S before to POST_MAX_S after it, DELTA above the mean from PRE_AVG_S before to POST_AVG_S
# after it (in the envelope scaled to [0, 1]), and at least WAIT_S after the previous peak.
PRE_MAX_S = 0.03
POST_MAX_S = 0.0
PRE_AVG_S = 0.10
POST_AVG_S = 0.10
WAIT_S = 0.03
DELTA = np.float32(0.07)  # float32: the numba kernel's signature casts it


# ---------------------------------------------------------------- onset envelope


def onset_strength(log_mel: FloatArray, hop_length: int) -> FloatArray:
    """Spectral flux onset envelope of a dB mel spectrum ``(n_mels, n_frames)``: ``(n_frames,)``.

    Each frame is the mean over bands of the rise in dB since the frame ``LAG`` before, shifted
    ``LAG + N_FFT // (2 * hop_length)`` frames late (zeros first), as centred frames would be.
    """
    rise = np.maximum(0.0, log_mel[:, LAG:] - log_mel[:, :-LAG])
    shift = LAG + N_FFT // (2 * hop_length)
    envelope: FloatArray = np.pad(rise.mean(axis=0), (shift, 0))[: log_mel.shape[1]]
    return envelope


# ---------------------------------------------------------------- tempogram and tempo


def next_fast_len(n: int) -> int:
    """The smallest length ``>= n`` whose only prime factors are ``FFT_FACTORS`` (a fast real FFT)."""
    length = n
    while True:
        rest = length
        for factor in FFT_FACTORS:
            while rest % factor == 0:
                rest //= factor
        if rest == 1:
            return length
        length += 1


def autocorrelate(frames: DoubleArray) -> DoubleArray:
    """Autocorrelation of each row of ``(n_rows, n_lags)`` at lags ``0 .. n_lags - 1``, via the power
    spectrum of the row zero-padded to a fast length of at least ``2 * n_lags - 1``."""
    n_lags = frames.shape[1]
    n_pad = next_fast_len(2 * n_lags - 1)
    spectrum = np.fft.rfft(frames, n=n_pad, axis=1)
    power = spectrum.real * spectrum.real
    power += spectrum.imag * spectrum.imag
    correlation: DoubleArray = np.fft.irfft(power, n=n_pad, axis=1)[:, :n_lags]
    return correlation


def tempogram(envelope: FloatArray) -> DoubleArray:
    """Autocorrelation tempogram ``(WIN_LENGTH, n_frames)`` of an onset envelope ``(n_frames,)``.

    Column ``t`` is the autocorrelation (lags ``0 .. WIN_LENGTH - 1`` frames) of the envelope under a
    periodic Hann window centred on frame ``t``, scaled to a peak of 1; the envelope is extended by
    linear ramps down to 0 at both ends. The frame rate and hop are not needed: lag ``k`` is the tempo
    ``tempo_frequencies(...)[k]``.
    """
    padded = np.pad(envelope, WIN_LENGTH // 2, mode="linear_ramp", end_values=0)
    frames = np.lib.stride_tricks.sliding_window_view(padded, WIN_LENGTH)[: envelope.size]  # one row per frame
    window = hann(WIN_LENGTH)
    columns = np.empty((WIN_LENGTH, envelope.size), dtype=np.float64)  # librosa's layout: means add alike
    for start in range(0, envelope.size, _TEMPOGRAM_BLOCK):  # in blocks of rows: they stay in cache
        block = frames[start : start + _TEMPOGRAM_BLOCK] * window
        columns[:, start : start + _TEMPOGRAM_BLOCK] = normalize(autocorrelate(block).T, np.inf)
    return columns


def tempo_frequencies(n_bins: int, sample_rate: int, hop_length: int) -> DoubleArray:
    """The tempo (BPM) of each tempogram lag ``(n_bins,)``: ``inf`` at lag 0."""
    bpms = np.zeros(n_bins, dtype=np.float64)
    bpms[0] = np.inf
    bpms[1:] = 60.0 * sample_rate / (hop_length * np.arange(1.0, n_bins))
    return bpms


def tempo(tempogram: DoubleArray, sample_rate: int, hop_length: int) -> float:
    """The global tempo (BPM) of a tempogram ``(n_bins, n_frames)``: the lag where the mean over frames,
    log-compressed and weighted by the log-normal prior around ``START_BPM``, peaks (a silent clip,
    all zeros, gets the lag nearest ``START_BPM``)."""
    bpms = tempo_frequencies(tempogram.shape[0], sample_rate, hop_length)
    log_prior = -0.5 * ((np.log2(bpms) - np.log2(START_BPM)) / STD_BPM) ** 2
    log_prior[: int(np.argmax(bpms < MAX_TEMPO))] = -np.inf
    best = np.argmax(np.log1p(TEMPOGRAM_GAIN * tempogram.mean(axis=1)) + log_prior)
    return float(bpms[best])


def tempogram_ratio(
    mean_tempogram: DoubleArray, sample_rate: int, bpm: float, hop_length: int, factors: DoubleArray
) -> DoubleArray:
    """The tempogram ``(n_bins,)`` or ``(n_bins, 1)`` read at ``bpm`` times each of ``factors``,
    linearly interpolated between lags (0 beyond the slowest and fastest): ``(n_factors,)``."""
    column = mean_tempogram.reshape(mean_tempogram.shape[0])
    bpms = tempo_frequencies(column.size, sample_rate, hop_length)
    finite = np.isfinite(bpms)
    order = np.argsort(bpms[finite], kind="mergesort")  # slowest first
    grid, values = bpms[finite][order], column[finite][order]
    targets = bpm * factors
    ratios: DoubleArray = np.interp(targets, grid, values)
    ratios[(targets < grid[0]) | (targets > grid[-1])] = 0.0
    return ratios


# ---------------------------------------------------------------- onset detection


def onset_frames(envelope: FloatArray, sample_rate: int, hop_length: int) -> FrameArray:
    """Frames of the onsets ``(n_onsets,)``: the peaks of the envelope scaled to [0, 1] that are the
    maximum of their neighbourhood, ``DELTA`` above its mean and ``WAIT_S`` after the previous one."""
    scaled = envelope - envelope.min()
    scaled /= scaled.max() + np.finfo(scaled.dtype).tiny
    if not scaled.any() or not np.all(np.isfinite(scaled)):
        return np.array([], dtype=np.intp)
    pre_max, post_max = _frames(PRE_MAX_S, sample_rate, hop_length), _frames(POST_MAX_S, sample_rate, hop_length) + 1
    pre_avg, post_avg = _frames(PRE_AVG_S, sample_rate, hop_length), _frames(POST_AVG_S, sample_rate, hop_length) + 1
    peaks = (scaled == moving_max(scaled, pre_max, post_max)) & (
        scaled >= moving_mean(scaled, pre_avg, post_avg) + DELTA
    )
    return keep_apart(np.flatnonzero(peaks), _frames(WAIT_S, sample_rate, hop_length))


def _frames(seconds: float, sample_rate: int, hop_length: int) -> int:
    """Whole frames in ``seconds`` (rounded down, as onset_detect computes its peak-picking spans)."""
    return int(np.ceil(seconds * sample_rate // hop_length))


def moving_max(x: FloatArray, before: int, after: int) -> FloatArray:
    """``out[n] = max(x[n - before : n + after])``, the window cut at both ends of ``x``."""
    padded = np.pad(x, (before, after - 1), constant_values=-np.inf)
    maxima: FloatArray = np.lib.stride_tricks.sliding_window_view(padded, before + after).max(axis=1)
    return maxima


def moving_mean(x: FloatArray, before: int, after: int) -> FloatArray:
    """``out[n] = mean(x[n - before : n + after])``, the window cut at both ends of ``x``, as librosa's
    numba kernel computes it: a float32 running sum from the left, divided in float64 by the count."""
    padded = np.pad(x, (before, after - 1))  # zeros leave a float32 running sum of x >= 0 unchanged
    total = np.zeros_like(x)
    for window_column in np.lib.stride_tricks.sliding_window_view(padded, before + after).T:
        total = total + window_column
    frames = np.arange(x.size)
    count = np.minimum(frames + after, x.size) - np.maximum(0, frames - before)
    means: FloatArray = (total.astype(np.float64) / count).astype(np.float32)
    return means


def keep_apart(candidates: FrameArray, wait: int) -> FrameArray:
    """The candidate frames (ascending) kept from the first on, each more than ``wait`` frames after
    the last kept."""
    kept: list[int] = []
    for frame in candidates.tolist():
        if not kept or frame > kept[-1] + wait:
            kept.append(frame)
    return np.array(kept, dtype=np.intp)
