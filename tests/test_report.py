"""Results in words and tables: the confidence sentence, the probability table, CSV and JSON exports."""

from __future__ import annotations

import dataclasses
import io
import json

import pandas as pd
import pytest

from mood.constants import MOOD_DISPLAY_NAMES, MOODS, UNFAMILIAR_DISTANCE
from mood.engine.descriptors import Descriptors
from mood.engine.inference import Prediction, WindowPrediction
from mood.engine.manifest import Pretrained, Reliability, Transfer
from mood.presentation.report import (
    SONG_COLUMNS,
    SongResult,
    analysed_sentence,
    calibration_sentence,
    confidence_explanation,
    confidence_sentence,
    familiarity_note,
    mood_label,
    percent,
    pretrained_credit,
    probability_frame,
    reliability_markdown,
    song_result,
    songs_csv,
    songs_frame,
    songs_json,
    waiting_sentence,
    why_markdown,
)
from mood.service.analysis import Song, analyse
from tests.helpers import cv_block, typed_cv


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


def test_the_confidence_explanation_also_says_how_often_on_music_from_elsewhere() -> None:
    elsewhere = Transfer("Grekow", 321, 0.52, 0.53, 0.42, 0.8, 0.19, {"clear": Reliability(200, 0.612)})
    explained = confidence_explanation("clear", RECORD, elsewhere)
    assert explained.endswith(
        "answers this sure were right 84 % of the time; on music unlike what it learnt from "
        "(other genres, short excerpts), 61 %."
    )
    assert confidence_explanation("leaning", RECORD, elsewhere).endswith("right 56 % of the time.")  # not measured


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
    assert list(frame.columns) == ["Ensemble", "ResNet18"]
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
    assert table["unfamiliar"].isna().all()  # these models did not measure it
    measured = [
        dataclasses.replace(song, predictions=(dataclasses.replace(song.prediction, distance_from_training=distance),))
        for song, distance in zip(session, (2.0, 1.0), strict=True)
    ]
    assert songs_frame(measured)["unfamiliar"].tolist() == [True, False]


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


def descriptors(**fields: object) -> Descriptors:
    base: dict[str, object] = {
        "tempo_bpm": 120.0, "key": "C", "mode": "major", "key_confidence": 0.05, "loudness_dbfs": -16.0,
        "energy": 0.5, "brightness_hz": 2000.0, "percussiveness": 0.25,
    }  # fmt: skip
    return Descriptors(**{**base, **fields})  # type: ignore[arg-type]


def test_the_table_gives_each_songs_tempo_and_key_when_measured() -> None:
    measured = SongResult("a", "Upload", (prediction(0.4, 0.2, 0.2, 0.2),), descriptors(tempo_bpm=121.04, key="A"))
    unmeasured = SongResult("b", "Upload", (prediction(0.4, 0.2, 0.2, 0.2),))
    table = pd.read_csv(io.StringIO(songs_csv([measured, unmeasured])))
    assert table["tempo_bpm"].iloc[0] == 121.0 and table["key"].iloc[0] == "A major"
    assert table[["tempo_bpm", "key"]].iloc[1].isna().all()


def test_a_song_result_keeps_the_analysis_and_its_descriptors(
    random_weights_dir: object, song_wav_bytes: bytes
) -> None:
    from mood.engine.inference import Predictor

    song = Song(data=song_wav_bytes, title="Get Lucky", origin="Deezer preview", artist="Daft Punk")
    analysis = analyse(song.data, Predictor("ensemble", random_weights_dir))  # type: ignore[arg-type]
    result = song_result(song, analysis)
    assert (result.song, result.source) == ("Daft Punk – Get Lucky", "Deezer preview")
    assert result.predictions == analysis.predictions and result.descriptors == analysis.descriptors


def test_why_this_mood_says_how_it_sounds_what_that_suggests_and_that_it_is_a_tendency() -> None:
    sad = why_markdown(descriptors(tempo_bpm=70.0, key="E", mode="minor", key_confidence=0.3))
    lines = sad.splitlines()
    assert lines[0] == "**What it sounds like:**"
    assert lines[1:3] == ["- Slow (70 BPM)", "- In E minor"]
    assert "**Such music is often heard as:**" in lines
    assert "- Slow and in a minor key: typical of sad songs" in lines
    assert lines[-1].startswith("*These are tendencies") and lines[-1].endswith("from the sound itself.*")
    plain = why_markdown(descriptors())
    assert "- No clear key (closest: C major)" in plain
    assert "Nothing in how it sounds stands out as typical of one mood" in plain


