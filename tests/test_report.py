"""Results in words and tables: the confidence sentence, the probability table, CSV and JSON exports."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.engine.inference import Prediction, WindowPrediction
from mood.engine.manifest import Reliability
from mood.presentation.report import (
    SONG_COLUMNS,
    SongResult,
    confidence_explanation,
    confidence_sentence,
    mood_label,
    percent,
    probability_frame,
    reliability_markdown,
    songs_csv,
    songs_frame,
    songs_json,
)


def prediction(happy: float, angry: float, sad: float, calm: float, model: str = "ensemble") -> Prediction:
    probabilities = {"happy": happy, "angry": angry, "sad": sad, "calm": calm}
    window = WindowPrediction(start_s=0.0, end_s=5.0, probabilities=probabilities)
    return Prediction(model=model, probabilities=probabilities, duration_s=30.0, timeline=(window,))


@pytest.mark.parametrize(
    ("probabilities", "sentence"),
    [
        ((0.72, 0.10, 0.08, 0.10), "Clearly happy (72 %)"),
        ((0.05, 0.12, 0.48, 0.35), "Leaning sad (48 %, calm 35 %)"),
        ((0.12, 0.15, 0.38, 0.35), "Mixed: sad 38 % / calm 35 %"),
        ((0.1, 0.6, 0.1, 0.2), "Clearly angry (60 %)"),
    ],
)
def test_the_confidence_sentence(probabilities: tuple[float, float, float, float], sentence: str) -> None:
    assert confidence_sentence(prediction(*probabilities)) == sentence


RECORD = {
    "clear": Reliability(clips=500, accuracy=0.838),
    "leaning": Reliability(clips=260, accuracy=0.558),
    "mixed": Reliability(clips=140, accuracy=0.4),
}


def test_the_confidence_explanation_says_how_often_such_answers_were_right() -> None:
    assert confidence_explanation("clear").endswith("well ahead of the others.")
    explained = confidence_explanation("clear", RECORD)
    assert explained.startswith(confidence_explanation("clear"))
    assert explained.endswith("answers this sure were right 84 % of the time.")
    unmeasured = {"mixed": Reliability(clips=0, accuracy=None)}
    assert confidence_explanation("mixed", unmeasured) == confidence_explanation("mixed")


def test_the_reliability_list_gives_each_level_its_share_and_accuracy() -> None:
    assert reliability_markdown(RECORD).splitlines() == [
        "- *Clearly*: 56 % of the songs, right 84 % of the time",
        "- *Leaning*: 29 % of the songs, right 56 % of the time",
        "- *Mixed*: 16 % of the songs, right 40 % of the time",
    ]
    # a level no test song got has no accuracy to give, and no line
    with_empty = {**RECORD, "mixed": Reliability(clips=0, accuracy=None)}
    assert [line.split(":")[0] for line in reliability_markdown(with_empty).splitlines()] == [
        "- *Clearly*",
        "- *Leaning*",
    ]


def test_words_for_moods_and_percentages() -> None:
    assert percent(0.724) == "72 %"
    assert percent(1.0) == "100 %"
    assert mood_label("calm") == "😌 Calm / relaxed"


def test_the_probability_frame_puts_models_side_by_side() -> None:
    frame = probability_frame([prediction(0.4, 0.2, 0.2, 0.2), prediction(0.7, 0.1, 0.1, 0.1, model="resnet18")])
    assert list(frame.columns) == ["Ensemble (all models)", "ResNet18"]
    assert list(frame.index) == [MOOD_DISPLAY_NAMES[m] for m in MOODS]
    assert frame.loc["Happy / upbeat", "ResNet18"] == 0.7


@pytest.fixture
def session() -> list[SongResult]:
    return [
        SongResult("Adele – Someone Like You", "Deezer preview", (prediction(0.05, 0.05, 0.6, 0.3),)),
        SongResult(
            "song.wav",
            "Upload",
            (
                prediction(0.5, 0.3, 0.1, 0.1),
                prediction(0.6, 0.2, 0.1, 0.1, "resnet18"),
                prediction(0.4, 0.4, 0.1, 0.1, "cldnn"),
            ),
        ),
    ]


def test_the_csv_has_a_row_per_song_with_its_four_probabilities(session: list[SongResult]) -> None:
    table = pd.read_csv(io.StringIO(songs_csv(session)))
    assert list(table.columns) == list(SONG_COLUMNS)
    assert table["song"].tolist() == ["Adele – Someone Like You", "song.wav"]
    assert table[list(MOODS)].to_numpy().tolist() == [[0.05, 0.05, 0.6, 0.3], [0.5, 0.3, 0.1, 0.1]]
    assert table["mood"].tolist() == ["sad", "happy"]
    assert table["confidence"].tolist() == ["clear", "leaning"]
    assert table["valence"].tolist() == pytest.approx([-0.3, 0.2])
    assert table["arousal"].tolist() == pytest.approx([-0.8, 0.6])


def test_the_json_holds_each_song_with_its_timeline_and_members(session: list[SongResult]) -> None:
    songs = json.loads(songs_json(session))
    assert [s["song"] for s in songs] == ["Adele – Someone Like You", "song.wav"]
    first, second = songs
    assert first["members"] == [] and first["mood"] == "sad" and first["source"] == "Deezer preview"
    assert first["timeline"] == [{"start_s": 0.0, "end_s": 5.0, "probabilities": first["probabilities"]}]
    assert [m["model"] for m in second["members"]] == ["resnet18", "cldnn"]
    assert set(second) >= {"model", "probabilities", "valence", "arousal", "duration_s", "confidence"}


def test_an_empty_session_exports_headers_only() -> None:
    assert songs_frame([]).columns.tolist() == list(SONG_COLUMNS)
    assert songs_csv([]).strip() == ",".join(SONG_COLUMNS)
    assert json.loads(songs_json([])) == []
