"""Chart builders: the right data, axes and labels (Altair specs and a Matplotlib figure)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.engine.features import Spectrogram
from mood.engine.inference import Prediction, WindowPrediction
from mood.presentation.charts import (
    FONT_SIZE,
    MAX_LABELLED_SONGS,
    MOOD_COLOURS,
    PRESENTER_FONT_SIZE,
    confusion_chart,
    figure_png,
    heard_chart,
    heard_frame,
    mood_bars,
    mood_map,
    pitch_range_name,
    quadrant_corner,
    spectrogram_figure,
    timeline_chart,
)
from mood.service.explain import HeardMap
from tests.helpers import cv_block, typed_cv


def _window(start_s: float, top: str) -> WindowPrediction:
    return WindowPrediction(start_s, start_s + 5.0, {m: 0.7 if m == top else 0.1 for m in MOODS})


PREDICTION = Prediction(
    model="resnet18",
    probabilities={"happy": 0.1, "angry": 0.1, "sad": 0.5, "calm": 0.3},
    duration_s=10.0,
    timeline=(_window(0.0, "sad"), _window(2.5, "calm"), _window(5.0, "sad")),
)


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every single-mark view of a (possibly nested) layered spec."""
    if "layer" in spec:
        return [view for layer in spec["layer"] for view in _layers(layer)]
    return [spec]


def _data(spec: dict[str, Any], view: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = spec["datasets"][view["data"]["name"]]
    return rows


def test_mood_bars_show_each_probability_as_a_labelled_bar() -> None:
    spec = mood_bars(PREDICTION).to_dict()
    bars, labels = _layers(spec)
    assert bars["encoding"]["x"]["title"] == "Probability"
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 1]
    assert bars["encoding"]["y"]["sort"] == [MOOD_DISPLAY_NAMES[m] for m in MOODS]
    rows = spec["datasets"][spec["data"]["name"]]
    assert [r["percent"] for r in rows] == ["10 %", "10 %", "50 %", "30 %"]
    assert labels["encoding"]["text"]["field"] == "percent"
    assert spec["title"]["text"] == "ResNet18" and spec["title"]["subtitle"] == "Leaning sad (50 %, calm 30 %)"


def test_the_timeline_plots_every_window_and_mood_over_time() -> None:
    spec = timeline_chart(PREDICTION).to_dict()
    assert spec["encoding"]["x"]["title"] == "Time (s)"
    assert spec["encoding"]["x"]["scale"]["domain"] == [0, 10.0]
    assert spec["encoding"]["y"]["title"] == "Probability"
    rows = spec["datasets"][spec["data"]["name"]]
    assert len(rows) == 3 * len(MOODS)
    assert sorted({r["time_s"] for r in rows}) == [2.5, 5.0, 7.5]  # window centres


def test_quadrant_corners_follow_the_valence_and_arousal_definitions() -> None:
    assert {m: quadrant_corner(m) for m in MOODS} == {
        "happy": (1.0, 1.0), "angry": (-1.0, 1.0), "sad": (-1.0, -1.0), "calm": (1.0, -1.0),
    }  # fmt: skip


def test_the_mood_map_labels_the_quadrants_and_places_every_song() -> None:
    songs = pd.DataFrame({"song": ["A", "B"], "mood": ["sad", "happy"], "valence": [-0.4, 0.6], "arousal": [-0.5, 0.2]})
    spec = mood_map(songs, highlight="B").to_dict()
    views = _layers(spec)
    encodings = [v["encoding"] for v in views if "x" in v.get("encoding", {}) and "title" in v["encoding"]["x"]]
    assert encodings[0]["x"]["title"] == "Valence (unpleasant → pleasant)"
    assert encodings[0]["y"]["title"] == "Arousal (calm → energetic)"
    texts = [v for v in views if v["mark"]["type"] == "text"]
    quadrant_names = {r["mood"] for r in _data(spec, texts[0])}
    assert quadrant_names == set(MOOD_DISPLAY_NAMES.values())
    dots = next(v for v in views if v["mark"]["type"] == "circle")
    points = _data(spec, dots)
    assert [(p["song"], p["x"], p["y"], p["current"]) for p in points] == [
        ("A", -0.4, -0.5, False),
        ("B", 0.6, 0.2, True),
    ]


def test_the_confusion_chart_shows_row_shares() -> None:
    cv = typed_cv(cv_block([[8, 2, 0, 0], [1, 9, 0, 0], [0, 0, 5, 5], [0, 0, 4, 6]]))
    spec = confusion_chart(cv, "ResNet18").to_dict()
    cells = _layers(spec)[0]
    assert cells["encoding"]["x"]["title"] == "Predicted mood"
    assert cells["encoding"]["y"]["title"] == "True mood"
    rows = spec["datasets"][spec["data"]["name"]]
    share = {(r["true"], r["predicted"]): r["share"] for r in rows}
    assert share[("Sad / melancholic", "Calm / relaxed")] == pytest.approx(0.5)
    assert share[("Happy / upbeat", "Happy / upbeat")] == pytest.approx(0.8)


def test_the_spectrogram_figure_has_labelled_axes_a_colour_bar_and_the_windows() -> None:
    n_mels, n_frames = 128, 431
    spec = Spectrogram(
        mel=np.random.default_rng(0).normal(-40, 10, (n_mels, n_frames)).astype(np.float32),
        times_s=(np.arange(n_frames) * 512 / 22050).astype(np.float32),
        freqs_hz=np.linspace(0, 11025, n_mels).astype(np.float32),
    )
    fig = spectrogram_figure(spec, PREDICTION.timeline)
    strip, image_axes, colour_bar = fig.axes
    assert image_axes.get_xlabel() == "Time (s)"
    assert image_axes.get_ylabel() == "Frequency (Hz)"
    assert colour_bar.get_ylabel() == "Power (dB)"
    windows = strip.collections
    assert len(windows) == len(PREDICTION.timeline)
    assert [to_hex(w.get_facecolor()[0]) for w in windows] == [MOOD_COLOURS[m].lower() for m in ("sad", "calm", "sad")]
    assert figure_png(fig).startswith(b"\x89PNG")


