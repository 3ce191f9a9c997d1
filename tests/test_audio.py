"""Decoding: every format, path and bytes, odd sample rates, depths and channel counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mood.constants import SAMPLE_RATE
from mood.engine.audio import SEQUENTIAL_MEAN_CHANNELS, downmix, load_audio
from mood.errors import AudioError
from tests.helpers import SR, chord_progression, tone, write_audio


def dominant_frequency(wav: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(wav))
    return float(np.fft.rfftfreq(wav.size, 1 / sr)[spectrum.argmax()])


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".webm"])
def test_every_format_decodes_to_mono_float32_at_22050(tmp_path: Path, suffix: str) -> None:
    path = write_audio(tone(440.0, seconds=3.0), tmp_path / f"a{suffix}")
    for source in (path, str(path), path.read_bytes()):
        wav = load_audio(source)
        assert wav.dtype == np.float32 and wav.ndim == 1
        assert abs(wav.size / SAMPLE_RATE - 3.0) < 0.1  # encoders may pad a few ms
        assert abs(dominant_frequency(wav) - 440.0) < 3.0
        assert 0.1 < np.abs(wav).max() <= 1.0


@pytest.mark.parametrize("sr", [8_000, 11_025, 16_000, 22_050, 44_100, 48_000, 96_000, 192_000])
def test_sample_rates_from_8k_to_192k_are_resampled(tmp_path: Path, sr: int) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(1000.0, seconds=2.0, sr=sr), sr)
    wav = load_audio(path)
    assert wav.size == pytest.approx(2.0 * SAMPLE_RATE, abs=2)
    assert abs(dominant_frequency(wav) - 1000.0) < 2.0


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_sample_formats(tmp_path: Path, subtype: str) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(440.0, seconds=1.5, sr=SAMPLE_RATE), SAMPLE_RATE, subtype=subtype)
    wav = load_audio(path)
    assert wav.size == int(1.5 * SAMPLE_RATE)
    np.testing.assert_allclose(wav, tone(440.0, seconds=1.5, sr=SAMPLE_RATE), atol=0.01)


def test_six_channels_are_averaged(tmp_path: Path) -> None:
    left = tone(440.0, seconds=1.0, sr=SAMPLE_RATE)
    channels = np.stack([left, -left, left, -left, left, np.zeros_like(left)], axis=1)
    path = tmp_path / "surround.wav"
    sf.write(path, channels, SAMPLE_RATE)
    np.testing.assert_allclose(load_audio(path), left / 6, atol=1e-4)


def test_stereo_from_ffmpeg_path_is_mono(tmp_path: Path) -> None:
    stereo = np.stack([tone(440.0, 2.0), tone(440.0, 2.0)], axis=1)
    wav_path = tmp_path / "stereo.wav"
    sf.write(wav_path, stereo, SR)
    from tests.helpers import write_with_ffmpeg

    m4a = write_with_ffmpeg(load_audio(wav_path, sr=SR), SR, tmp_path / "stereo.m4a", "-c:a", "aac", "-ac", "2")
    assert load_audio(m4a).ndim == 1


def test_reads_at_most_max_duration(tmp_path: Path) -> None:
    path = write_audio(chord_progression(seconds=6.0), tmp_path / "long.flac")
    assert load_audio(path, max_duration_s=2.0).size == 2 * SAMPLE_RATE
    m4a = write_audio(chord_progression(seconds=6.0), tmp_path / "long.m4a")
    assert load_audio(m4a, max_duration_s=2.0).size == pytest.approx(2 * SAMPLE_RATE, abs=SAMPLE_RATE // 20)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"", "empty"),
        (b"this is not audio at all" * 50, "could not be read as audio"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", "could not be read as audio"),
    ],
)
def test_bad_bytes_raise_audio_error(source: bytes, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        load_audio(source)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="No file"):
        load_audio(tmp_path / "nope.wav")
    (tmp_path / "empty.mp3").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "empty.mp3")


def test_truncated_file_decodes_what_is_there_or_fails_clearly(tmp_path: Path) -> None:
    data = write_audio(chord_progression(seconds=4.0), tmp_path / "a.mp3").read_bytes()
    wav = load_audio(data[: len(data) // 2])
    assert 1.0 < wav.size / SAMPLE_RATE < 3.0


def test_nan_samples_are_rejected(tmp_path: Path) -> None:
    samples = tone(440.0, 1.5, sr=SAMPLE_RATE)
    samples[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(path)


@pytest.mark.parametrize(
    ("n", "native_sr", "sr"), [(44_100 * 3 + 7, 44_100, 22_050), (22_050 * 2 + 3, 22_050, 16_000), (5, 48_000, 22_050)]
)
def test_resampling_is_librosas_default_exactly(n: int, native_sr: int, sr: int) -> None:
    import librosa

    from mood.engine.audio import resample

    wav = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    expected = librosa.resample(wav, orig_sr=native_sr, target_sr=sr)
    got = resample(wav, native_sr, sr)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("n_channels", range(1, SEQUENTIAL_MEAN_CHANNELS + 3))
def test_downmix_is_numpys_mean_bit_for_bit(n_channels: int) -> None:
    rng = np.random.default_rng(n_channels)
    levels = rng.uniform(1e-3, 1.0, n_channels).astype(np.float32)  # channels of very different levels
    frames = rng.uniform(-1.0, 1.0, (44_100, n_channels)).astype(np.float32) * levels
    mono = downmix(frames)
    assert mono.dtype == np.float32 and mono.shape == (44_100,)
    assert np.array_equal(mono, frames.mean(axis=1, dtype=np.float32))
