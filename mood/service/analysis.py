"""One song through the whole pipeline, once: decode, spectrograms, every model.

The app analyses a :class:`Song` (audio bytes and how to present them) with
:func:`analyse`; the decoded samples and each front end's spectrogram are computed once
and shared by every model and every chart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from mood.constants import SAMPLE_RATE
from mood.engine.audio import AudioSource
from mood.engine.descriptors import Descriptors, describe
from mood.engine.features import FrontEnd, Spectrogram, decode, log_mel_per_front_end, spectrogram
from mood.engine.inference import Prediction, Predictor
from mood.errors import ModelError
from mood.service.explain import HeardMap, occlusion_map
from mood.sources.constants import SERVICE_NAMES
from mood.sources.records import PreviewAudio

ANALYSIS_STEPS: Final = (
    "Decoding the audio",
    "Computing the spectrograms",
    "Listening with the models",
    "Measuring tempo, key and energy",
)


@dataclass(frozen=True)
class Song:
    """A song to analyse: its audio file, and what to call it and credit.

    Attributes:
        data: the audio file's bytes (any format the engine decodes).
        title: the song's title, or a name for it ("Your recording").
        origin: where it came from, e.g. "Deezer preview", "Upload", "Demo clip".
        mime: the file's media type, for the audio player.
        artist: the performing artists, if known.
        artwork_url: an image of the album cover, if any.
        link: the song's page on the service that found it, if any.
        link_label: the words for that link, e.g. "Open in Spotify".
        credit: who provided the audio, e.g. "Preview courtesy of Deezer".
        credit_url: the page of the song at that provider, if any.
    """

    data: bytes = field(repr=False)
    title: str
    origin: str
    mime: str = "audio/wav"
    artist: str | None = None
    artwork_url: str | None = None
    link: str | None = None
    link_label: str | None = None
    credit: str | None = None
    credit_url: str | None = None

    @property
    def label(self) -> str:
        """ "Artist – Title", or the title alone."""
        return f"{self.artist} – {self.title}" if self.artist else self.title

    @property
    def key(self) -> str:
        """The sha256 of the audio: identical bytes are the same song."""
        return hashlib.sha256(self.data).hexdigest()


def song_from_preview(preview: PreviewAudio) -> Song:
    """The song of a downloaded 30 s preview, crediting its provider and linking the song's page."""
    track = preview.track
    provider = SERVICE_NAMES[preview.provider]
    return Song(
        data=preview.data,
        title=track.title,
        origin=f"{provider} preview",
        mime=preview.mime,
        artist=track.artist,
        artwork_url=track.artwork_url,
        link=track.link,
        link_label=f"Open in {SERVICE_NAMES[track.provider]}" if track.link else None,
        credit=f"Preview courtesy of {provider}",
        credit_url=preview.page_url,
    )


@dataclass(frozen=True)
class Analysis:
    """Everything the app shows about one song.

    Attributes:
        spectrogram: the spectrogram of the first member's front end, with its axes.
        front_end: that front end (its window length and hop say how the song was cut).
        descriptors: the song's tempo, key, loudness, brightness and percussiveness.
        predictions: the chosen model's prediction first, then (for the ensemble) each
            member's own, in the order of the ensemble's manifest.
    """

    spectrogram: Spectrogram
    front_end: FrontEnd
    predictions: tuple[Prediction, ...]
    descriptors: Descriptors

    @property
    def headline(self) -> Prediction:
        """The prediction of the chosen model (for the ensemble, the average)."""
        return self.predictions[0]


def analyse(source: AudioSource, predictor: Predictor, on_step: Callable[[str], None] | None = None) -> Analysis:
    """Decode a song once and judge it with every model behind ``predictor``.

    Args:
        source: a path or the audio file's bytes.
        predictor: the loaded model (an ensemble also yields each member's prediction).
        on_step: called with each of ``ANALYSIS_STEPS`` as it starts (for progress displays).

    Returns:
        The spectrogram and the predictions.

    Raises:
        AudioError: undecodable, too short or silent audio.
    """
    report = on_step or (lambda step: None)
    decode_step, spectrogram_step, model_step, descriptor_step = ANALYSIS_STEPS
    report(decode_step)
    decoded = decode(source)
    wav = decoded.samples
    report(spectrogram_step)
    mels = log_mel_per_front_end(wav, predictor.front_ends)
    report(model_step)
    predictions = predictor.predict_mels(mels, wav.size / SAMPLE_RATE, decoded.truncated, wav)
    report(descriptor_step)
    shown = predictor.front_end
    return Analysis(
        spectrogram=spectrogram(mels[shown], shown),
        front_end=shown,
        predictions=predictions,
        descriptors=describe(wav),
    )


def heard_map(analysis: Analysis, predictor: Predictor) -> HeardMap:
    """Where the first network of ``predictor`` heard the answered mood, on the drawn spectrogram.

    Raises:
        ModelError: the model has no network (the hybrid alone: its reasons are its own terms).
    """
    if not predictor.networks:
        raise ModelError(f"The {predictor.name} model judges the whole clip at once; it has no windows to hide.")
    return occlusion_map(predictor.networks[0], analysis.spectrogram.mel, analysis.headline.mood)
