"""Log-mel features and analysis windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import chord_progression, tone, write_audio

from mood.audio import load_audio
from mood.constants import N_MELS, SAMPLE_RATE, WINDOW_FRAMES
from mood.errors import AudioError
from mood.features import DEFAULT_CONFIG, log_mel, make_windows, spectrogram, window_starts


def test_path_bytes_and_array_give_the_same_spectrogram(tmp_path: Path) -> None:
    path = write_audio(chord_progression(seconds=4.0), tmp_path / "a.flac")
    from_path = log_mel(path)
    np.testing.assert_array_equal(from_path, log_mel(path.read_bytes()))
    np.testing.assert_array_equal(from_path, log_mel(load_audio(path)))
    assert from_path.shape == (N_MELS, 1 + 4 * SAMPLE_RATE // 512)
    assert from_path.dtype == np.float32


def test_loudness_does_not_change_features() -> None:
    quiet = chord_progression(seconds=3.0, sr=SAMPLE_RATE) * 0.05
    np.testing.assert_allclose(log_mel(quiet), log_mel(quiet * 15), atol=1e-3)


def test_spectrogram_axes_are_seconds_and_hertz() -> None:
    result = spectrogram(tone(1000.0, seconds=2.0, sr=SAMPLE_RATE))
    assert result.times_s.shape == (result.mel_db.shape[1],)
    assert result.times_s[-1] == pytest.approx(2.0, abs=0.05)
    assert result.freqs_hz.shape == (N_MELS,) and result.freqs_hz[-1] == pytest.approx(SAMPLE_RATE / 2)
    loudest_band = result.mel_db.mean(axis=1).argmax()
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
    with pytest.raises(AudioError, match=message):
        log_mel(wav)


@pytest.mark.parametrize(
    ("n_frames", "expected"),
    [(216, [0]), (100, [0]), (216 + 108, [0, 108]), (216 + 150, [0, 108, 150]), (600, [0, 108, 216, 324, 384])],
)
def test_window_starts_cover_the_whole_clip(n_frames: int, expected: list[int]) -> None:
    assert window_starts(n_frames, 216, 108) == expected


def test_windows_of_a_30s_clip_and_of_a_short_one() -> None:
    windows, starts = make_windows(np.random.default_rng(0).normal(size=(N_MELS, 1292)).astype(np.float32))
    assert windows.shape == (len(starts), N_MELS, WINDOW_FRAMES) and len(starts) == 11
    short = np.arange(N_MELS * 50, dtype=np.float32).reshape(N_MELS, 50)
    looped, starts = make_windows(short)
    assert looped.shape == (1, N_MELS, WINDOW_FRAMES) and starts == [0]
    np.testing.assert_array_equal(looped[0, :, 50:100], short)  # looped, not zero-padded
    assert DEFAULT_CONFIG.window_frames == WINDOW_FRAMES
