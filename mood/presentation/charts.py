"""Charts of results: mood bars, mood timeline, valence/arousal map, where the model heard
its answer, confusion matrix (Altair), and the log-mel spectrogram with its analysis windows
(Matplotlib).

Every builder returns a chart object and draws nothing itself: the app hands it to
Streamlit, tests read its axes. Colours are the Okabe–Ito palette (safe for colour-blind
viewers) and text is large enough for a projector; presenter mode passes
``PRESENTER_FONT_SIZE`` to read from the back of a room.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
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
from mood.service.explain import HeardMap

MOOD_COLOURS: Final = {"happy": "#E69F00", "angry": "#D55E00", "sad": "#0072B2", "calm": "#009E73"}
FONT_SIZE: Final = 14  # points, every chart's labels
PRESENTER_FONT_SIZE: Final = 26  # points, presenter mode: readable from the back of a room
_NAMES: Final = [MOOD_DISPLAY_NAMES[m] for m in MOODS]
ChartT = TypeVar("ChartT", alt.Chart, alt.LayerChart)
BAR_STEP_PX: Final = 44  # height of one mood's row in the bar chart
PNG_DPI: Final = 110  # sharp on a projector, small enough for bad Wi-Fi
MAX_LABELLED_SONGS: Final = 12  # the mood map names its songs only up to this many (tooltips always)
MAP_HEIGHT_PX: Final = 540  # the valence/arousal map's height
COLLECTION_DOT_SIZE: Final = 30  # square pixels: a collection's many small dots
DENSITY_OPACITY: Final = (0.05, 0.45)  # a collection map's emptiest and fullest density cells
HEARD_MIN_SCALE: Final = 0.1  # the heard map's darkest colour is at least a 10-point drop: noise stays pale
# Plain names of pitch ranges, by the upper edge of the range in Hz.
PITCH_RANGE_NAMES: Final = ((250.0, "deep bass"), (1000.0, "low"), (4000.0, "middle"), (float("inf"), "high"))


def _mood_colour(legend: alt.Legend | None) -> alt.Color:
    """Colour by the ``mood`` column (display names), each mood its fixed colour."""
    scale = alt.Scale(domain=_NAMES, range=[MOOD_COLOURS[m] for m in MOODS])
    return alt.Color("mood:N", scale=scale, legend=legend, title=None)


def _styled(chart: ChartT, font_size: int = FONT_SIZE) -> ChartT:
    """Large axis, legend and title fonts, titles on the left."""
    styled = chart.configure_axis(labelFontSize=font_size, titleFontSize=font_size, labelLimit=0)
    styled = styled.configure_legend(labelFontSize=font_size, titleFontSize=font_size, labelLimit=0)
    return cast(ChartT, styled.configure_title(fontSize=font_size + 4, subtitleFontSize=font_size, anchor="start"))


def mood_bars(prediction: Prediction, font_size: int = FONT_SIZE) -> alt.LayerChart:
    """One horizontal bar per mood, labelled with its percentage; titled with the model's name
    and its confidence sentence. ``font_size`` scales the text and the bars' height."""
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
    labels = base.mark_text(align="left", dx=6, fontSize=font_size + 2, fontWeight="bold").encode(text="percent:N")
    title = alt.Title(display_name(prediction.model), subtitle=confidence_sentence(prediction))
    step = round(BAR_STEP_PX * font_size / FONT_SIZE)
    chart: alt.LayerChart = (bars + labels).properties(title=title, height=alt.Step(step))
    return _styled(chart, font_size)


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


