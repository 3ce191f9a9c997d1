"""One clip through the pipeline once: steps, shared spectrogram, every model's prediction."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mood.constants import MOODS
from mood.engine.inference import Predictor
from mood.errors import AudioError
from mood.service.analysis import ANALYSIS_STEPS, Song, analyse, song_from_preview
from mood.sources import PreviewAudio, Track
from mood.training.dataset import TrainingClip, read_clips


@pytest.fixture(scope="module")
def ensemble(random_weights_dir: Path) -> Predictor:
    return Predictor("ensemble", random_weights_dir)


def test_analysis_reports_each_step_and_matches_the_predictor(ensemble: Predictor, song_wav_bytes: bytes) -> None:
    steps: list[str] = []
    analysis = analyse(song_wav_bytes, ensemble, steps.append)
    assert steps == list(ANALYSIS_STEPS)
    assert [p.model for p in analysis.predictions] == ["ensemble", "resnet18", "cldnn"]
    assert analysis.headline == ensemble.predict(song_wav_bytes)
    assert analysis.front_end == ensemble.front_end
    spec = analysis.spectrogram
    assert spec.mel.shape == (ensemble.front_end.n_mels, spec.times_s.size)
    assert spec.freqs_hz.shape == (ensemble.front_end.n_mels,)
    assert spec.times_s[-1] == pytest.approx(analysis.headline.duration_s, abs=0.05)


def test_undecodable_audio_raises_the_engine_error(ensemble: Predictor) -> None:
    with pytest.raises(AudioError):
        analyse(b"not audio", ensemble)


def test_a_preview_becomes_a_credited_song() -> None:
    track = Track(
        title="Someone Like You", artists=("Adele",), album="21", artwork_url="https://i.scdn.co/image/x",
        isrc="GBBKS1000351", duration_s=285.0, link="https://open.spotify.com/track/1", provider="spotify", id="1",
    )  # fmt: skip
    preview = PreviewAudio(
        data=b"ID3...", provider="deezer", page_url="https://www.deezer.com/track/2", mime="audio/mpeg", track=track
    )
    song = song_from_preview(preview)
    assert song.label == "Adele – Someone Like You"
    assert song.origin == "Deezer preview" and song.mime == "audio/mpeg"
    assert song.credit == "Preview courtesy of Deezer" and song.credit_url == "https://www.deezer.com/track/2"
    assert (song.link_label, song.link) == ("Open in Spotify", "https://open.spotify.com/track/1")


def test_identical_bytes_are_the_same_song() -> None:
    assert Song(b"abc", "a", "Upload").key == Song(b"abc", "b", "Recording").key != Song(b"abd", "a", "Upload").key
    assert Song(b"abc", "Your recording", "Recording").label == "Your recording"
    assert Song(b"abc", "Hello", "Upload", artist="Adele").label == "Adele – Hello"


def test_training_clips_are_read_from_a_4q_metadata_file(tmp_path: Path) -> None:
    rows = [
        ("MT0000004637", "Q2", "angry", "audio/Q2/MT0000004637.mp3", "3", "Slayer"),
        ("MT0000040632", "Q4", "calm", "audio/Q4/MT0000040632.mp3", "0", "Enya"),
        ("MT0000011357", "Q1", "happy", "audio/Q1/MT0000011357.mp3", "1", "Pharrell Williams"),
    ]
    with (tmp_path / "metadata.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["song_id", "quadrant", "mood", "path", "fold", "artist"])
        writer.writerows(rows)
    clips = read_clips(tmp_path)
    assert all(isinstance(c, TrainingClip) for c in clips)
    assert [c.song_id for c in clips] == [r[0] for r in rows]
    assert [c.mood for c in clips] == [MOODS.index("angry"), MOODS.index("calm"), MOODS.index("happy")] == [1, 3, 0]
    assert [MOODS[c.mood] for c in clips] == [r[2] for r in rows]
    assert clips[0].path == tmp_path / "audio/Q2/MT0000004637.mp3"
    assert [c.fold for c in clips] == [3, 0, 1] and clips[2].artist == "Pharrell Williams"


def test_the_app_pipeline_runs_the_shipped_hybrid_member_with_its_reasons(song_wav_bytes: bytes) -> None:
    hybrid = Predictor("hybrid")
    analysis = analyse(song_wav_bytes, hybrid)
    assert analysis.headline == hybrid.predict(song_wav_bytes)
    assert sum(analysis.headline.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert analysis.headline.why  # the linear head's own terms reach the app
