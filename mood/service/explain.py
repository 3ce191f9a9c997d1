"""Where in the song a model heard its mood: an occlusion map over time windows and frequency bands.

Each window of the spectrogram is judged again with one band of mel frequencies hidden
(replaced by that window's mean level); how much the probability of the answered mood
drops says how much the model relied on that band at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from mood.constants import MOODS
from mood.engine.features import FloatArray, make_windows
from mood.engine.inference import NetworkRunner, calibrated_probabilities
from mood.engine.melspec import mel_frequencies

OCCLUSION_BANDS: Final = 8  # mel bands are grouped into this many regions, low to high


@dataclass(frozen=True)
class HeardMap:
    """How much each (frequency band, window) mattered to one mood.

    Attributes:
        model: the network that was probed.
        mood: the mood whose probability was watched.
        starts_s: the start of each window in seconds, shape ``(n_windows,)``.
        window_s: how long each window is.
        band_edges_hz: the bands' edges in Hz, low to high, shape ``(n_bands + 1,)``.
        importance: the drop in the mood's probability when a band of a window is hidden,
            shape ``(n_bands, n_windows)``, in [0, 1] (a rise counts as 0).
    """

    model: str
    mood: str
    starts_s: npt.NDArray[np.float64]
    window_s: float
    band_edges_hz: npt.NDArray[np.float64]
    importance: npt.NDArray[np.float32]

    def strongest(self) -> tuple[float, float, float]:
        """``(start_s, low_hz, high_hz)`` of the region that mattered most."""
        band, window = np.unravel_index(int(self.importance.argmax()), self.importance.shape)
        return float(self.starts_s[window]), float(self.band_edges_hz[band]), float(self.band_edges_hz[band + 1])


def occlusion_map(loaded: NetworkRunner, mel: FloatArray, mood: str, n_bands: int = OCCLUSION_BANDS) -> HeardMap:
    """Probe ``loaded`` on the windows it cuts from ``mel`` with each frequency band hidden in turn.

    Args:
        loaded: a verified network: a :class:`~mood.engine.inference.Predictor`'s member (its ONNX
            export, served by OpenVINO) or a torch module's :class:`~mood.engine.torch_weights.LoadedNetwork`.
        mel: the song's spectrogram in that network's front end, shape ``(n_mels, n_frames)``.
        mood: the mood to watch (e.g. the answer).
        n_bands: how many frequency regions to hide one at a time.

    Returns:
        The map; its ``importance`` is ``(n_bands, n_windows)``.
    """
    front_end = loaded.manifest.features
    windows, starts = make_windows(mel, front_end)
    edges = np.linspace(0, front_end.n_mels, n_bands + 1).round().astype(int)
    hidden = np.repeat(windows[None], n_bands, axis=0)  # (n_bands, n_windows, n_mels, n_frames)
    fill = windows.mean(axis=(1, 2))  # each window's mean level
    for band in range(n_bands):
        hidden[band, :, edges[band] : edges[band + 1], :] = fill[:, None, None]
    target = MOODS.index(mood)
    duration_s = mel.shape[1] * front_end.frame_s
    base = calibrated_probabilities(loaded, windows, duration_s)[:, target]
    probed = calibrated_probabilities(loaded, hidden.reshape(-1, *windows.shape[1:]), duration_s)
    drops = base[None, :] - probed[:, target].reshape(n_bands, len(starts))
    band_hz = mel_frequencies(front_end.n_mels + 1, front_end.fmin, front_end.fmax)[edges]
    return HeardMap(
        model=loaded.name,
        mood=mood,
        starts_s=np.asarray(starts, dtype=np.float64) * front_end.frame_s,
        window_s=front_end.window_s,
        band_edges_hz=band_hz.astype(np.float64),
        importance=np.clip(drops, 0.0, 1.0).astype(np.float32),
    )
