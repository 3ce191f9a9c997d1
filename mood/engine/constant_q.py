"""librosa's constant-Q transform, chroma, CENS and tonnetz, step for step, in numpy (and soxr) alone.

Importing librosa costs about 2.3 s in every new process (scipy.signal, numba kernels), and the
harmony features need nothing of it but these four transforms. The functions here do what
``librosa.cqt`` (with its defaults: a periodic Hann window, filter_scale 1, L1-normalised
wavelets, sparsity 0.01, centred frames with zero padding, soxr_hq resampling, ``scale=True``),
``librosa.feature.chroma_cqt`` (of a CQT, or of samples with a given tuning),
``librosa.feature.chroma_cens`` and ``librosa.feature.tonnetz`` do in librosa 0.11.0, in the same
order of float operations. The transform's algorithm is librosa's: optional early downsampling,
then per octave from the top one, the octave's wavelet filters in the frequency domain (sparsified
to the bins holding 99 % of their magnitude), their response to a short-time Fourier transform,
and a halving of the signal with soxr.

Where librosa leaves the work to scipy, the same arithmetic is spelled out in numpy: scipy's
sparse product becomes a sum over each filter's kept bins in column order, in float32 real and
imaginary parts as scipy's C++ loop computes it (numpy's SIMD complex multiply fuses a
multiply-add, which rounds differently); ``scipy.fft`` transforms the complex64 filters in single
precision, which numpy's FFT does only when given a float32 scale factor; ``scipy.ndimage.convolve``
becomes a sum of shifted, weighted copies in float64; scipy's Hann window is its cosine formula.
``tests/test_constant_q.py`` checks every function against librosa, bit for bit.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from mood.engine.audio import resample
from mood.engine.dsp import hann, normalize

FloatArray = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex64]

C1_HZ = float(440.0 * 2.0 ** ((24 - 69.0) / 12.0))  # librosa.note_to_hz("C1"): MIDI note 24
N_CHROMA = 12
CHROMA_OCTAVES = 7  # chroma_cqt's default n_octaves, from C1
_HANN_BANDWIDTH = 1.50018310546875  # librosa.filters.WINDOW_BANDWIDTHS["hann"]: equivalent noise bandwidth, bins
_SPARSITY = 0.01  # share of each filter's magnitude (in the frequency domain) dropped
_CACHED_OCTAVES = 1024  # octaves of filters kept: 7 a transform; the 100 tunings (0.01 bin apart) fill 700, 11 MB
_CENS_STEPS = (0.4, 0.2, 0.1, 0.05)  # quantisation thresholds of the L1-normalised chroma
_CENS_STEP_WEIGHT = 0.25
_CENS_SMOOTHING = 41  # frames of the smoothing window (+ its two zero ends)
_TONNETZ_RATIOS = (7.0 / 6, 7.0 / 6, 3.0 / 2, 3.0 / 2, 2.0 / 3, 2.0 / 3)  # fifths, minor thirds, major thirds
_TONNETZ_RADII = (1, 1, 1, 1, 0.5, 0.5)


# ---------------------------------------------------------------- the constant-Q filters


def cqt_frequencies(n_bins: int, fmin: float, bins_per_octave: int) -> Float64Array:
    """Centre frequencies (Hz) of ``n_bins`` bins, ``bins_per_octave`` to an octave, from ``fmin``."""
    ratios = 2.0 ** (np.arange(0, bins_per_octave, dtype=float) / bins_per_octave)
    octaves = 2.0 ** np.arange(np.ceil(n_bins / bins_per_octave))
    frequencies: Float64Array = np.multiply.outer(octaves, ratios).flatten()[:n_bins] * fmin
    return frequencies


def relative_bandwidths(freqs: Float64Array) -> Float64Array:
    """Each bin's bandwidth relative to its frequency, from the local spacing of ``freqs`` (two or more)."""
    bins_per_octave = np.empty_like(freqs)
    log_freqs = np.log2(freqs)
    bins_per_octave[0] = 1 / (log_freqs[1] - log_freqs[0])
    bins_per_octave[-1] = 1 / (log_freqs[-1] - log_freqs[-2])
    bins_per_octave[1:-1] = 2 / (log_freqs[2:] - log_freqs[:-2])
    alpha: Float64Array = (2.0 ** (2 / bins_per_octave) - 1) / (2.0 ** (2 / bins_per_octave) + 1)
    return alpha


