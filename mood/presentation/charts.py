"""Charts of results: mood bars, mood timeline, valence/arousal map, confusion matrix (Altair),
and the log-mel spectrogram with its analysis windows (Matplotlib).

Every builder returns a chart object and draws nothing itself: the app hands it to
Streamlit, tests read its axes. Colours are the Okabe–Ito palette (safe for colour-blind
viewers) and text is large enough for a projector.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final, TypeVar, cast

import altair as alt
import librosa.display
import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mood.constants import MOOD_DISPLAY_NAMES, MOODS
from mood.engine.features import Spectrogram
from mood.engine.inference import Prediction, WindowPrediction
from mood.engine.manifest import CrossValidation
from mood.presentation.model_card import confusion_frame, display_name
from mood.presentation.report import confidence_sentence, percent

MOOD_COLOURS: Final = {"happy": "#E69F00", "angry": "#D55E00", "sad": "#0072B2", "calm": "#009E73"}
FONT_SIZE: Final = 14  # points, every chart's labels
_NAMES: Final = [MOOD_DISPLAY_NAMES[m] for m in MOODS]
ChartT = TypeVar("ChartT", alt.Chart, alt.LayerChart)
BAR_STEP_PX: Final = 44  # height of one mood's row in the bar chart
PNG_DPI: Final = 110  # sharp on a projector, small enough for bad Wi-Fi


def _mood_colour(legend: alt.Legend | None) -> alt.Color:
    """Colour by the ``mood`` column (display names), each mood its fixed colour."""
    scale = alt.Scale(domain=_NAMES, range=[MOOD_COLOURS[m] for m in MOODS])
    return alt.Color("mood:N", scale=scale, legend=legend, title=None)


def _styled(chart: ChartT) -> ChartT:
    """Large axis and title fonts, titles on the left."""
    styled = chart.configure_axis(labelFontSize=FONT_SIZE, titleFontSize=FONT_SIZE, labelLimit=0)
    return cast(ChartT, styled.configure_title(fontSize=FONT_SIZE + 4, subtitleFontSize=FONT_SIZE, anchor="start"))


def mood_bars(prediction: Prediction) -> alt.LayerChart:
    """One horizontal bar per mood, labelled with its percentage; titled with the model's name
    and its confidence sentence."""
    frame = pd.DataFrame(
        {
            "mood": _NAMES,
            "probability": [prediction.probabilities[m] for m in MOODS],
            "percent": [percent(prediction.probabilities[m]) for m in MOODS],
        }
    )
    base = alt.Chart(frame).encode(
        y=alt.Y("mood:N", sort=_NAMES, title=None),
        x=alt.X("probability:Q", title="Probability", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=_mood_colour(legend=None),
        tooltip=["mood:N", alt.Tooltip("probability:Q", format=".1%")],
    )
    bars = base.mark_bar(cornerRadiusEnd=4)
    labels = base.mark_text(align="left", dx=6, fontSize=FONT_SIZE + 2, fontWeight="bold").encode(text="percent:N")
    title = alt.Title(display_name(prediction.model), subtitle=confidence_sentence(prediction))
    chart: alt.LayerChart = (bars + labels).properties(title=title, height=alt.Step(BAR_STEP_PX))
    return _styled(chart)


def timeline_frame(timeline: Sequence[WindowPrediction]) -> pd.DataFrame:
    """The timeline in long form: one row per window and mood, at the window's centre (s)."""
    return pd.DataFrame(
        [
            {
                "time_s": (w.start_s + w.end_s) / 2,
                "window": f"{w.start_s:.1f}–{w.end_s:.1f} s",
                "mood": MOOD_DISPLAY_NAMES[m],
                "probability": w.probabilities[m],
            }
            for w in timeline
            for m in MOODS
        ]
    )