def timeline_chart(
    prediction: Prediction, font_size: int = FONT_SIZE, title: str | None = None, legend_columns: int = len(MOODS)
) -> alt.Chart:
    """Each mood's probability in each analysis window, over the clip's time.

    ``title`` replaces the default one; ``legend_columns`` below 4 wraps the legend for a
    narrow chart (e.g. two songs side by side)."""
    chart: alt.Chart = (
        alt.Chart(timeline_frame(prediction.timeline))
        .mark_line(point=alt.OverlayMarkDef(size=80), strokeWidth=3)
        .encode(
            x=alt.X("time_s:Q", title="Time (s)", scale=alt.Scale(domain=[0, prediction.duration_s], nice=False)),
            y=alt.Y("probability:Q", title="Probability", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=_mood_colour(legend=alt.Legend(orient="bottom", labelFontSize=font_size, columns=legend_columns)),
            tooltip=["window:N", "mood:N", alt.Tooltip("probability:Q", format=".0%")],
        )
        .properties(title=title or "Mood over time (one point per analysis window)", height=380)
    )
    return _styled(chart, font_size)


def quadrant_corner(mood: str) -> tuple[float, float]:
    """The (valence, arousal) corner of a mood's quadrant, from the axes' own definitions."""
    certain = Prediction(model="", probabilities={m: float(m == mood) for m in MOODS}, duration_s=0.0, timeline=())
    return certain.valence, certain.arousal


def mood_map(
    songs: pd.DataFrame, highlight: str | Collection[str] | None = None, font_size: int = FONT_SIZE
) -> alt.LayerChart:
    """The valence/arousal plane with its four quadrants labelled and the songs on it.

    Songs are named beside their dots when there are at most ``MAX_LABELLED_SONGS`` of them
    (or when highlighted); every dot has a tooltip.

    Args:
        songs: one row per song with columns ``song``, ``mood`` (a key of ``MOODS``),
            ``valence`` and ``arousal`` (the frame of :func:`mood.presentation.report.songs_frame`).
        highlight: the ``song`` (or songs) to draw larger, e.g. the one just analysed.
        font_size: the text size (``PRESENTER_FONT_SIZE`` in presenter mode).
    """
    highlighted = {highlight} if isinstance(highlight, str) else set(highlight or ())
    current = songs["song"].isin(highlighted)
    named = current | (len(songs) <= MAX_LABELLED_SONGS)
    points = _map_points(songs).assign(current=current, named=named)
    dots = (
        alt.Chart(points)
        .mark_circle(opacity=0.9, stroke="black")
        .encode(
            x="x:Q",
            y="y:Q",
            color=_mood_colour(None),
            size=alt.condition("datum.current", alt.value(420), alt.value(160)),
            strokeWidth=alt.condition("datum.current", alt.value(2), alt.value(0)),
            tooltip=_MAP_TOOLTIP,
        )
    )
    labels = (
        alt.Chart(points[points["named"]])
        .mark_text(align="left", dx=12, fontSize=font_size)
        .encode(x="x:Q", y="y:Q", text="song:N")
    )
    shade, names = _quadrants(font_size)
    chart: alt.LayerChart = (shade + _zero_rules() + names + dots + labels).properties(
        title="Where the songs sit", height=MAP_HEIGHT_PX
    )
    return _styled(chart, font_size)


_MAP_TOOLTIP: Final = [
    "song:N",
    "mood:N",
    alt.Tooltip("x:Q", title="valence", format="+.2f"),
    alt.Tooltip("y:Q", title="arousal", format="+.2f"),
]


def _map_points(songs: pd.DataFrame) -> pd.DataFrame:
    """Songs as the map draws them: mood display names, ``valence``/``arousal`` as ``x``/``y``."""
    return songs.assign(mood=songs["mood"].map(MOOD_DISPLAY_NAMES)).rename(columns={"valence": "x", "arousal": "y"})


def _quadrants(font_size: int) -> tuple[alt.Chart, alt.Chart]:
    """The map's four shaded quadrants (which also set its axes) and their names."""
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
        .mark_text(fontSize=font_size + 2, fontWeight="bold")
        .encode(
            x="lx:Q",
            y="ly:Q",
            text="mood:N",
            color=_mood_colour(None),
        )
    )
    return shade, names


def _zero_rules() -> alt.LayerChart:
    """The map's two axes through the origin."""
    axes = alt.Chart(pd.DataFrame({"zero": [0.0]}))
    rules: alt.LayerChart = axes.mark_rule(color="gray").encode(x="zero:Q") + axes.mark_rule(color="gray").encode(
        y="zero:Q"
    )
    return rules


def collection_map(
    songs: pd.DataFrame, cells: pd.DataFrame | None, title: str | alt.Title, font_size: int = FONT_SIZE
) -> alt.LayerChart:
    """The mood map of a whole collection: :func:`mood_map`'s quadrants, a small dot per song
    of ``songs`` (a sample, for a large collection) and, when ``cells`` is given, a grey density
    of where all songs lie under them (darker: more songs), so the dots need not show every song.
    The quadrants' names stay readable on top of the dots.

    Args:
        songs: one row per drawn song, with columns ``song``, ``mood`` (a key of ``MOODS``),
            ``valence`` and ``arousal``.
        cells: the density's non-empty cells, with columns ``x``, ``x2``, ``y``, ``y2`` (the
            cell's edges on the valence and arousal axes) and ``songs`` (how many lie in it); or None.
        title: the chart's title.
        font_size: the text size.
    """
    shade, names = _quadrants(font_size)
    dots = (
        alt.Chart(_map_points(songs))
        .mark_circle(size=COLLECTION_DOT_SIZE, opacity=0.75)
        .encode(x="x:Q", y="y:Q", color=_mood_colour(None), tooltip=_MAP_TOOLTIP)
    )
    backdrop = shade if cells is None else shade + _density(cells)
    halo = names.copy()  # the names again, outlined in white, under the names
    halo.mark = alt.MarkDef(**{**names.mark.to_dict(), "stroke": "white", "strokeWidth": 5, "strokeJoin": "round"})
    chart: alt.LayerChart = (backdrop + _zero_rules() + dots + halo + names).properties(
        title=title, height=MAP_HEIGHT_PX
    )
    return _styled(chart, font_size)


