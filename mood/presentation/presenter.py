"""Presenter mode and the two-song comparison: what the page shows, decided without Streamlit.

Presenter mode (``?present=1`` or the sidebar toggle) shows one song at a time in type and
bars that read from the back of a room. The comparison puts two songs of the session side
by side and says in one sentence how they differ on the mood map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from mood.presentation.report import SongResult

PRESENT_PARAM: Final = "present"  # the URL's query parameter: ?present=1
PRESENTER_TEXT_PX: Final = 30  # body text in presenter mode (the theme's is 18)
PRESENTER_HEADLINE_PX: Final = 76  # the mood headline in presenter mode
NOTABLE_AXIS_GAP: Final = 0.2  # a valence or arousal difference worth saying (the axes run from -1 to 1)

PRESENTER_CSS: Final = f"""
<style>
  .stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label,
  .stMainBlockContainer button, .stMainBlockContainer input {{ font-size: {PRESENTER_TEXT_PX}px !important; }}
  .stMainBlockContainer h2 {{ font-size: {PRESENTER_HEADLINE_PX}px !important; line-height: 1.15; }}
  .stMainBlockContainer h3 {{ font-size: {round(PRESENTER_TEXT_PX * 1.4)}px !important; }}
  .stMainBlockContainer h4 {{ font-size: {round(PRESENTER_TEXT_PX * 1.2)}px !important; }}
  .stMainBlockContainer [data-testid="stCaptionContainer"] {{ font-size: {round(PRESENTER_TEXT_PX * 0.8)}px; }}
</style>
"""


def presenting_from_query(value: str | None) -> bool:
    """Whether the URL's ``present`` parameter turns presenter mode on ("1", "true", "yes", "on")."""
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def default_pair(songs: Sequence[str]) -> tuple[str, str]:
    """The two songs to compare first: the two analysed last, the earlier on the left.

    Raises:
        ValueError: fewer than two songs.
    """
    if len(songs) < 2:
        raise ValueError("comparing needs two songs")
    return songs[-2], songs[-1]


def comparison_sentence(left: SongResult, right: SongResult) -> str:
    """How two songs differ on the mood map, in plain words.

    Example: "“A” sounds more pleasant than “B” and more energetic." Differences smaller
    than ``NOTABLE_AXIS_GAP`` are not called differences.
    """
    a, b = left.prediction, right.prediction
    parts = []
    valence = a.valence - b.valence
    arousal = a.arousal - b.arousal
    if abs(valence) >= NOTABLE_AXIS_GAP:
        parts.append("more pleasant" if valence > 0 else "less pleasant")
    if abs(arousal) >= NOTABLE_AXIS_GAP:
        parts.append("more energetic" if arousal > 0 else "calmer")
    if not parts:
        return f"“{left.song}” and “{right.song}” sit close together on the mood map."
    return f"“{left.song}” sounds {' and '.join(parts)} than “{right.song}”."
