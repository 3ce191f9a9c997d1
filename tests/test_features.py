"""Front ends: log-mel features as each model hears them, and analysis windows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mood.constants import SAMPLE_RATE
from mood.engine.audio import load_audio
from mood.engine.features import (
    MUSICNN_FRONT_END,
    SCRATCH_FRONT_END,
    FrontEnd,
    log_mel,
    log_mel_per_front_end,
    make_windows,
    spectrogram,
    window_starts,
)
from mood.errors import AudioError
from tests.helpers import chord_progression, tone, write_audio

N_MELS = SCRATCH_FRONT_END.n_mels
WINDOW_FRAMES = SCRATCH_FRONT_END.window_frames


def test_path_bytes_and_array_give_the_same_spectrogram(tmp_path: Path) -> None:
    path = write_audio(chord_progression(seconds=4.0), tmp_path / "a.flac")
    from_path = log_mel(path, SCRATCH_FRONT_END)
    np.testing.assert_array_equal(from_path, log_mel(path.read_bytes(), SCRATCH_FRONT_END))
    np.testing.assert_array_equal(from_path, log_mel(load_audio(path), SCRATCH_FRONT_END))
    assert from_path.shape == (N_MELS, 1 + 4 * SAMPLE_RATE // 512)
    assert from_path.dtype == np.float32


def test_musicnn_front_end_is_16khz_96_bands_log_compressed() -> None:
    wav = chord_progression(seconds=4.0, sr=SAMPLE_RATE)
    mel = log_mel(wav, MUSICNN_FRONT_END)
    assert mel.shape == (96, 1 + 4 * 16_000 // 256)
    assert mel.min() >= 0.0  # log10(1 + C * power) is never negative, unlike dB
    assert MUSICNN_FRONT_END.window_frames == 187 and MUSICNN_FRONT_END.window_s == pytest.approx(2.99, abs=0.01)


def test_loudness_normalisation_is_part_of_the_front_end() -> None:
    quiet = chord_progression(seconds=3.0, sr=SAMPLE_RATE) * 0.05
    np.testing.assert_allclose(log_mel(quiet, SCRATCH_FRONT_END), log_mel(quiet * 15, SCRATCH_FRONT_END), atol=1e-3)
    as_is = dataclasses.replace(SCRATCH_FRONT_END, loudness_dbfs=None)
    assert np.abs(log_mel(quiet, as_is) - log_mel(quiet * 15, as_is)).max() > 10  # 15x louder: +23.5 dB


def test_every_front_end_value_is_in_the_cache_key() -> None:
    keys = {SCRATCH_FRONT_END.cache_key()}
    changes = {"sample_rate": 16_000, "n_fft": 1024, "hop_length": 256, "n_mels": 96, "fmin": 20.0,
               "fmax": 8000.0, "top_db": 60.0, "float16_power": True, "loudness_dbfs": -14.0,
               "window_frames": 100, "hop_frames": 50, "max_windows": 5}  # fmt: skip
    assert set(changes) | {"scaling", "log_c"} == {f.name for f in dataclasses.fields(FrontEnd)}
    for name, value in changes.items():
        keys.add(dataclasses.replace(SCRATCH_FRONT_END, **{name: value}).cache_key())
    keys.add(dataclasses.replace(SCRATCH_FRONT_END, scaling="log1p", top_db=None, log_c=100.0).cache_key())
    assert len(keys) == len(changes) + 2


@pytest.mark.parametrize(
    "change",
    [{"scaling": "linear"}, {"top_db": None}, {"log_c": 1.0}, {"sample_rate": 44_100}, {"window_frames": 0}],
)
def test_inconsistent_front_ends_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(SCRATCH_FRONT_END, **change)


def test_each_distinct_front_end_is_computed_once() -> None:
    wav = chord_progression(seconds=3.0, sr=SAMPLE_RATE)
    mels = log_mel_per_front_end(wav, [SCRATCH_FRONT_END, MUSICNN_FRONT_END, SCRATCH_FRONT_END])
    assert list(mels) == [SCRATCH_FRONT_END, MUSICNN_FRONT_END]
    np.testing.assert_array_equal(mels[MUSICNN_FRONT_END], log_mel(wav, MUSICNN_FRONT_END))


def test_spectrogram_axes_are_seconds_and_hertz() -> None:
    wav = tone(1000.0, seconds=2.0, sr=SAMPLE_RATE)
    result = spectrogram(log_mel(wav, SCRATCH_FRONT_END), SCRATCH_FRONT_END)
    assert result.times_s.shape == (result.mel.shape[1],)
    assert result.times_s[-1] == pytest.approx(2.0, abs=0.05)
    assert result.freqs_hz.shape == (N_MELS,) and result.freqs_hz[-1] == pytest.approx(SAMPLE_RATE / 2)
    loudest_band = result.mel.mean(axis=1).argmax()
    assert 800 < result.freqs_hz[loudest_band] < 1200


@pytest.mark.parametrize(
    ("wav", "message"),
    [
        (np.zeros(3 * SAMPLE_RATE, dtype=np.float32), "silent"),
        (np.full(3 * SAMPLE_RATE, 1e-5, dtype=np.float32), "silent"),
        (tone(440.0, seconds=0.5, sr=SAMPLE_RATE), "at least 1 s"),
    ],
)
def test_silence_and_short_clips_are_refused(wav: np.ndarray, message: str) -> None:
    for front_end in (SCRATCH_FRONT_END, MUSICNN_FRONT_END):
        with pytest.raises(AudioError, match=message):
            log_mel(wav, front_end)


@pytest.mark.parametrize(
    ("n_frames", "expected"),
    [(216, [0]), (100, [0]), (216 + 108, [0, 108]), (216 + 150, [0, 108, 150]), (600, [0, 108, 216, 324, 384])],
)
def test_window_starts_cover_the_whole_clip(n_frames: int, expected: list[int]) -> None:
    assert window_starts(n_frames, 216, 108) == expected


def test_windows_of_a_30s_clip_and_of_a_short_one() -> None:
    mel = np.random.default_rng(0).normal(size=(N_MELS, 1292)).astype(np.float32)
    windows, starts = make_windows(mel, SCRATCH_FRONT_END)
    assert windows.shape == (len(starts), N_MELS, WINDOW_FRAMES) and len(starts) == 11
    short = np.arange(N_MELS * 50, dtype=np.float32).reshape(N_MELS, 50)
    looped, starts = make_windows(short, SCRATCH_FRONT_END)
    assert looped.shape == (1, N_MELS, WINDOW_FRAMES) and starts == [0]
    np.testing.assert_array_equal(looped[0, :, 50:100], short)  # looped, not zero-padded
    assert WINDOW_FRAMES == 216 and SCRATCH_FRONT_END.window_hop_s == pytest.approx(2.5, abs=0.01)


def test_a_long_song_gets_at_most_max_windows_spread_from_first_to_last() -> None:
    capped = dataclasses.replace(SCRATCH_FRONT_END, max_windows=4)
    mel = np.random.default_rng(1).normal(size=(N_MELS, 10_000)).astype(np.float32)
    every, every_start = make_windows(mel, SCRATCH_FRONT_END)
    few, starts = make_windows(mel, capped)
    assert len(every_start) > 4 and len(starts) == 4
    assert starts[0] == 0 and starts[-1] == every_start[-1]  # the first and the last window are kept
    assert starts == sorted(starts) and set(starts) <= set(every_start)
    np.testing.assert_array_equal(few[1], every[every_start.index(starts[1])])
    short = mel[:, : 216 + 3 * 108]  # exactly 4 windows: nothing is left out
    np.testing.assert_array_equal(make_windows(short, capped)[0], make_windows(short, SCRATCH_FRONT_END)[0])
