"""One clip through the pipeline once: steps, shared spectrogram, every model's prediction."""

from __future__ import annotations

from pathlib import Path

import pytest

from mood.analysis import ANALYSIS_STEPS, Clip, analyse, clip_from_preview
from mood.errors import AudioError
from mood.inference import Predictor
from mood.sources import PreviewAudio, Track


@pytest.fixture(scope="module")
def ensemble(random_weights_dir: Path) -> Predictor:
    return Predictor("ensemble", random_weights_dir)


def test_analysis_reports_each_step_and_matches_the_predictor(ensemble: Predictor, song_wav_bytes: bytes) -> None:
    steps: list[str] = []
    analysis = analyse(song_wav_bytes, ensemble, steps.append)
    assert steps == list(ANALYSIS_STEPS)
    assert [p.model for p in analysis.predictions] == ["ensemble", "resnet18", "cldnn"]
    assert analysis.headline == ensemble.predict(song_wav_bytes)
    spec = analysis.spectrogram
    assert spec.mel_db.shape == (ensemble.config.n_mels, spec.times_s.size)
    assert spec.times_s[-1] == pytest.approx(analysis.headline.duration_s, abs=0.05)


def test_undecodable_audio_raises_the_engine_error(ensemble: Predictor) -> None:
    with pytest.raises(AudioError):
        analyse(b"not audio", ensemble)


def test_a_preview_becomes_a_credited_clip() -> None:
    track = Track(
        title="Someone Like You", artists=("Adele",), album="21", artwork_url="https://i.scdn.co/image/x",
        isrc="GBBKS1000351", duration_s=285.0, link="https://open.spotify.com/track/1", provider="spotify", id="1",
    )  # fmt: skip
    preview = PreviewAudio(
        data=b"ID3...", provider="deezer", page_url="https://www.deezer.com/track/2", mime="audio/mpeg", track=track
    )
    clip = clip_from_preview(preview)
    assert clip.label == "Adele – Someone Like You"
    assert clip.origin == "Deezer preview" and clip.mime == "audio/mpeg"
    assert clip.credit == "Preview courtesy of Deezer" and clip.credit_url == "https://www.deezer.com/track/2"
    assert (clip.link_label, clip.link) == ("Open in Spotify", "https://open.spotify.com/track/1")


def test_identical_bytes_are_the_same_song() -> None:
    assert Clip(b"abc", "a", "Upload").key == Clip(b"abc", "b", "Recording").key != Clip(b"abd", "a", "Upload").key
    assert Clip(b"abc", "Your recording", "Recording").label == "Your recording"