def filter_lengths(freqs: Float64Array, alpha: Float64Array, sample_rate: float) -> tuple[Float64Array, float]:
    """Fractional lengths (samples) of the filters at ``freqs``, and the highest frequency (Hz) they reach."""
    quality = 1.0 / alpha
    cutoff = float(np.max(freqs * (1 + 0.5 * _HANN_BANDWIDTH / quality)))
    lengths: Float64Array = quality * sample_rate / freqs
    return lengths, cutoff


def wavelets(freqs: Float64Array, alpha: Float64Array, sample_rate: float) -> tuple[ComplexArray, Float64Array]:
    """Hann-windowed complex sinusoids at ``freqs``, L1-normalised and centred in rows as long as the
    next power of two above the longest: ``(len(freqs), n_fft)``; and their fractional lengths."""
    lengths, _ = filter_lengths(freqs, alpha, sample_rate)
    n_fft = int(2.0 ** np.ceil(np.log2(np.max(lengths))))
    rows = []
    for length, freq in zip(lengths, freqs, strict=True):
        angles = np.arange(-length // 2, length // 2, dtype=float) * 2 * np.pi * freq / sample_rate
        wave = np.cos(angles) + 1j * np.sin(angles)  # exactly cos + i sin, as librosa's phasor
        wave *= hann(len(wave), periodic=True)
        wave = normalize(wave, 1)
        left = (n_fft - len(wave)) // 2
        rows.append(np.pad(wave, (left, n_fft - len(wave) - left)))
    return np.asarray(rows, dtype=np.complex64), lengths


def sparsify_rows(spectra: ComplexArray) -> tuple[ComplexArray, npt.NDArray[np.intp]]:
    """The bins of each row that hold all but its smallest ``_SPARSITY`` share of magnitude, in column
    order: ``(values, columns)``, both ``(n_rows, most kept)``, rows with fewer padded with zeros at column 0
    (a zero adds nothing to a product)."""
    magnitudes = np.abs(spectra)
    norms = np.sum(magnitudes, axis=1, keepdims=True)
    ordered = np.sort(magnitudes, axis=1)
    cumulative = np.cumsum(ordered / norms, axis=1)
    smallest_kept = ordered[np.arange(len(ordered)), np.argmin(cumulative < _SPARSITY, axis=1)]
    kept = [np.flatnonzero(row >= floor) for row, floor in zip(magnitudes, smallest_kept, strict=True)]
    width = max(len(columns) for columns in kept)
    values = np.zeros((len(kept), width), dtype=np.complex64)
    padded = np.zeros((len(kept), width), dtype=np.intp)
    for i, columns in enumerate(kept):
        values[i, : len(columns)] = spectra[i, columns]
        padded[i, : len(columns)] = columns
    return values, padded


def filter_spectra(
    freqs: Float64Array, alpha: Float64Array, sample_rate: float
) -> tuple[ComplexArray, npt.NDArray[np.intp], int]:
    """One octave's filters in the frequency domain, sparsified (see :func:`sparsify_rows`), and the FFT size.

    Kept for the last ``_CACHED_OCTAVES`` octaves asked for (the filters depend on nothing but these
    values: a clip without a tuning of its own reuses them), read-only: copy before changing them.
    """
    return _filter_spectra(tuple(freqs.tolist()), tuple(alpha.tolist()), sample_rate)


@lru_cache(maxsize=_CACHED_OCTAVES)
def _filter_spectra(
    freqs_hz: tuple[float, ...], alphas: tuple[float, ...], sample_rate: float
) -> tuple[ComplexArray, npt.NDArray[np.intp], int]:
    """:func:`filter_spectra` of the values as tuples (hashable), computed once."""
    freqs, alpha = np.array(freqs_hz), np.array(alphas)
    basis, lengths = wavelets(freqs, alpha, sample_rate)
    n_fft = basis.shape[1]
    basis *= lengths[:, np.newaxis] / float(n_fft)
    # librosa transforms with scipy.fft, in single precision for complex64; numpy's FFT does so only
    # when a float32 scale factor is given, as norm="forward" (1 / n_fft) gives, undone exactly (2^k).
    spectra = np.fft.fft(basis, axis=1, norm="forward")[:, : n_fft // 2 + 1] * n_fft
    values, columns = sparsify_rows(spectra)
    values.flags.writeable = columns.flags.writeable = False
    return values, columns, n_fft


# ---------------------------------------------------------------- the transform


def unwindowed_stft(wav: FloatArray, n_fft: int, hop_length: int) -> tuple[FloatArray, FloatArray]:
    """Real and imaginary parts of the complex64 STFT of centred, zero-padded, unwindowed frames
    (transformed in float64), each ``(1 + n_fft // 2, n_frames)``."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(wav, n_fft // 2), n_fft)[::hop_length]
    transform = np.fft.rfft(frames.astype(np.float64), axis=-1).astype(np.complex64)
    return np.ascontiguousarray(transform.real.T), np.ascontiguousarray(transform.imag.T)


def octave_response(
    wav: FloatArray, hop_length: int, values: ComplexArray, columns: npt.NDArray[np.intp], n_fft: int
) -> tuple[FloatArray, FloatArray]:
    """Real and imaginary parts of the sparse filters' response to the STFT, ``(n_filters, n_frames)``:
    scipy's CSR product, ``y += a·x`` over each row's kept bins in order, with float32 real arithmetic."""
    real, imag = unwindowed_stft(wav, n_fft, hop_length)
    out_real = np.zeros((len(values), real.shape[1]), dtype=np.float32)
    out_imag = np.zeros_like(out_real)
    for k in range(values.shape[1]):
        a_real, a_imag = values.real[:, k, np.newaxis], values.imag[:, k, np.newaxis]
        x_real, x_imag = real[columns[:, k]], imag[columns[:, k]]
        out_real += a_real * x_real - a_imag * x_imag
        out_imag += a_real * x_imag + a_imag * x_real
    return out_real, out_imag


def downsample(wav: FloatArray, factor: int) -> FloatArray:
    """``librosa.resample(wav, orig_sr=factor, target_sr=1, res_type="soxr_hq", scale=True)``:
    :func:`mood.engine.audio.resample` (librosa's default resampling), times ``sqrt(factor)``."""
    resampled = resample(wav, factor, 1) / np.sqrt(1.0 / factor)
    return np.asarray(resampled, dtype=wav.dtype)


def two_factors(n: int) -> int:
    """How many times 2 divides ``n`` (positive)."""
    count = 0
    while n % 2 == 0:
        count, n = count + 1, n // 2
    return count


def early_downsampling(nyquist: float, cutoff: float, hop_length: int, n_octaves: int) -> int:
    """How many halvings the signal can take before the first octave: as many as keep the top filter
    well below the Nyquist frequency and the hop divisible by 2 in every octave."""
    by_bandwidth = max(0, int(np.ceil(np.log2(nyquist / cutoff)) - 1) - 1)
    by_hop = max(0, two_factors(hop_length) - n_octaves + 1)
    return min(by_bandwidth, by_hop)


def cqt_magnitude(
    wav: FloatArray,
    sample_rate: int,
    hop_length: int,
    fmin: float,
    n_bins: int,
    bins_per_octave: int,
    *,
    tuning: float = 0.0,
) -> FloatArray:
    """``np.abs(librosa.cqt(wav, sr=..., hop_length=..., fmin=..., n_bins=..., bins_per_octave=..., tuning=...))``
    of mono float32 samples: ``(n_bins, 1 + len(wav) // hop_length)`` float32, Fortran-ordered as librosa's.
    ``tuning`` (fractions of a bin) moves every bin: ``fmin * 2 ** (tuning / bins_per_octave)``."""
    n_octaves = int(np.ceil(float(n_bins) / bins_per_octave))
    n_filters = min(bins_per_octave, n_bins)
    freqs = cqt_frequencies(n_bins, fmin * 2.0 ** (tuning / bins_per_octave), bins_per_octave)  # tuning 0: fmin × 1.0
    alpha = relative_bandwidths(freqs)
    _, cutoff = filter_lengths(freqs, alpha, sample_rate)
    nyquist = sample_rate / 2.0
    if cutoff > nyquist:
        raise ValueError(f"the top filter reaches {cutoff:.1f} Hz, above the Nyquist frequency ({nyquist} Hz)")

    if hop_length < 1:
        raise ValueError(f"hop_length={hop_length} is not a positive number of samples")

    rate = float(sample_rate)  # after the early halvings, if any
    halvings = early_downsampling(nyquist, cutoff, hop_length, n_octaves)
    if halvings > 0:
        if wav.shape[-1] < 2**halvings:
            raise ValueError(f"{wav.shape[-1]} samples are too few for a {n_octaves}-octave CQT")
        hop_length //= 2**halvings
        wav, rate = downsample(wav, 2**halvings), rate / float(2**halvings)

    responses = []
    octave_wav, octave_sr, octave_hop = wav, rate, hop_length
    for i in range(n_octaves):
        octave = slice(-n_filters, None) if i == 0 else slice(-n_filters * (i + 1), -n_filters * i)
        shared, columns, n_fft = filter_spectra(freqs[octave], alpha[octave], octave_sr)
        values = shared.copy()
        values *= np.sqrt(rate / octave_sr)  # compensates the octave's downsampling
        responses.append(octave_response(octave_wav, octave_hop, values, columns, n_fft))
        if octave_hop % 2 == 0 and i + 1 < n_octaves:
            octave_hop //= 2
            octave_sr /= 2.0
            octave_wav = downsample(octave_wav, 2)

    n_frames = min(real.shape[1] for real, _ in responses)
    transform = np.empty((n_bins, n_frames), dtype=np.complex64, order="F")
    transform.real = np.concatenate([real[:, :n_frames] for real, _ in reversed(responses)])
    transform.imag = np.concatenate([imag[:, :n_frames] for _, imag in reversed(responses)])
    lengths, _ = filter_lengths(freqs, alpha, rate)
    transform /= np.sqrt(lengths)[:, np.newaxis]
    magnitude: FloatArray = np.abs(transform)
    return magnitude


# ---------------------------------------------------------------- chroma, CENS, tonnetz


def cq_to_chroma(n_input: int, bins_per_octave: int) -> FloatArray:
    """``librosa.filters.cq_to_chroma`` for a CQT from C1: which chroma each CQT bin adds to, ``(12, n_input)``."""
    n_merge = float(bins_per_octave) / N_CHROMA
    if n_merge % 1 != 0:
        raise ValueError(f"bins_per_octave={bins_per_octave} is not a multiple of {N_CHROMA}")
    merge = np.roll(np.repeat(np.eye(N_CHROMA), int(n_merge), axis=1), -int(n_merge // 2), axis=1)
    tiled = np.tile(merge, int(np.ceil(float(n_input) / bins_per_octave)))[:, :n_input]
    return tiled.astype(np.float32)  # C1 is a C: no rotation


def unnormalised_chroma(C: FloatArray, bins_per_octave: int) -> FloatArray:
    """CQT magnitudes ``(n_bins, n_frames)`` summed into 12 pitch classes from C: ``(12, n_frames)``."""
    chroma: FloatArray = np.einsum("cf,...ft->...ct", cq_to_chroma(C.shape[-2], bins_per_octave), C, optimize=True)
    return chroma


def chroma_from_cqt(C: FloatArray, bins_per_octave: int) -> FloatArray:
    """``librosa.feature.chroma_cqt(C=C, sr=22050, bins_per_octave=...)``: each frame's pitch classes,
    divided by the largest, ``(12, n_frames)``. (A magnitude has nothing below chroma_cqt's threshold 0.)"""
    return normalize(unnormalised_chroma(C, bins_per_octave), np.inf)


def smooth(values: FloatArray, window: Float64Array) -> FloatArray:
    """``scipy.ndimage.convolve`` of each row with an odd-length ``window``, zero beyond the ends:
    the weighted sum accumulated in float64, tap after tap, as ndimage's loop does."""
    half = len(window) // 2
    padded = np.pad(values.astype(np.float64), ((0, 0), (half, half)))
    n_frames = values.shape[1]
    total = np.zeros(values.shape, dtype=np.float64)
    for tap, weight in enumerate(window[::-1]):  # a convolution: the flipped window, correlated
        total += weight * padded[:, tap : tap + n_frames]
    return total.astype(np.float32)


def chroma_cqt(wav: FloatArray, sample_rate: int, hop_length: int, bins_per_octave: int, tuning: float) -> FloatArray:
    """``librosa.feature.chroma_cqt(y=wav, sr=..., hop_length=..., tuning=..., bins_per_octave=...)``:
    the CQT of ``CHROMA_OCTAVES`` octaves from C1 moved by ``tuning`` (fractions of a bin), folded into
    pitch classes as from an untuned C1 (librosa's chroma map is not told the tuning) and divided by
    each frame's largest, ``(12, 1 + len(wav) // hop_length)``."""
    n_bins = CHROMA_OCTAVES * bins_per_octave
    magnitude = cqt_magnitude(wav, sample_rate, hop_length, C1_HZ, n_bins, bins_per_octave, tuning=tuning)
    return chroma_from_cqt(magnitude, bins_per_octave)


def chroma_cens_from_cqt(C: FloatArray, bins_per_octave: int) -> FloatArray:
    """``librosa.feature.chroma_cens(C=C, sr=22050, bins_per_octave=...)``: the L1-normalised chroma
    quantised to quarters, smoothed over 41 frames by a Hann window and L2-normalised, ``(12, n_frames)``."""
    chroma = normalize(unnormalised_chroma(C, bins_per_octave), 1)
    quantised = np.zeros_like(chroma)
    for step in _CENS_STEPS:
        quantised += (chroma > step) * _CENS_STEP_WEIGHT
    window = hann(_CENS_SMOOTHING + 2, periodic=False)
    window /= np.sum(window)
    return normalize(smooth(quantised, window), 2)


def tonnetz(chroma: FloatArray) -> Float64Array:
    """``librosa.feature.tonnetz(chroma=chroma, sr=22050)``: the L1-normalised chroma ``(12, n_frames)``
    projected on the circles of fifths, minor thirds and major thirds, ``(6, n_frames)`` float64."""
    pitch_classes = np.linspace(0, 12, num=chroma.shape[-2], endpoint=False)
    angles = np.multiply.outer(np.asarray(_TONNETZ_RATIOS), pitch_classes)
    angles[::2] -= 0.5  # even rows are sines
    basis = np.array(_TONNETZ_RADII)[:, np.newaxis] * np.cos(np.pi * angles)
    projected: Float64Array = np.einsum("pc,...ci->...pi", basis, normalize(chroma, 1), optimize=True)
    return projected
