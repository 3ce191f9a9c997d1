"""Material for demonstrations: famous songs to search, and clips the project synthesises itself.

The synthesised clips need no network and no files, so a presenter always has something to
analyse. Each is built to carry one mood the way the 4Q quadrants describe it (bright major
and fast; dissonant, loud and fast; slow minor; slow, soft major) and is deterministic: the
same bytes every time.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

import librosa
import numpy as np
import soundfile as sf

from mood.constants import SAMPLE_RATE
from mood.engine.features import FloatArray

DEMO_DURATION_S: Final = 10.0  # seconds of every synthesised clip: three overlapping analysis windows
_PEAK: Final = 0.8  # peak amplitude of a clip, leaving headroom in 16-bit PCM


@dataclass(frozen=True)
class ExampleSong:
    """A well-known song that carries one mood clearly, found through the song search."""

    mood: str
    artist: str
    title: str

    @property
    def query(self) -> str:
        """What to type into the search box."""
        return f"{self.artist} {self.title}"


EXAMPLE_SONGS: Final = (
    ExampleSong("happy", "Pharrell Williams", "Happy"),
    ExampleSong("angry", "Rage Against the Machine", "Killing in the Name"),
    ExampleSong("sad", "Adele", "Someone Like You"),
    ExampleSong("calm", "Claude Debussy", "Clair de Lune"),
)


@dataclass(frozen=True)
class DemoClip:
    """A clip the project synthesises, and the mood it was built to carry."""

    key: str
    title: str
    description: str
    mood: str


DEMO_CLIPS: Final = (
    DemoClip("sunny-arpeggio", "Sunny arpeggio", "Bright major-key arpeggios at 150 beats per minute", "happy"),
    DemoClip("storm-bursts", "Storm bursts", "Dissonant, distorted noise bursts eight times a second", "angry"),
    DemoClip("rainy-pad", "Rainy pad", "A slow, dark minor-key pad with a falling melody", "sad"),
    DemoClip("still-water", "Still water", "A slow, soft major-seventh pad that swells gently", "calm"),
)


def demo_clip(key: str) -> DemoClip:
    """The demo clip called ``key``.

    Raises:
        KeyError: no clip has that key; the message lists the keys.
    """
    for clip in DEMO_CLIPS:
        if clip.key == key:
            return clip
    raise KeyError(f"No demo clip {key!r}; choose one of {', '.join(c.key for c in DEMO_CLIPS)}.")


@cache
def demo_wav_bytes(key: str) -> bytes:
    """The demo clip ``key`` as a 16-bit mono WAV file at ``SAMPLE_RATE``, ``DEMO_DURATION_S`` long.

    Raises:
        KeyError: no clip has that key.
    """
    buffer = io.BytesIO()
    sf.write(buffer, synthesise(key), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def synthesise(key: str) -> FloatArray:
    """The samples of demo clip ``key``: float32 mono at ``SAMPLE_RATE``, peak ``_PEAK``.

    Raises:
        KeyError: no clip has that key.
    """
    wav = _SYNTHS[demo_clip(key).key]()
    return np.asarray(_PEAK * wav / np.max(np.abs(wav)), dtype=np.float32)


# ---------------------------------------------------------------- building blocks


def _times(seconds: float) -> FloatArray:
    return (np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE).astype(np.float32)


def _partials(midi_notes: Sequence[float], seconds: float, n_harmonics: int, rolloff: float) -> FloatArray:
    """A chord of additive tones; harmonic ``k`` has amplitude ``1 / k**rolloff`` (low rolloff = bright)."""
    t = _times(seconds)
    out = np.zeros_like(t)
    for freq in librosa.midi_to_hz(np.asarray(midi_notes, dtype=float)):
        for k in range(1, n_harmonics + 1):
            if freq * k < SAMPLE_RATE / 2:
                out += np.sin(2 * np.pi * freq * k * t) / k**rolloff
    return np.asarray(out / len(midi_notes), dtype=np.float32)


def _envelope(n_samples: int, attack_s: float, release_s: float) -> FloatArray:
    """Linear fade-in over ``attack_s`` and fade-out over ``release_s``."""
    ramp = np.arange(n_samples, dtype=np.float32)
    rise = ramp / max(attack_s * SAMPLE_RATE, 1.0)
    fall = (n_samples - 1 - ramp) / max(release_s * SAMPLE_RATE, 1.0)
    return np.asarray(np.clip(np.minimum(rise, fall), 0.0, 1.0), dtype=np.float32)


def _place(events: Sequence[tuple[float, FloatArray]]) -> FloatArray:
    """Mix sounds starting at the given seconds into one ``DEMO_DURATION_S`` clip (cut at its end)."""
    out = np.zeros(round(DEMO_DURATION_S * SAMPLE_RATE), dtype=np.float32)
    for start_s, sound in events:
        start = round(start_s * SAMPLE_RATE)
        part = sound[: max(out.size - start, 0)]
        out[start : start + part.size] += part
    return out


def _notes(
    chords: Sequence[Sequence[float]], seconds_each: float, n_harmonics: int, rolloff: float, attack_s: float
) -> FloatArray:
    """Play ``chords`` one after another, each ``seconds_each`` long, looped to fill the clip."""
    n_events = int(np.ceil(DEMO_DURATION_S / seconds_each))
    release_s = min(seconds_each / 2, attack_s * 2)
    sounds = []
    for i in range(n_events):
        chord = chords[i % len(chords)]
        sound = _partials(chord, seconds_each + release_s, n_harmonics, rolloff)
        sounds.append((i * seconds_each, sound * _envelope(sound.size, attack_s, release_s)))
    return _place(sounds)


# ---------------------------------------------------------------- the four clips


def _sunny_arpeggio() -> FloatArray:
    """I–V–vi–IV in C major, arpeggiated in eighth notes at 150 bpm, with bass and hi-hat."""
    rng = np.random.default_rng(1)
    chords = ((60, 64, 67, 72), (55, 59, 62, 67), (57, 60, 64, 69), (53, 57, 60, 65))
    arpeggio = [[note] for chord in chords for note in (*chord, *chord[::-1])]
    eighth_s = 60 / 150 / 2
    melody = _notes(arpeggio, eighth_s, n_harmonics=6, rolloff=1.0, attack_s=0.005)
    bass = _notes([[chord[0] - 24] for chord in chords], 8 * eighth_s, n_harmonics=3, rolloff=1.5, attack_s=0.01)
    tick = np.diff(rng.normal(0, 1, int(0.03 * SAMPLE_RATE) + 1)).astype(np.float32)  # bright noise
    hats = _place([(i * eighth_s, 0.2 * tick * _envelope(tick.size, 0.001, 0.02)) for i in range(80)])
    return melody + 0.6 * bass + hats


def _storm_bursts() -> FloatArray:
    """Noise bursts and a minor-second/tritone cluster, driven into hard distortion."""
    rng = np.random.default_rng(2)
    cluster = _partials((40, 41, 46, 52), DEMO_DURATION_S, n_harmonics=12, rolloff=0.7)
    burst_s, gap_s = 0.09, 0.125
    bursts = _place(
        [
            (i * gap_s, rng.normal(0, 1, int(burst_s * SAMPLE_RATE)).astype(np.float32) * rng.uniform(0.5, 1.0))
            for i in range(int(DEMO_DURATION_S / gap_s))
        ]
    )
    pulse = 0.6 + 0.4 * np.sign(np.sin(2 * np.pi * 4 * _times(DEMO_DURATION_S)))
    return np.asarray(np.tanh(6 * (cluster * pulse + 0.5 * bursts)), dtype=np.float32)


def _rainy_pad() -> FloatArray:
    """i–iv–VI–v in A minor at 2.5 s a chord, dark timbre, and a slow falling melody."""
    chords = ((45, 57, 60, 64), (50, 57, 62, 65), (41, 57, 60, 65), (40, 55, 59, 64))
    pad = _notes(chords, 2.5, n_harmonics=4, rolloff=2.0, attack_s=0.8)
    melody = _notes([[n] for n in (76, 74, 72, 71, 69, 67, 65, 64)], 1.25, n_harmonics=3, rolloff=2.0, attack_s=0.3)
    return pad + 0.5 * melody


def _still_water() -> FloatArray:
    """Cmaj7 and Fmaj7 pads of near-pure tones, five seconds each, swelling at 0.2 Hz."""
    chords = ((48, 55, 64, 71), (53, 57, 64, 69))
    pad = _notes(chords, 5.0, n_harmonics=2, rolloff=3.0, attack_s=1.5)
    swell = 0.75 + 0.25 * np.sin(2 * np.pi * 0.2 * _times(DEMO_DURATION_S))
    return np.asarray(pad * swell, dtype=np.float32)


_SYNTHS: Final[dict[str, Callable[[], FloatArray]]] = {
    "sunny-arpeggio": _sunny_arpeggio,
    "storm-bursts": _storm_bursts,
    "rainy-pad": _rainy_pad,
    "still-water": _still_water,
}
assert set(_SYNTHS) == {clip.key for clip in DEMO_CLIPS}, "every demo clip has a synthesiser"
