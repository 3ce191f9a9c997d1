"""The numpy mel spectrogram is librosa's, bit for bit, for every shipped front end and the
descriptors' bands; and neither a shipped model's answer nor a song's descriptors import librosa,
scipy or numba (their import is what made a cold start slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest

from mood.constants import SAMPLE_RATE
from mood.engine import melspec
from mood.engine.descriptors import PITCH_CLASSES
from mood.engine.features import MUSICNN_FRONT_END, SCRATCH_FRONT_END, FrontEnd, log_mel, normalise_loudness, resample
from mood.presentation.model_card import installed_models
from mood.training.members.musicnn import FINETUNE_FRONT_END
from tests.helpers import chord_progression, write_audio

FRONT_ENDS = {"scratch": SCRATCH_FRONT_END, "musicnn": MUSICNN_FRONT_END, "fine-tuned musicnn": FINETUNE_FRONT_END}


def librosa_log_mel(wav: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """What ``log_mel`` computed with librosa before it was written in numpy."""
    if front_end.sample_rate != SAMPLE_RATE:
        wav = resample(wav, SAMPLE_RATE, front_end.sample_rate)
    if front_end.loudness_dbfs is not None:
        wav = normalise_loudness(wav, front_end.loudness_dbfs)
    power = librosa.feature.melspectrogram(
        y=wav,
        sr=front_end.sample_rate,
        n_fft=front_end.n_fft,
        hop_length=front_end.hop_length,
        n_mels=front_end.n_mels,
        fmin=front_end.fmin,
        fmax=front_end.fmax,
    )
    if front_end.float16_power:
        power = power.astype(np.float16).astype(np.float32)
    if front_end.scaling == "db":
        return librosa.power_to_db(power, ref=1.0, top_db=front_end.top_db)
    return np.log10(1.0 + float(front_end.log_c or 0.0) * power).astype(np.float32)


@pytest.mark.parametrize("name", FRONT_ENDS)
@pytest.mark.parametrize("seconds", [1.1, 7.0])
def test_the_log_mel_is_librosas_exactly(name: str, seconds: float) -> None:
    wav = chord_progression(seconds=seconds, sr=SAMPLE_RATE) + 0.01 * np.random.default_rng(1).normal(
        size=round(seconds * SAMPLE_RATE)
    )
    wav = wav.astype(np.float32)
    ours, theirs = log_mel(wav, FRONT_ENDS[name]), librosa_log_mel(wav, FRONT_ENDS[name])
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "fmin", "fmax"), [(16_000, 512, 96, 0.0, 8000.0), (22_050, 2048, 40, 50.0, 6000.0)]
)
def test_the_filters_and_band_frequencies_are_librosas(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> None:
    np.testing.assert_array_equal(
        melspec.mel_filters(sr, n_fft, n_mels, fmin, fmax),
        librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax),
    )
    np.testing.assert_allclose(
        melspec.mel_frequencies(n_mels, fmin, fmax),
        librosa.mel_frequencies(n_mels=n_mels, fmin=fmin, fmax=fmax),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        melspec.frames_to_time(9, sr, 256), librosa.frames_to_time(np.arange(9), sr=sr, hop_length=256), rtol=1e-12
    )


@pytest.mark.parametrize(("sr", "n_fft", "n_mels"), [(22_050, 2048, 128), (16_000, 2048, 128), (16_000, 512, 96)])
def test_unnormalised_filters_and_their_mel_power_are_librosas(sr: int, n_fft: int, n_mels: int) -> None:
    """``norm=None`` (the descriptors' mel bands): triangles peaking at 1."""
    np.testing.assert_array_equal(
        melspec.mel_filters(sr, n_fft, n_mels, 0.0, sr / 2, slaney_norm=False),
        librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, norm=None),
    )
    power = melspec.power_spectrogram(chord_progression(seconds=3.0, sr=sr), n_fft, n_fft // 4)
    np.testing.assert_array_equal(
        melspec.mel_power_of(power, sr, n_fft, n_mels, 0.0, sr / 2, slaney_norm=False),
        librosa.feature.melspectrogram(S=power.T, sr=sr, n_mels=n_mels, norm=None),
    )


@pytest.mark.parametrize("top_db", [None, 40.0, 80.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_db_relative_to_the_loudest_bin_is_librosas_ref_np_max(top_db: float | None, dtype: type) -> None:
    wav = chord_progression(seconds=5.0, sr=SAMPLE_RATE)
    power = melspec.mel_power(wav, SAMPLE_RATE, 2048, 512, 128, 0.0, SAMPLE_RATE / 2).astype(dtype)
    for scale in (1.0, 1e-6, 1e-12):  # the loudest bin above, near and below the 1e-10 floor
        scaled = (power * scale).astype(dtype)
        ours = melspec.power_to_db(scaled, top_db, reference=float(scaled.max()))
        theirs = librosa.power_to_db(scaled, ref=np.max, top_db=top_db)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_the_floor_is_top_db_below_the_loudest_bin() -> None:
    power = np.array([[1.0, 1e-3, 1e-12]], dtype=np.float32)
    np.testing.assert_allclose(melspec.power_to_db(power, 20.0), [[0.0, -20.0, -20.0]], atol=1e-5)
    np.testing.assert_allclose(melspec.power_to_db(power, None), [[0.0, -30.0, -100.0]], atol=1e-4)


MODELS_WITHOUT_LIBROSA = """
import json, sys
from mood.engine.inference import Predictor
answers = {name: Predictor(name).predict(sys.argv[1]).probabilities for name in sys.argv[2:]}
packages = {m.partition(".")[0] for m in sys.modules}
print(json.dumps({"loaded": sorted({"librosa", "scipy", "numba"} & packages), "answers": answers}))
"""


def test_every_shipped_model_answers_without_importing_librosa_scipy_or_numba(tmp_path: Path) -> None:
    """Their import compiled numba kernels and parsed scipy's docstrings: 2-3 s of every cold start."""
    song = write_audio(chord_progression(seconds=8.0), tmp_path / "song.wav")
    names = installed_models()
    done = subprocess.run(
        [sys.executable, "-c", MODELS_WITHOUT_LIBROSA, str(song), *names], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["loaded"] == []
    assert {"ensemble", "hybrid", "musicnn", "resnet18", "cldnn"} <= set(result["answers"])


DESCRIBE_WITHOUT_LIBROSA = """
import json, sys
from mood.engine.audio import load_audio
from mood.engine.descriptors import describe
found = describe(load_audio(sys.argv[1])).to_dict()
packages = {m.partition(".")[0] for m in sys.modules}
print(json.dumps({"loaded": sorted({"librosa", "scipy", "numba"} & packages), "descriptors": found}))
"""


def test_the_descriptors_are_measured_without_importing_librosa_scipy_or_numba(tmp_path: Path) -> None:
    song = write_audio(chord_progression(seconds=8.0), tmp_path / "song.wav")
    done = subprocess.run(
        [sys.executable, "-c", DESCRIBE_WITHOUT_LIBROSA, str(song)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["loaded"] == []
    assert result["descriptors"]["key"] in PITCH_CLASSES
