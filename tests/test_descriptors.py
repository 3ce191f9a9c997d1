"""Musical descriptors: measured on synthesised clips whose tempo, key and sound are known, the
same numbers as librosa's measurement gave before it was ported to numpy, and put into words and
mood hints from hand-built descriptors."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import librosa
import numpy as np
import pytest

from mood.constants import MAJOR_PROFILE, MINOR_PROFILE, SAMPLE_RATE
from mood.engine import descriptors as measured
from mood.engine.descriptors import DESCRIPTOR_MAX_S, Descriptors, describe
from mood.engine.features import rms_dbfs
from mood.errors import AudioError
from mood.presentation.descriptor_words import MAX_MOOD_HINTS, describe_in_words, mood_hints
from tests.helpers import chord_progression, click_track, tone

SAD_HINT = "Slow and in a minor key: typical of sad songs"
ENERGETIC_HINT = "Fast, loud and percussive: typical of energetic moods (happy or angry)"

# Triads as MIDI notes (60 = middle C).
C, F, G = (60, 64, 67), (65, 69, 72), (67, 71, 74)
A_MINOR, D_MINOR, E_MINOR = (57, 60, 64), (62, 65, 69), (64, 67, 71)
EB_MINOR, AB_MINOR, BB_MINOR = (63, 66, 70), (68, 71, 75), (70, 73, 77)


# ---------------------------------------------------------------- synthesised clips


def midi_hz(note: int) -> float:
    """The frequency of a MIDI note in Hz (A4 = 69 = 440 Hz)."""
    return float(440.0 * 2.0 ** ((note - 69) / 12))


def chords(progression: list[tuple[int, ...]], seconds_each: float = 2.0, transpose: float = 0) -> np.ndarray:
    """Each chord held ``seconds_each``, its notes with four harmonics (amplitude 1/h), peak 0.2;
    ``transpose`` in semitones (0.2: 20 cents sharp)."""
    t = np.arange(round(seconds_each * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.minimum(1.0, t / 0.02) * np.minimum(1.0, (seconds_each - t) / 0.05)
    segments = [
        envelope * sum(np.sin(2 * np.pi * h * midi_hz(note + transpose) * t) / h for note in chord for h in range(1, 5))
        for chord in progression
    ]
    wav = np.concatenate(segments)
    peak = float(np.abs(wav).max())
    return (0.2 / peak * wav).astype(np.float32)


def noise_bursts(seconds: float = 8.0, every_s: float = 0.25, seed: int = 1) -> np.ndarray:
    """50 ms bursts of decaying white noise: all attack, no pitch."""
    rng = np.random.default_rng(seed)
    wav = np.zeros(round(seconds * SAMPLE_RATE))
    length = round(0.05 * SAMPLE_RATE)
    decay = np.exp(-np.arange(length) / (0.01 * SAMPLE_RATE))
    for start_s in np.arange(0.0, seconds - 0.1, every_s):
        start = round(start_s * SAMPLE_RATE)
        wav[start : start + length] += 0.3 * rng.normal(0, 1, length) * decay
    return wav.astype(np.float32)


def pad(seconds: float = 8.0) -> np.ndarray:
    """One C major chord held throughout: no attacks at all."""
    return chords([C], seconds_each=seconds)


def descriptors(**fields: object) -> Descriptors:
    """Hand-built descriptors in the middle of every range (nothing stands out), with ``fields`` on top."""
    middle = Descriptors(
        tempo_bpm=110.0,
        key="D",
        mode="major",
        key_confidence=0.02,
        loudness_dbfs=-15.0,
        energy=0.5,
        brightness_hz=2000.0,
        percussiveness=0.25,
    )
    return dataclasses.replace(middle, **fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------- measuring


@pytest.mark.parametrize("bpm", [90.0, 120.0, 140.0])  # 140 BPM falls between two tempogram lags
def test_click_track_tempo_is_measured_within_3_bpm(bpm: float) -> None:
    assert describe(click_track(bpm)).tempo_bpm == pytest.approx(bpm, abs=3.0)


@pytest.mark.parametrize(
    ("progression", "transpose", "key", "mode"),
    [
        ([C, F, G, C], 0, "C", "major"),  # I-IV-V-I
        ([C, F, G, C], 2, "D", "major"),
        ([A_MINOR, D_MINOR, E_MINOR, A_MINOR], 0, "A", "minor"),  # i-iv-v-i
        ([EB_MINOR, AB_MINOR, BB_MINOR, EB_MINOR], 0, "Eb", "minor"),
    ],
)
def test_chord_progressions_are_in_their_key(
    progression: list[tuple[int, ...]], transpose: int, key: str, mode: str
) -> None:
    found = describe(chords(progression, transpose=transpose))
    assert (found.key, found.mode) == (key, mode)
    assert describe_in_words(found)[1] == f"In {key} {mode}"  # the key is clear enough to state


def test_a_click_track_has_no_clear_key() -> None:
    assert describe_in_words(describe(click_track(120.0)))[1].startswith("No clear key")


def test_loudness_follows_the_gain_and_nothing_else_does() -> None:
    clip = chords([C, F, G, C]) + click_track(120.0, seconds=8.0)
    loud, quiet = describe(clip), describe(clip * np.float32(0.1))
    assert loud.loudness_dbfs - quiet.loudness_dbfs == pytest.approx(20.0, abs=0.01)
    assert quiet.energy == pytest.approx(loud.energy, abs=0.02)
    assert (quiet.key, quiet.mode) == (loud.key, loud.mode)
    for field in ("tempo_bpm", "brightness_hz", "percussiveness"):
        assert getattr(quiet, field) == pytest.approx(getattr(loud, field), rel=0.01), field


def test_loudness_is_the_rms_level_in_dbfs() -> None:
    sine = tone(440.0, seconds=3.0, sr=SAMPLE_RATE, amplitude=0.5)  # RMS 0.5/sqrt(2): -9.03 dBFS
    assert describe(sine).loudness_dbfs == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)


def test_noise_bursts_are_more_percussive_and_energetic_than_a_sustained_pad() -> None:
    bursts, sustained = describe(noise_bursts()), describe(pad())
    assert bursts.percussiveness > 0.5 > 0.05 > sustained.percussiveness
    assert bursts.energy > 0.5 > 0.1 > sustained.energy
    assert describe_in_words(bursts)[3:] == ["High energy", "Bright", "Strongly percussive"]
    assert describe_in_words(sustained)[3:] == ["Low energy", "Dark", "Mostly sustained"]


def test_high_tones_are_brighter_than_low_tones() -> None:
    high, low = describe(chords([C, F, G, C], transpose=24)), describe(chords([C, F, G, C], transpose=-24))
    assert high.brightness_hz > 2 * low.brightness_hz


@pytest.mark.parametrize("sr", [SAMPLE_RATE, 16_000])
def test_brightness_of_a_sine_is_its_frequency(sr: int) -> None:
    brightness = describe(tone(1000.0, seconds=3.0, sr=sr), sr=sr).brightness_hz
    assert brightness == pytest.approx(1000.0, rel=0.03)


def test_silence_does_not_darken_the_brightness() -> None:
    with_silence = np.concatenate([tone(1000.0, seconds=3.0, sr=SAMPLE_RATE), np.zeros(3 * SAMPLE_RATE, np.float32)])
    assert describe(with_silence).brightness_hz == pytest.approx(1000.0, rel=0.03)


def test_only_the_first_minute_is_analysed_but_loudness_covers_the_file() -> None:
    opening = pad(seconds=DESCRIPTOR_MAX_S)
    with_loud_ending = np.concatenate([opening, 5 * noise_bursts(seconds=10.0)])
    whole, first_minute = describe(with_loud_ending), describe(opening)
    assert whole.percussiveness == pytest.approx(first_minute.percussiveness)
    assert whole.loudness_dbfs > first_minute.loudness_dbfs + 1.0


@pytest.mark.parametrize("wav", [np.zeros(3 * SAMPLE_RATE, np.float32), tone(440.0, seconds=0.5, sr=SAMPLE_RATE)])
def test_silent_or_too_short_audio_is_refused(wav: np.ndarray) -> None:
    with pytest.raises(AudioError):
        describe(wav)


def test_to_dict_is_json_ready_rounded_and_named_with_units() -> None:
    block = describe(chords([A_MINOR, D_MINOR, E_MINOR, A_MINOR]) + click_track(120.0, seconds=8.0)).to_dict()
    assert list(block) == [
        "tempo_bpm",
        "key",
        "mode",
        "key_confidence",
        "loudness_dbfs",
        "energy",
        "brightness_hz",
        "percussiveness",
    ]
    assert all(type(value) in (float, str) for value in block.values())  # no numpy scalars
    assert json.loads(json.dumps(block)) == block
    assert block["loudness_dbfs"] == round(float(block["loudness_dbfs"]), 1)
    assert block["energy"] == round(float(block["energy"]), 3)


@pytest.mark.parametrize(
    "fields", [{"energy": 1.5}, {"percussiveness": -0.1}, {"key_confidence": 2.0}, {"key": "H"}, {"mode": "dorian"}]
)
def test_descriptors_out_of_range_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        descriptors(**fields)


# ---------------------------------------------------------------- librosa's numbers


def librosa_describe(wav: np.ndarray, sr: int = SAMPLE_RATE) -> Descriptors:
    """``describe`` as it was at commit 3053f94, measured by librosa itself."""
    excerpt = wav[: round(DESCRIPTOR_MAX_S * sr)]
    magnitude = np.abs(
        librosa.stft(excerpt, n_fft=measured.DESCRIPTOR_N_FFT, hop_length=measured.DESCRIPTOR_HOP_LENGTH)
    )
    mel = librosa.feature.melspectrogram(S=magnitude**2, sr=sr, n_mels=measured.DESCRIPTOR_N_MELS, norm=None)
    log_mel = librosa.power_to_db(mel, ref=np.max, top_db=measured.ENERGY_RANGE_DB)
    flux = librosa.onset.onset_strength(S=log_mel, sr=sr, hop_length=measured.DESCRIPTOR_HOP_LENGTH)
    bins_per_octave = measured.KEY_BINS_PER_OCTAVE
    tuning = librosa.estimate_tuning(
        S=magnitude, sr=sr, n_fft=measured.DESCRIPTOR_N_FFT, bins_per_octave=bins_per_octave
    )

    tempogram = librosa.feature.tempogram(onset_envelope=flux, sr=sr, hop_length=measured.DESCRIPTOR_HOP_LENGTH)
    coarse_bpm = float(librosa.feature.tempo(tg=tempogram, sr=sr, hop_length=measured.DESCRIPTOR_HOP_LENGTH)[0])
    strength = tempogram.mean(axis=1)
    frames_per_minute = 60.0 * sr / measured.DESCRIPTOR_HOP_LENGTH
    lag = int(np.clip(round(frames_per_minute / coarse_bpm), 1, strength.size - 2))
    before, peak, after = strength[lag - 1 : lag + 2]
    curvature = before - 2.0 * peak + after
    offset = float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0

    chroma = librosa.feature.chroma_cqt(
        y=excerpt, sr=sr, hop_length=measured.KEY_HOP_LENGTH, tuning=tuning, bins_per_octave=bins_per_octave
    ).mean(axis=1)
    profiles = np.array([np.roll(profile, tonic) for profile in (MAJOR_PROFILE, MINOR_PROFILE) for tonic in range(12)])
    standardise = measured._standardise  # unchanged: no librosa in it
    correlations = standardise(profiles) @ standardise(chroma) / chroma.size
    runner_up, best = np.argsort(correlations)[-2:]

    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=measured.DESCRIPTOR_N_FFT)[0]
    _, percussive = librosa.decompose.hpss(mel)
    return Descriptors(
        tempo_bpm=frames_per_minute / (lag + offset),
        key=measured.PITCH_CLASSES[int(best) % 12],
        mode=measured.MODES[int(best) // 12],
        key_confidence=min(float(correlations[best] - correlations[runner_up]), 1.0),
        loudness_dbfs=rms_dbfs(wav),
        energy=min(float(flux.mean()) / measured.ENERGY_FULL_FLUX_DB, 1.0),
        brightness_hz=float(np.average(centroid, weights=magnitude.sum(axis=0))),
        percussiveness=float(percussive.sum() / mel.sum()),
    )


def noisy_chords(seconds: float) -> np.ndarray:
    noise = 0.01 * np.random.default_rng(7).normal(size=round(seconds * SAMPLE_RATE))
    return (chord_progression(seconds=seconds, sr=SAMPLE_RATE) + noise).astype(np.float32)


CLIPS: dict[str, tuple[Callable[[], np.ndarray], int]] = {
    "I-IV-V-I": (lambda: chords([C, F, G, C]), SAMPLE_RATE),
    "i-iv-v-i in Eb minor": (lambda: chords([EB_MINOR, AB_MINOR, BB_MINOR, EB_MINOR]), SAMPLE_RATE),
    "I-IV-V-I 20 cents sharp": (lambda: chords([C, F, G, C], transpose=0.2), SAMPLE_RATE),
    "i-iv-v-i 45 cents flat with clicks": (
        lambda: chords([A_MINOR, D_MINOR, E_MINOR, A_MINOR], transpose=-0.45) + click_track(120.0, seconds=8.0),
        SAMPLE_RATE,
    ),
    "chords, a beat and noise, 70 s (the first minute measured)": (lambda: noisy_chords(70.0), SAMPLE_RATE),
    "chords 1.1 s": (lambda: noisy_chords(1.1), SAMPLE_RATE),
    "clicks 140 bpm": (lambda: click_track(140.0), SAMPLE_RATE),
    "noise bursts": (noise_bursts, SAMPLE_RATE),
    "a held chord": (pad, SAMPLE_RATE),
    "white noise": (
        lambda: (0.1 * np.random.default_rng(8).normal(size=5 * SAMPLE_RATE)).astype(np.float32),
        SAMPLE_RATE,
    ),
    "a sine at 16 kHz": (lambda: tone(1000.0, seconds=3.0, sr=16_000), 16_000),
    "chords at 16 kHz": (lambda: chord_progression(seconds=6.0, sr=16_000), 16_000),
}


# librosa's CQT warns that its lowest octaves' frames are longer than a short clip.
@pytest.mark.filterwarnings("ignore:n_fft=.* is too large")
@pytest.mark.parametrize("clip", CLIPS)
def test_the_descriptors_are_librosas_exactly(clip: str) -> None:
    make, sr = CLIPS[clip]
    wav = make()
    assert describe(wav, sr) == librosa_describe(wav, sr)


# ---------------------------------------------------------------- words and hints


def test_words_name_what_stands_out() -> None:
    d = descriptors(
        tempo_bpm=150.0,
        key="A",
        mode="minor",
        key_confidence=0.3,
        loudness_dbfs=-8.0,
        energy=0.8,
        brightness_hz=3000.0,
        percussiveness=0.5,
    )
    assert describe_in_words(d) == [
        "Fast (150 BPM)",
        "In A minor",
        "Loud",
        "High energy",
        "Bright",
        "Strongly percussive",
    ]


def test_words_for_the_middle_and_for_an_unclear_key() -> None:
    assert describe_in_words(descriptors()) == [
        "Moderate tempo (110 BPM)",
        "No clear key (closest: D major)",
        "Moderately loud",
        "Moderate energy",
        "Neither bright nor dark",
        "Some percussion",
    ]
    quiet = descriptors(tempo_bpm=70.0, loudness_dbfs=-25.0, energy=0.2, brightness_hz=900.0, percussiveness=0.05)
    assert describe_in_words(quiet)[::2] == ["Slow (70 BPM)", "Quiet", "Dark"]


def test_slow_and_minor_gives_the_sad_hint() -> None:
    assert SAD_HINT in mood_hints(descriptors(tempo_bpm=70.0, key="E", mode="minor", key_confidence=0.3))


def test_an_unclear_minor_key_gives_no_sad_hint() -> None:
    assert mood_hints(descriptors(tempo_bpm=70.0, key="E", mode="minor", key_confidence=0.05)) == []


def test_fast_loud_and_percussive_gives_the_energetic_hint_first() -> None:
    hints = mood_hints(descriptors(tempo_bpm=150.0, loudness_dbfs=-8.0, percussiveness=0.5))
    assert hints == [ENERGETIC_HINT]


def test_nothing_standing_out_gives_no_hints() -> None:
    assert mood_hints(descriptors()) == []


def test_hints_are_few_distinct_tendencies() -> None:
    busy_major = descriptors(
        tempo_bpm=150.0, mode="major", key_confidence=0.3, loudness_dbfs=-8.0, energy=0.8, brightness_hz=3000.0
    )
    hints = mood_hints(dataclasses.replace(busy_major, percussiveness=0.5))
    assert len(hints) <= MAX_MOOD_HINTS
    assert hints[0] == ENERGETIC_HINT
    assert "Lively and in a major key: typical of happy songs" in hints
    assert len({hint.split(": ")[1] for hint in hints}) == len(hints)  # never the same leaning twice
    assert all("typical of" in hint or "often heard in" in hint for hint in hints)


def test_gentle_sustained_music_leans_towards_low_energy_moods() -> None:
    gentle = descriptors(energy=0.2, percussiveness=0.05, key="F", mode="major", key_confidence=0.2)
    assert mood_hints(gentle) == [
        "Gentle and sustained: typical of low-energy moods (sad or calm)",
        "Gentle and in a major key: often heard in calm, tender songs",
    ]