def test_presenter_mode_charts_have_larger_text_and_taller_bars() -> None:
    normal, large = mood_bars(PREDICTION).to_dict(), mood_bars(PREDICTION, PRESENTER_FONT_SIZE).to_dict()
    assert normal["config"]["axis"]["labelFontSize"] == FONT_SIZE
    assert large["config"]["axis"]["labelFontSize"] == PRESENTER_FONT_SIZE
    assert large["height"]["step"] > normal["height"]["step"]
    assert _layers(large)[1]["mark"]["fontSize"] == PRESENTER_FONT_SIZE + 2  # the percentages
    timeline = timeline_chart(PREDICTION, PRESENTER_FONT_SIZE, title="Song A", legend_columns=2).to_dict()
    assert timeline["title"] == "Song A" and timeline["config"]["legend"]["labelFontSize"] == PRESENTER_FONT_SIZE
    assert timeline["encoding"]["color"]["legend"]["columns"] == 2  # wrapped for a narrow column


def _map_points(songs: pd.DataFrame, highlight: object = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The map's dots and its song labels."""
    spec = mood_map(songs, highlight=highlight).to_dict()  # type: ignore[arg-type]
    views = _layers(spec)
    dots = _data(spec, next(v for v in views if v["mark"]["type"] == "circle"))
    labels = _data(spec, [v for v in views if v["mark"]["type"] == "text"][-1])
    return dots, labels


def test_the_mood_map_highlights_two_songs_and_names_songs_only_while_they_fit() -> None:
    pair = pd.DataFrame(
        {"song": ["A", "B", "C"], "mood": ["sad", "happy", "calm"], "valence": [0.0] * 3, "arousal": [0.0] * 3}
    )
    dots, labels = _map_points(pair, highlight=["A", "C"])
    assert [d["current"] for d in dots] == [True, False, True]
    assert [label["song"] for label in labels] == ["A", "B", "C"]

    n = MAX_LABELLED_SONGS + 1
    many = pd.DataFrame(
        {"song": [f"S{i}" for i in range(n)], "mood": ["happy"] * n, "valence": [0.1] * n, "arousal": [0.2] * n}
    )
    dots, labels = _map_points(many, highlight="S3")
    assert len(dots) == n  # every song is on the map (with its tooltip) ...
    assert [label["song"] for label in labels] == ["S3"]  # ... but only the highlighted one is named


HEARD = HeardMap(
    model="resnet18",
    mood="sad",
    starts_s=np.array([0.0, 2.5, 5.0]),
    window_s=5.0,
    band_edges_hz=np.array([0.0, 200.0, 900.0, 3000.0, 11025.0]),
    importance=np.array([[0.0, 0.3, 0.0], [0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32),
)


def test_pitch_ranges_have_plain_names_and_their_limits() -> None:
    assert pitch_range_name(0.0, 200.0) == "deep bass (0–200 Hz)"
    assert pitch_range_name(200.0, 900.0) == "low (200–900 Hz)"
    assert pitch_range_name(900.0, 3000.0) == "middle (900 Hz–3.0 kHz)"
    assert pitch_range_name(3000.0, 11025.0) == "high (3.0–11.0 kHz)"


def test_the_heard_frame_tiles_time_and_keeps_each_drop() -> None:
    frame = heard_frame(HEARD)
    assert len(frame) == 4 * 3
    lowest = frame[frame["order"] == 0]
    # windows 0-5, 2.5-7.5 and 5-10 s: each reaches halfway to its neighbours' centres, the ends to the clip's
    assert lowest[["start_s", "end_s"]].values.tolist() == [[0.0, 3.75], [3.75, 6.25], [6.25, 10.0]]
    assert lowest["drop"].tolist() == pytest.approx([0.0, 0.3, 0.0])
    assert frame.loc[(frame["order"] == 2) & (frame["start_s"] == 0.0), "drop"].item() == pytest.approx(0.05)
    one = HeardMap(**{**HEARD.__dict__, "starts_s": np.array([0.0]), "importance": HEARD.importance[:, :1]})
    assert heard_frame(one)[["start_s", "end_s"]].drop_duplicates().values.tolist() == [[0.0, 5.0]]


def test_the_heard_chart_puts_bass_at_the_bottom_and_darkens_the_biggest_drop() -> None:
    spec = heard_chart(HEARD).to_dict()
    assert spec["mark"]["type"] == "rect"
    assert spec["encoding"]["x"]["title"] == "Time in the clip (s)"
    assert spec["encoding"]["y"]["sort"][-1] == "deep bass (0–200 Hz)"  # the last row is drawn lowest
    assert spec["encoding"]["y"]["sort"][0] == "high (3.0–11.0 kHz)"
    assert spec["encoding"]["color"]["scale"]["domain"] == [0, pytest.approx(0.3)]
    assert spec["title"]["text"] == "Where ResNet18 heard “Sad / melancholic”"
    quiet = HeardMap(**{**HEARD.__dict__, "importance": np.full((4, 3), 0.01, dtype=np.float32)})
    assert heard_chart(quiet).to_dict()["encoding"]["color"]["scale"]["domain"] == [0, 0.1]  # noise stays pale