def _density(cells: pd.DataFrame) -> alt.Chart:
    """Grey cells over the map, darker where more songs lie (see :func:`collection_map`)."""
    legend = alt.Legend(title="Songs per cell", orient="bottom", gradientLength=240)
    cells_chart: alt.Chart = (
        alt.Chart(cells)
        .mark_rect(color="black")
        .encode(
            x="x:Q",
            x2="x2:Q",
            y="y:Q",
            y2="y2:Q",
            opacity=alt.Opacity("songs:Q", scale=alt.Scale(range=list(DENSITY_OPACITY)), legend=legend),
            tooltip=[alt.Tooltip("songs:Q", title="songs here")],
        )
    )
    return cells_chart


def pitch_range_name(low_hz: float, high_hz: float) -> str:
    """A range of pitches in plain words with its limits, e.g. "deep bass (0–250 Hz)"."""
    centre = (low_hz + high_hz) / 2
    word = next(name for top, name in PITCH_RANGE_NAMES if centre < top)
    low, high = _hz(low_hz), _hz(high_hz)
    low_number, low_unit = low.split(" ")
    if high.endswith(f" {low_unit}"):  # one unit for both: "0–200 Hz", "3.0–11.0 kHz"
        return f"{word} ({low_number}–{high})"
    return f"{word} ({low}–{high})"


def _hz(value: float) -> str:
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{value:.0f} Hz"


def heard_frame(heard: HeardMap) -> pd.DataFrame:
    """The occlusion map in long form: one row per (pitch range, stretch of time).

    Columns: ``start_s`` and ``end_s`` (the stretch each window speaks for: consecutive windows
    overlap, so each reaches halfway to its neighbours' centres, the first from its start and
    the last to its end), ``range`` (its pitch range in words, see :func:`pitch_range_name`),
    ``order`` (0 for the lowest range) and ``drop`` (how much the answer's probability fell
    with that part hidden, in [0, 1]).
    """
    n_bands, n_windows = heard.importance.shape
    centres = heard.starts_s + heard.window_s / 2
    edges = [float(heard.starts_s[0]), *((centres[:-1] + centres[1:]) / 2), float(heard.starts_s[-1] + heard.window_s)]
    names = [pitch_range_name(heard.band_edges_hz[b], heard.band_edges_hz[b + 1]) for b in range(n_bands)]
    return pd.DataFrame(
        [
            {
                "start_s": float(edges[w]),
                "end_s": float(edges[w + 1]),
                "range": names[b],
                "order": b,
                "drop": float(heard.importance[b, w]),
            }
            for b in range(n_bands)
            for w in range(n_windows)
        ]
    )


def heard_chart(heard: HeardMap, font_size: int = FONT_SIZE) -> alt.Chart:
    """Where the model heard its answer: time across, pitch ranges up (bass at the bottom), the
    darker a box the more the answer's probability dropped when that part of the sound was hidden."""
    frame = heard_frame(heard)
    mood = MOOD_DISPLAY_NAMES[heard.mood]
    top = max(float(frame["drop"].max()), HEARD_MIN_SCALE)
    ranges = frame.sort_values("order", ascending=False)["range"].unique().tolist()  # highest first: bass below
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X("start_s:Q", title="Time in the clip (s)", scale=alt.Scale(nice=False)),
            x2="end_s:Q",
            y=alt.Y("range:N", sort=ranges, title="Pitch range"),
            color=alt.Color(
                "drop:Q",
                scale=alt.Scale(scheme="oranges", domain=[0, top], clamp=True),
                legend=alt.Legend(title=f"Drop in “{mood}”", format=".0%", orient="bottom", gradientLength=240),
            ),
            tooltip=[
                alt.Tooltip("range:N", title="pitch range"),
                alt.Tooltip("start_s:Q", title="from (s)", format=".1f"),
                alt.Tooltip("end_s:Q", title="to (s)", format=".1f"),
                alt.Tooltip("drop:Q", title=f"hiding it lowers “{mood}” by", format=".0%"),
            ],
        )
        .properties(
            title=alt.Title(
                f"Where {display_name(heard.model)} heard “{mood}”",
                subtitle="Darker: the answer leaned more on that part of the sound",
            ),
            height=alt.Step(round(BAR_STEP_PX * font_size / FONT_SIZE)),
        )
    )
    return _styled(chart, font_size)


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
