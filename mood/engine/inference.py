"""From audio to moods: the forward pass, :class:`Predictor` and :class:`Prediction`.

A song is decoded once; each distinct front end of the loaded networks is computed once;
each network judges its own windows (a clip-level member, the hybrid, the whole clip as one
window); an ensemble combines its members' (calibrated) window probabilities on the timeline of
its first member: their weighted mean, or its stacked meta-learner on their log-probabilities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from mood.constants import MOODS, SAMPLE_RATE, UNFAMILIAR_DISTANCE
from mood.engine.audio import AudioSource, DecodedAudio
from mood.engine.features import FloatArray, FrontEnd, decode, log_mel_per_front_end, make_windows
from mood.engine.hybrid import PATCH_OUTPUTS, LoadedHybrid, WhyTerm, load_hybrid
from mood.engine.manifest import (
    CONFIDENCE_LEVELS,
    ConfidenceLevel,
    EnsembleManifest,
    HybridManifest,
    NetworkManifest,
    SharedExport,
    Stacking,
)
from mood.engine.probabilities import softmax
from mood.engine.serving import ONNX_OUTPUT, OnnxNetwork
from mood.engine.weights import load_onnx_network, load_shared_network, read_manifest
from mood.errors import ModelError

Probabilities = dict[str, float]

# Plain-words confidence: the top mood's lead over the runner-up, in tenths of a percentage
# point (rounded first, so a 10-point lead is "leaning" whatever the float rounding).
CLEAR_MARGIN = 0.30
LEANING_MARGIN = 0.10
_LEAD_RESOLUTION = 1000


def confidence_level(probabilities: Iterable[float]) -> ConfidenceLevel:
    """``"clear"``, ``"leaning"`` or ``"mixed"``, from the lead of the top probability over the next."""
    top, second = sorted((float(p) for p in probabilities), reverse=True)[:2]
    lead = round((top - second) * _LEAD_RESOLUTION)
    clear, leaning, mixed = CONFIDENCE_LEVELS
    if lead >= round(CLEAR_MARGIN * _LEAD_RESOLUTION):
        return clear
    return leaning if lead >= round(LEANING_MARGIN * _LEAD_RESOLUTION) else mixed


@dataclass(frozen=True)
class WindowPrediction:
    """The moods of one analysis window."""

    start_s: float
    end_s: float
    probabilities: Probabilities


@dataclass(frozen=True)
class Prediction:
    """The mood of a clip: mean of its windows' probabilities, and the windows as a timeline.

    ``truncated``: the song went on past the ``MAX_DURATION_S`` that was analysed (``duration_s``
    is then that limit, not the song's length). ``why``: a linear model's own reasons for its
    answer (see :func:`mood.engine.hybrid.why_terms`): the hybrid's, for its own answer and for
    that of an ensemble it is a member of; empty for the networks. ``distance_from_training``:
    how unlike the music the models learnt from the song is (:mod:`mood.engine.familiarity`; about
    1 for a song like the training clips), measured by the hybrid, for its answer and an ensemble's
    it is a member of; None for the networks.
    """

    model: str
    probabilities: Probabilities
    duration_s: float
    timeline: tuple[WindowPrediction, ...]
    truncated: bool = False
    why: tuple[WhyTerm, ...] = ()
    distance_from_training: float | None = None

    @property
    def mood(self) -> str:
        """The most probable mood."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def valence(self) -> float:
        """Pleasantness in [-1, 1]: happy + calm - angry - sad."""
        p = self.probabilities
        return p["happy"] + p["calm"] - p["angry"] - p["sad"]

    @property
    def arousal(self) -> float:
        """Energy in [-1, 1]: happy + angry - sad - calm."""
        p = self.probabilities
        return p["happy"] + p["angry"] - p["sad"] - p["calm"]

    @property
    def confidence(self) -> ConfidenceLevel:
        """``"clear"``, ``"leaning"`` or ``"mixed"``: see :func:`confidence_level`."""
        return confidence_level(self.probabilities.values())

    @property
    def unfamiliar(self) -> bool:
        """Whether the song is unlike the music the models learnt from (beyond :data:`UNFAMILIAR_DISTANCE`)."""
        return self.distance_from_training is not None and self.distance_from_training > UNFAMILIAR_DISTANCE

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/DESIGN.md's CLI output (without ``path``; ``why``, and the distance
        from the training music, only when there is one)."""
        extra: dict[str, Any] = {"why": [reason.to_dict() for reason in self.why]} if self.why else {}
        if self.distance_from_training is not None:
            extra |= {"distance_from_training": round(self.distance_from_training, 4), "unfamiliar": self.unfamiliar}
        return {
            "model": self.model,
            "mood": self.mood,
            "probabilities": self.probabilities,
            "valence": round(self.valence, 6),
            "arousal": round(self.arousal, 6),
            "duration_s": round(self.duration_s, 3),
            "truncated": self.truncated,
            "timeline": [
                {"start_s": round(w.start_s, 3), "end_s": round(w.end_s, 3), "probabilities": w.probabilities}
                for w in self.timeline
            ],
        } | extra


@dataclass(frozen=True)
class WindowOutputs:
    """One network's probabilities for each of its windows over a clip."""

    probabilities: npt.NDArray[np.float32]  # shape (n_windows, n_moods)
    starts_s: npt.NDArray[np.float64]  # shape (n_windows,)
    window_s: float

    @property
    def centres_s(self) -> npt.NDArray[np.float64]:
        """The middle of each window, in seconds."""
        return self.starts_s + self.window_s / 2