def test_the_queue_lines_count_the_songs_ahead() -> None:
    assert waiting_sentence(1) == "Waiting for your turn: 1 song ahead"
    assert waiting_sentence(3) == "Waiting for your turn: 3 songs ahead"
    assert analysed_sentence("x.wav", "cldnn") == "Analysed “x.wav” with CLDNN"
    assert analysed_sentence("x.wav", "cldnn", 2) == "Analysed “x.wav” with CLDNN, after waiting for 2 songs ahead"


def test_calibration_is_said_with_its_temperature_and_errors_or_its_absence() -> None:
    calibration = {"method": "temperature", "temperature": 1.372, "ece_before": 0.121, "ece_after": 0.034}
    sentence = calibration_sentence(typed_cv(cv_block([[1] * 4] * 4, calibration=calibration)))
    assert sentence.startswith("Its probabilities are calibrated (temperature scaling, T = 1.37")
    assert "went from 0.121 to 0.034" in sentence and "within 3 percentage points" in sentence
    assert "shorter than" not in sentence  # one temperature for every length
    short = {"length_s": 6.0, "clip_length_s": 30.0, "clips": 1800, "macro_f1": 0.7, "temperature": 0.894,
             "ece_clip_temperature": 0.099, "ece_after": 0.023}  # fmt: skip
    with_short = calibration_sentence(
        typed_cv(cv_block([[1] * 4] * 4, calibration=calibration | {"short_clips": short}))
    )
    assert with_short.startswith(sentence)
    assert "A song shorter than 30 s" in with_short and "on 6 s excerpts" in with_short and "T = 0.89" in with_short
    assert "went from 0.099 to 0.023" in with_short
    for uncalibrated in (None, typed_cv(cv_block([[1] * 4] * 4))):
        assert calibration_sentence(uncalibrated).startswith("Its probabilities are not calibrated")
    familiarity = {"slope": 0.25, "clips": 2700, "ece_before": 0.012, "ece_after": 0.017}
    with_familiarity = calibration | {"familiarity": familiarity}
    softened = calibration_sentence(typed_cv(cv_block([[1] * 4] * 4, calibration=with_familiarity)))
    assert softened.startswith(sentence) and "unlike the training music" in softened
    assert "from 0.012 to 0.017" in softened


def test_a_song_unlike_the_training_music_is_said_to_be_and_others_are_not() -> None:
    near = dataclasses.replace(prediction(0.7, 0.1, 0.1, 0.1), distance_from_training=UNFAMILIAR_DISTANCE)
    far = dataclasses.replace(near, distance_from_training=UNFAMILIAR_DISTANCE + 0.01)
    assert familiarity_note(near) is None and familiarity_note(prediction(0.7, 0.1, 0.1, 0.1)) is None
    note = familiarity_note(far)
    assert note is not None and "unlike the music the models learnt from" in note and "less sure" in note


def test_a_pretrained_network_credits_its_authors_work_and_licence() -> None:
    provenance = Pretrained(
        package="musicnn", version="0.1.0", model="MSD_musicnn", licence="ISC", authors="Jordi Pons, Xavier Serra",
        trained_on="the Million Song Dataset", files={},
        copyright="Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019.",
    )  # fmt: skip
    assert pretrained_credit("musicnn", provenance) == (
        "**musicnn, fine-tuned** starts from MSD_musicnn, pretrained on the Million Song Dataset by Jordi Pons, "
        "Xavier Serra: “musicnn: pre-trained convolutional neural networks for music audio tagging”, "
        "Late-Breaking/Demo session of ISMIR 2019 (the `musicnn` package 0.1.0). ISC licence. "
        "Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019."
    )
    other = Pretrained(
        package="panns", version="1", model="Cnn14", licence="MIT", authors="Kong", trained_on="x", files={}
    )
    assert (
        pretrained_credit("cnn14", other)
        == "**cnn14** starts from Cnn14, pretrained on x by Kong: the `panns` package 1. MIT licence."
    )