def timeline_chart(prediction: Prediction) -> alt.Chart:
    """Each mood's probability in each analysis window, over the clip's time."""
    chart: alt.Chart = (
        alt.Chart(timeline_frame(prediction.timeline))
        .mark_line(point=alt.OverlayMarkDef(size=80), strokeWidth=3)
        .encode(
            x=alt.X("time_s:Q", title="Time (s)", scale=alt.Scale(domain=[0, prediction.duration_s], nice=False)),
            y=alt.Y("probability:Q", title="Probability", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=_mood_colour(legend=alt.Legend(orient="bottom", labelFontSize=FONT_SIZE)),
            tooltip=["window:N", "mood:N", alt.Tooltip("probability:Q", format=".0%")],
        )
        .properties(title="Mood over time (one point per analysis window)", height=380)
    )
    return _styled(chart)


def quadrant_corner(mood: str) -> tuple[float, float]:
    """The (valence, arousal) corner of a mood's quadrant, from the axes' own definitions."""
    certain = Prediction(model="", probabilities={m: float(m == mood) for m in MOODS}, duration_s=0.0, timeline=())
    return certain.valence, certain.arousal


def mood_map(songs: pd.DataFrame, highlight: str | None = None) -> alt.LayerChart:
    """The valence/arousal plane with its four quadrants labelled and the songs on it.

    Args:
        songs: one row per song with columns ``song``, ``mood`` (a key of ``MOODS``),
            ``valence`` and ``arousal`` (the frame of :func:`mood.presentation.report.songs_frame`).
        highlight: the ``song`` to draw larger (the one just analysed).
    """
    corners = [(MOOD_DISPLAY_NAMES[m], *quadrant_corner(m)) for m in MOODS]
    quadrants = pd.DataFrame(
        [{"mood": name, "x": 0.0, "x2": v, "y": 0.0, "y2": a, "lx": 0.55 * v, "ly": 0.92 * a} for name, v, a in corners]
    )
    ticks = alt.Axis(values=[-1, -0.5, 0, 0.5, 1], format="+.1f")
    x = alt.X("x:Q", title="Valence (unpleasant → pleasant)", scale=alt.Scale(domain=[-1, 1], nice=False), axis=ticks)
    y = alt.Y("y:Q", title="Arousal (calm → energetic)", scale=alt.Scale(domain=[-1, 1], nice=False), axis=ticks)
    shade = (
        alt.Chart(quadrants).mark_rect(opacity=0.12).encode(x=x, x2="x2:Q", y=y, y2="y2:Q", color=_mood_colour(None))
    )
    names = (
        alt.Chart(quadrants)
        .mark_text(fontSize=FONT_SIZE + 2, fontWeight="bold")
        .encode(
            x="lx:Q",
            y="ly:Q",
            text="mood:N",
            color=_mood_colour(None),
        )
    )
    points = songs.assign(mood=songs["mood"].map(MOOD_DISPLAY_NAMES), current=songs["song"] == highlight).rename(
        columns={"valence": "x", "arousal": "y"}
    )
    dots = (
        alt.Chart(points)
        .mark_circle(opacity=0.9, stroke="black")
        .encode(
            x="x:Q",
            y="y:Q",
            color=_mood_colour(None),
            size=alt.condition("datum.current", alt.value(420), alt.value(160)),
            strokeWidth=alt.condition("datum.current", alt.value(2), alt.value(0)),
            tooltip=[
                "song:N",
                "mood:N",
                alt.Tooltip("x:Q", title="valence", format="+.2f"),
                alt.Tooltip("y:Q", title="arousal", format="+.2f"),
            ],
        )
    )
    labels = (
        alt.Chart(points).mark_text(align="left", dx=12, fontSize=FONT_SIZE).encode(x="x:Q", y="y:Q", text="song:N")
    )
    axes = alt.Chart(pd.DataFrame({"zero": [0.0]}))
    rules = axes.mark_rule(color="gray").encode(x="zero:Q") + axes.mark_rule(color="gray").encode(y="zero:Q")
    chart: alt.LayerChart = (shade + rules + names + dots + labels).properties(title="Where the songs sit", height=540)
    return _styled(chart)


def confusion_chart(cv: CrossValidation, title: str) -> alt.LayerChart:
    """A row-normalised confusion matrix (rows: true mood) with each cell's share of its row."""
    frame = confusion_frame(cv).replace({"true": MOOD_DISPLAY_NAMES, "predicted": MOOD_DISPLAY_NAMES})
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=_NAMES, title="Predicted mood", axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("true:N", sort=_NAMES, title="True mood"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), legend=None),
        tooltip=["true:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".0%")],
    )
    text = base.mark_text(fontSize=FONT_SIZE).encode(
        text=alt.Text("share:Q", format=".0%"),
        color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")),
    )
    chart: alt.LayerChart = (cells + text).properties(title=title, height=320)
    return _styled(chart)


def spectrogram_figure(spec: Spectrogram, windows: Sequence[WindowPrediction]) -> Figure:
    """The log-mel spectrogram (time in s, frequency in Hz on a mel scale, colour bar in dB),
    under a strip showing each analysis window coloured by its most probable mood."""
    with matplotlib.rc_context({"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 2}):
        fig = Figure(figsize=(11, 5), layout="constrained")
        strip, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 5])
        image = librosa.display.specshow(
            spec.mel, x_coords=spec.times_s, y_coords=spec.freqs_hz, x_axis="s", y_axis="mel", ax=ax, cmap="magma"
        )
        ax.set(xlabel="Time (s)", ylabel="Frequency (Hz)")
        fig.colorbar(image, ax=[strip, ax], format="%+.0f dB", label="Power (dB)")
        for i, window in enumerate(windows):
            top = max(window.probabilities, key=window.probabilities.__getitem__)
            row = i % 2  # consecutive windows overlap: alternate rows keep each visible
            strip.broken_barh(
                [(window.start_s, window.end_s - window.start_s)],
                (row + 0.1, 0.8),
                color=MOOD_COLOURS[top],
                edgecolor="white",
            )
        strip.set(yticks=[], ylim=(0, 2), ylabel="windows")
        strip.set_title("Analysed windows (coloured by their mood) over the mel spectrogram", loc="left")
        handles = [Patch(color=MOOD_COLOURS[m], label=MOOD_DISPLAY_NAMES[m]) for m in MOODS]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(MOODS), frameon=False)
    return fig


def figure_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """A Matplotlib figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