@dataclass(frozen=True)
class SongPredictions:
    """Everything the engine computed for one song.

    Attributes:
        duration_s: the analysed length in seconds.
        mels: each distinct front end's spectrogram of the song.
        predictions: the chosen model's prediction first, then (for an ensemble) each
            member's own, in the order of the ensemble's manifest.
    """

    duration_s: float
    mels: dict[FrontEnd, FloatArray]
    predictions: tuple[Prediction, ...]


class NetworkRunner(Protocol):
    """A network's forward pass with its manifest: an ONNX export served by OpenVINO
    (:class:`mood.engine.serving.OnnxNetwork`, what the :class:`Predictor` serves) or a
    torch module (:class:`mood.engine.torch_weights.LoadedNetwork`: training, tests)."""

    @property
    def name(self) -> str:
        """The model's id, e.g. ``"resnet18"``."""
        ...

    @property
    def manifest(self) -> NetworkManifest:
        """Its manifest: front end, temperature."""
        ...

    def logits(self, windows: FloatArray) -> npt.NDArray[np.float32]:
        """Logits of a stack of windows ``(n_windows, n_mels, window_frames)``: ``(n_windows, n_moods)``."""
        ...


def calibrated_probabilities(loaded: NetworkRunner, windows: FloatArray, duration_s: float) -> npt.NDArray[np.float32]:
    """A network's probabilities for a stack of windows of a song of ``duration_s``, its logits
    divided by its temperature for a song that long."""
    return softmax(loaded.logits(windows), loaded.manifest.temperature_for(duration_s))


def window_outputs(loaded: NetworkRunner, mel: FloatArray, duration_s: float) -> WindowOutputs:
    """A network's calibrated probabilities for each window it cuts from ``mel`` (a song of ``duration_s``)."""
    windows, starts = make_windows(mel, loaded.manifest.features)
    return outputs_on_windows(loaded.manifest, calibrated_probabilities(loaded, windows, duration_s), starts)


def outputs_on_windows(
    manifest: NetworkManifest, probabilities: npt.NDArray[np.float32], starts: Sequence[int]
) -> WindowOutputs:
    """A network's window probabilities with the windows' times (``starts`` in frames)."""
    front_end = manifest.features
    return WindowOutputs(probabilities, np.asarray(starts, dtype=np.float64) * front_end.frame_s, front_end.window_s)


