"""The shipped Predictor's answer with each network's forward pass swapped: torch, ONNX Runtime, variants;
:func:`engine_predict` names every way a benchmark runs a model.

Benchmarks only. Decoding, front ends, windows, temperatures and the ensemble's combination
are the engine's own (``mood.engine.inference``); a :class:`Member` only says how one
network turns windows into logits. The shipped fp32 exports are in the weights folder
(``Predictor`` serves them); the variants made here (int8, one backbone) go to ``ONNX_DIR``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mood.constants import SAMPLE_RATE
from mood.engine.audio import AudioSource
from mood.engine.features import FloatArray, FrontEnd, log_mel_per_front_end, make_windows, to_samples
from mood.engine.inference import Prediction, WindowOutputs, combiner_of, to_prediction
from mood.engine.manifest import EnsembleManifest, HybridManifest
from mood.engine.onnx_runtime import load_session, session_logits
from mood.engine.probabilities import softmax
from mood.engine.serving import PRECISION_ENV, SERVED_PRECISIONS
from mood.engine.torch_weights import load_network
from mood.engine.weights import member_names, read_manifest, read_network_manifest, resolve_weights_dir

Logits = Callable[[FloatArray], npt.NDArray[np.float32]]
ONNX_DIR = Path(__file__).resolve().parents[1] / ".cache" / "onnx"  # the variants (gitignored)
INT8 = ".int8"  # suffix of the int8 quantisations


@dataclass(frozen=True)
class Member:
    """One network as the ensemble uses it: its front end, its temperature for a song's length, its forward pass."""

    name: str
    front_end: FrontEnd
    temperature_for: Callable[[float], float]
    logits: Logits

    def with_max_windows(self, max_windows: int) -> Member:
        """The same network judging at most ``max_windows`` windows per clip."""
        return dataclasses.replace(self, front_end=dataclasses.replace(self.front_end, max_windows=max_windows))


def torch_member(name: str) -> Member:
    """The shipped network ``name`` run by its torch module (as ``Predictor`` ran it before issue 20)."""
    loaded = load_network(name)
    return Member(name, loaded.manifest.features, loaded.manifest.temperature_for, loaded.logits)


def onnx_member(name: str, path: Path, threads: int) -> Member:
    """The shipped network ``name``'s front end and temperature, its forward pass by ONNX Runtime from ``path``."""
    manifest = read_network_manifest(name)
    session = load_session(path, threads)
    return Member(name, manifest.features, manifest.temperature_for, lambda w: session_logits(session, w))


def onnx_path(name: str, suffix: str = "", onnx_dir: Path = ONNX_DIR) -> Path:
    """Where an export of ``name`` is: the shipped one (no suffix), else ``onnx_dir/<name><suffix>.onnx``
    (suffix e.g. ``".int8"``)."""
    if not suffix:
        export = read_network_manifest(name).onnx
        return resolve_weights_dir() / (export.file if export else f"{name}.onnx")
    return onnx_dir / f"{name}{suffix}.onnx"


class MemberPredictor:
    """``Predictor.predict`` over explicit members: decode once, each front end once, combine as shipped."""

    def __init__(self, name: str, members: Sequence[Member]) -> None:
        manifest = read_manifest(name)
        self.name = name
        self.members = list(members)
        self.combiner = combiner_of(manifest) if isinstance(manifest, EnsembleManifest) else None
        self.temperature_for = manifest.temperature_for

    @property
    def front_ends(self) -> list[FrontEnd]:
        """The members' front ends, in order (repeats included)."""
        return [m.front_end for m in self.members]

    def window_outputs(self, mels: dict[FrontEnd, FloatArray], duration_s: float) -> list[WindowOutputs]:
        """Each member's calibrated window probabilities (a song of ``duration_s``), from spectrograms
        that include its front end's."""
        outputs = []
        for member in self.members:
            windows, starts = make_windows(mels[member.front_end], member.front_end)
            outputs.append(
                WindowOutputs(
                    probabilities=softmax(member.logits(windows), member.temperature_for(duration_s)),
                    starts_s=np.asarray(starts, dtype=np.float64) * member.front_end.frame_s,
                    window_s=member.front_end.window_s,
                )
            )
        return outputs

    def combined_outputs(self, outputs: Sequence[WindowOutputs], duration_s: float) -> WindowOutputs:
        """The model's window outputs from its members' (combined as the shipped ensemble)."""
        return outputs[0] if self.combiner is None else self.combiner(outputs, self.temperature_for(duration_s))

    def combined(self, outputs: Sequence[WindowOutputs], duration_s: float) -> Prediction:
        """The model's prediction from its members' window outputs."""
        return to_prediction(self.name, self.combined_outputs(outputs, duration_s), duration_s)

    def predict(self, source: AudioSource | FloatArray) -> Prediction:
        """File (or samples) to answer, as ``Predictor.predict``."""
        wav = to_samples(source)
        duration_s = wav.size / SAMPLE_RATE
        return self.combined(self.window_outputs(log_mel_per_front_end(wav, self.front_ends), duration_s), duration_s)


# How a benchmark runs a model: before issue 20 (torch), its first ONNX path (ONNX Runtime fp32,
# and that path's int8 variant), and as shipped now (OpenVINO in float32, and in bfloat16).
ENGINES = ("torch", "onnxruntime", "onnxruntime-int8", "f32", "bf16")
SERVED_ENGINES = SERVED_PRECISIONS  # the shipped Predictor at that MOOD_PRECISION


def has_network_members(name: str) -> bool:
    """Whether every member of ``name`` is a network with a torch module (not the clip-level hybrid)."""
    return not any(isinstance(read_manifest(m), HybridManifest) for m in member_names(name))


def engine_predict(
    engine: str, model: str, threads: int | None = None
) -> Callable[[AudioSource | FloatArray], Prediction]:
    """``predict`` of ``model`` as ``engine`` runs it (see :data:`ENGINES`); a served engine sets its
    precision before each answer, so several can share a process."""
    if engine in SERVED_ENGINES:
        from mood.engine.inference import Predictor

        predictor = Predictor(model, threads=threads)

        def predict(source: AudioSource | FloatArray) -> Prediction:
            os.environ[PRECISION_ENV] = engine
            return predictor.predict(source)

        return predict
    names = member_names(model)
    if engine == "torch":
        return MemberPredictor(model, [torch_member(n) for n in names]).predict
    suffix = INT8 if engine == "onnxruntime-int8" else ""
    return MemberPredictor(model, [onnx_member(n, onnx_path(n, suffix), threads or 1) for n in names]).predict