def shared_window_outputs(network: OnnxNetwork, mel: FloatArray, duration_s: float) -> tuple[WindowOutputs, FloatArray]:
    """A shared export's one pass over ``mel``'s windows (a song of ``duration_s``): the network
    member's calibrated window probabilities, and the hybrid member's patch outputs."""
    windows, starts = make_windows(mel, network.manifest.features)
    answers = network.outputs_named(windows, (ONNX_OUTPUT, PATCH_OUTPUTS))
    probabilities = softmax(answers[ONNX_OUTPUT], network.manifest.temperature_for(duration_s))
    return outputs_on_windows(network.manifest, probabilities, starts), answers[PATCH_OUTPUTS]


def on_timeline(outputs: WindowOutputs, timeline: WindowOutputs) -> npt.NDArray[np.float32]:
    """``outputs`` read at each window of ``timeline``: the window whose centre is nearest
    (the identity when both cut the same windows)."""
    distance = np.abs(outputs.centres_s[None, :] - timeline.centres_s[:, None])
    nearest: npt.NDArray[np.float32] = outputs.probabilities[distance.argmin(axis=1)]
    return nearest


def apply_temperature(
    probabilities: npt.NDArray[np.float32], temperature: float | npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """Probabilities ``(n, n_moods)`` recalibrated by a temperature on their logarithms (one, or one
    per row as ``(n, 1)``; 1 leaves them as they are)."""
    if np.all(np.asarray(temperature) == 1.0):
        return probabilities
    return softmax(np.log(np.clip(probabilities, 1e-12, None)).astype(np.float32), temperature)


def combine(members: Sequence[WindowOutputs], weights: Sequence[float], temperature: float = 1.0) -> WindowOutputs:
    """The weighted mean of members' window probabilities on the first member's windows,
    recalibrated by the ensemble's own ``temperature``."""
    grid = members[0]
    combined = sum(w * on_timeline(m, grid) for m, w in zip(members, weights, strict=True))
    return WindowOutputs(
        apply_temperature(np.asarray(combined, dtype=np.float32), temperature), grid.starts_s, grid.window_s
    )


def stacking_inputs(members: Sequence[WindowOutputs]) -> npt.NDArray[np.float64]:
    """What a stacked ensemble's meta-learner reads at each window of the first member: every
    member's log-probabilities there, side by side, shape ``(n_windows, n_members * n_moods)``."""
    grid = members[0]
    return np.hstack([np.log(np.clip(on_timeline(m, grid), 1e-12, None)).astype(np.float64) for m in members])


def stack(members: Sequence[WindowOutputs], stacking: Stacking, temperature: float = 1.0) -> WindowOutputs:
    """The stacked ensemble on the first member's windows: its meta-learner's probabilities
    from :func:`stacking_inputs`, recalibrated by the ensemble's own ``temperature``."""
    coefficients, intercepts = stacking.arrays
    logits = (stacking_inputs(members) @ coefficients.T + intercepts).astype(np.float32)
    return WindowOutputs(softmax(logits, temperature), members[0].starts_s, members[0].window_s)


Combiner: TypeAlias = Callable[[Sequence[WindowOutputs], float], WindowOutputs]
"""(members' window outputs, the ensemble's temperature) -> the ensemble's window outputs."""


def weighted(weights: Sequence[float]) -> Combiner:
    """The weighted mean of the members (:func:`combine`), as a ``weighted`` or ``mean`` ensemble combines."""
    return lambda members, temperature: combine(members, weights, temperature)


def stacked(stacking: Stacking) -> Combiner:
    """The meta-learner on the members (:func:`stack`), as a ``stacked`` ensemble combines."""
    return lambda members, temperature: stack(members, stacking, temperature)


def combiner_of(manifest: EnsembleManifest) -> Combiner:
    """How ``manifest``'s ensemble combines its members."""
    if manifest.combination == "stacked" and manifest.stacking is not None:
        return stacked(manifest.stacking)
    return weighted(manifest.member_weights)


def clip_probabilities(outputs: WindowOutputs) -> npt.NDArray[np.float32]:
    """A clip's probabilities, as docs/DESIGN.md defines them: the mean over its windows."""
    mean: npt.NDArray[np.float32] = outputs.probabilities.mean(axis=0).astype(np.float32)
    return mean


def _as_probabilities(row: npt.NDArray[np.float32]) -> Probabilities:
    return {mood: round(float(p), 6) for mood, p in zip(MOODS, row, strict=True)}


def to_prediction(
    name: str, outputs: WindowOutputs, duration_s: float, truncated: bool = False, softening: float = 1.0
) -> Prediction:
    """The :class:`Prediction` of one model's window outputs; ``softening``: a second temperature
    for the song's answer and each window's (a song unlike the training music), which keeps the
    order of the moods of each."""
    timeline = tuple(
        WindowPrediction(
            start_s=float(start),
            end_s=min(float(start) + outputs.window_s, duration_s),
            probabilities=_as_probabilities(row),
        )
        for start, row in zip(outputs.starts_s, apply_temperature(outputs.probabilities, softening), strict=True)
    )
    song = apply_temperature(clip_probabilities(outputs)[None, :], softening)[0]
    return Prediction(name, _as_probabilities(song), duration_s, timeline, truncated)


class Predictor:
    """Loads a model once (a network, or the ensemble's members) and judges many clips with it.

    Args:
        model: a model id (``mood.constants.MODEL_NAMES``), e.g. ``"ensemble"``.
        weights_dir: where the weights and manifests are (default: ``$MOOD_WEIGHTS_DIR``,
            else the shipped ones).
        threads: the threads of each network's forward pass (default: the
            process setting, :func:`mood.engine.serving.set_session_threads`, which is
            every core this process may use unless a library run sets it).

    Raises:
        ModelError: unknown model, or weights that fail verification.
    """

    def __init__(self, model: str = "ensemble", weights_dir: Path | None = None, threads: int | None = None) -> None:
        manifest = read_manifest(model, weights_dir)
        self.name = model
        names = manifest.members if isinstance(manifest, EnsembleManifest) else [model]
        self.shared = manifest.shared_export if isinstance(manifest, EnsembleManifest) else None
        own = {  # the members the shared export (if any) does not serve
            n: load_member(n, weights_dir, threads, self.shared)
            for n in names
            if self.shared is None or n != self.shared.network
        }
        shared_network = None if self.shared is None else load_shared_network(self.shared, weights_dir, threads)
        self.shared_network = shared_network
        self.members: list[Member] = [own[n] if n in own or shared_network is None else shared_network for n in names]
        self.combiner = combiner_of(manifest) if isinstance(manifest, EnsembleManifest) else None
        self.manifest = manifest  # its temperature: used only when combining members
        self.front_ends: tuple[FrontEnd, ...] = tuple(dict.fromkeys(m.manifest.features for m in self.members))

    @property
    def networks(self) -> list[NetworkRunner]:
        """The members that judge windows (not the clip-level hybrid), in the manifest's order."""
        return [m for m in self.members if not isinstance(m, LoadedHybrid)]

    @property
    def front_end(self) -> FrontEnd:
        """The front end of the first member: the one whose spectrogram the app draws."""
        return self.front_ends[0]

    def predict(self, source: AudioSource | FloatArray | DecodedAudio) -> Prediction:
        """Judge a clip: a path, file bytes, mono float32 samples at ``SAMPLE_RATE``, or a decoded source.

        Raises:
            AudioError: undecodable, too short or silent audio.
        """
        return self.predict_song(source).predictions[0]

    def predict_song(self, source: AudioSource | FloatArray | DecodedAudio) -> SongPredictions:
        """Decode once, compute each front end once, and judge with every network.

        Raises:
            AudioError: undecodable, too short or silent audio.
        """
        decoded = decode(source)
        mels = log_mel_per_front_end(decoded.samples, self.front_ends)
        duration_s = decoded.samples.size / SAMPLE_RATE
        predictions = self.predict_mels(mels, duration_s, decoded.truncated, decoded.samples)
        return SongPredictions(duration_s, mels, predictions)

    def predict_mels(
        self,
        mels: dict[FrontEnd, FloatArray],
        duration_s: float,
        truncated: bool = False,
        samples: FloatArray | None = None,
    ) -> tuple[Prediction, ...]:
        """The prediction of ``self.name`` first, then (for an ensemble) each member's own;
        ``truncated``: the song went on past what was decoded; ``samples``: the decoded song
        (mono float32 at ``SAMPLE_RATE``), which a clip-level member (the hybrid) also reads.

        Raises:
            ModelError: a clip-level member and no ``samples``.
        """
        outputs, hybrid, patch_outputs = [], None, None
        for member in self.members:
            mel = mels[member.manifest.features]
            if isinstance(member, LoadedHybrid):
                if samples is None:
                    raise ModelError(
                        f"The {member.name} model also reads the song's samples: pass them to predict_mels."
                    )
                hybrid = (member, member.judge(mel, samples, patch_outputs))
                outputs.append(WindowOutputs(hybrid[1].probabilities[None, :], np.zeros(1), duration_s))
            elif member is self.shared_network:
                shared_outputs, patch_outputs = shared_window_outputs(self.shared_network, mel, duration_s)
                outputs.append(shared_outputs)
            else:
                outputs.append(window_outputs(member, mel, duration_s))
        names = [m.name for m in self.members]
        distance = None if hybrid is None else hybrid[1].distance
        softenings = {m.name: m.manifest.softening_for(distance) for m in self.members}
        if self.combiner is not None:  # it combines its members' answers as they were before softening
            combined = self.combiner(outputs, self.manifest.temperature_for(duration_s))
            outputs, names = [combined, *outputs], [self.name, *names]
            softenings[self.name] = self.manifest.softening_for(distance)
        predictions = [
            to_prediction(n, o, duration_s, truncated, softenings[n]) for n, o in zip(names, outputs, strict=True)
        ]
        if hybrid is not None:  # its own reasons and distance, for the ensemble's answer and for the hybrid's
            member, answer = hybrid
            for i, prediction in enumerate(predictions):
                if prediction.model in (self.name, member.name):
                    softening = softenings[member.name] if prediction.model == member.name else 1.0
                    why = member.reasons(answer, MOODS.index(prediction.mood), softening)
                    predictions[i] = dataclasses.replace(prediction, why=why, distance_from_training=distance)
        return tuple(predictions)


Member: TypeAlias = NetworkRunner | LoadedHybrid
"""What a :class:`Predictor` runs: a network (over windows) or a clip-level member (the hybrid)."""


def load_member(
    name: str, weights_dir: Path | None = None, threads: int | None = None, shared: SharedExport | None = None
) -> Member:
    """Load a network's export or a hybrid member, whichever ``name``'s manifest describes
    (a hybrid that ``shared`` serves does not build its own backbones' export).

    Raises:
        ModelError: unknown model, or weights that fail verification.
    """
    if isinstance(read_manifest(name, weights_dir), HybridManifest):
        return load_hybrid(name, weights_dir, compile_backbones=shared is None or shared.hybrid != name)
    return load_onnx_network(name, weights_dir, threads)


def predict(source: AudioSource | FloatArray, model: str | Predictor = "ensemble") -> Prediction:
    """Judge one clip with a model name or an already loaded :class:`Predictor`."""
    predictor = model if isinstance(model, Predictor) else Predictor(model)
    return predictor.predict(source)
