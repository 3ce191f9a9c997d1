"""The hybrid member at inference: musicnn's clip statistics and the musical features, into a logistic head.

A clip's features (docs/DESIGN.md, the hybrid manifest): for each frozen pretrained musicnn
backbone, the mean and spread over the clip's patches of its 200-d embedding and its 50 tag
logits (:func:`musicnn_statistics`; the patches' outputs come from the ONNX export of the
frozen backbones, ``manifest.onnx``), then :func:`mood.engine.musical.musical_features`. The
head scales each column by median and IQR, clips it, standardises it, and applies a
multinomial logistic regression whose logits are divided by the calibrated temperature.

Being linear, the head can say why: each feature's *term* for a mood is its standardised value
times how much more its coefficient favours that mood than the other moods (on average), over
the temperature; the terms and the intercepts' share add up to the mood's log-probability minus
the mean of the others' (:meth:`HybridHead.terms`). :func:`why_terms` keeps the musicnn
statistics as one term and the musical features that pushed most each way.

No torch here: the head is a `.npz` of arrays, the backbones run from their ONNX export. Training
writes both (:mod:`mood.training.members.hybrid`).
"""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import numpy as np

from mood.constants import MOODS, SAMPLE_RATE
from mood.engine.familiarity import Familiarity, familiarity_shapes
from mood.engine.features import FloatArray, make_windows
from mood.engine.integrity import verified_bytes
from mood.engine.manifest import HybridManifest
from mood.engine.musical import feature_names, musical_features
from mood.engine.probabilities import softmax
from mood.engine.serving import OnnxNetwork
from mood.engine.weights import read_manifest, resolve_weights_dir
from mood.errors import ModelError

MUSICNN_GROUP: Final = "musicnn"  # the group of the musicnn statistics' columns (they come first)
HEAD_TENSORS: Final = ("robust_center", "robust_scale", "mean", "scale", "coef", "intercept")
HEAD_SUFFIX: Final = ".npz"  # the head's arrays: `<name>.npz`
PATCH_OUTPUTS: Final = "patch_outputs"  # the backbones' export's output: (batch, n_backbones, embedding + tags)
WHY_PER_SIDE: Final = 3  # musical features reported pushing towards the answer, and away from it


@dataclass(frozen=True)
class HybridHead:
    """The fitted head: per-column robust centre and scale, clip, standardisation, logistic coefficients.

    Attributes:
        robust_center, robust_scale: median and IQR of each column, shape ``(n_features,)``.
        robust_clip: robust z-scores are clipped to ``[-robust_clip, robust_clip]``.
        mean, scale: standardisation of the clipped scores, shape ``(n_features,)``.
        coef: logistic coefficients, shape ``(n_moods, n_features)``; intercept ``(n_moods,)``.
        familiarity: how unlike the rows it learnt from a clip's columns are.
        temperature: the logits are divided by it (the calibration).
    """

    robust_center: FloatArray
    robust_scale: FloatArray
    robust_clip: float
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: FloatArray
    familiarity: Familiarity
    temperature: float = 1.0

    def standardised(self, x: FloatArray) -> FloatArray:
        """The columns the coefficients multiply, shape as ``x`` (``(n_clips, n_features)``)."""
        robust = np.clip((x - self.robust_center) / self.robust_scale, -self.robust_clip, self.robust_clip)
        z: FloatArray = ((robust - self.mean) / self.scale).astype(np.float32)
        return z

    def logits(self, x: FloatArray) -> FloatArray:
        """Calibrated logits, shape ``(n_clips, n_moods)``."""
        out: FloatArray = ((self.standardised(x) @ self.coef.T + self.intercept) / self.temperature).astype(np.float32)
        return out

    def probabilities(self, x: FloatArray) -> FloatArray:
        """Calibrated mood probabilities, shape ``(n_clips, n_moods)``, columns in ``MOODS`` order."""
        p: FloatArray = softmax(self.logits(x))
        return p

    def terms(self, x: FloatArray, mood: int) -> FloatArray:
        """Each feature's push towards ``mood`` against the other moods, for one clip ``x`` (``(n_features,)``).

        ``terms.sum() + (intercept[mood] - mean of the others' intercepts) / temperature`` is the
        mood's calibrated logit minus the mean of the others' (its log-probability minus theirs).
        """
        others = [k for k in range(len(self.coef)) if k != mood]
        contrast = self.coef[mood] - self.coef[others].mean(axis=0)
        out: FloatArray = (self.standardised(x[None, :])[0] * contrast / self.temperature).astype(np.float32)
        return out

    def distance(self, x: FloatArray) -> float:
        """How unlike the training music one clip's columns ``x`` (``(n_features,)``) are (1: typical)."""
        return float(self.familiarity.distances(self.standardised(x[None, :]))[0])

    def arrays(self) -> dict[str, FloatArray]:
        """The `.npz` contents: :data:`HEAD_TENSORS`, then :data:`FAMILIARITY_TENSORS`, as float32 arrays."""
        head = {name: np.asarray(getattr(self, name), dtype=np.float32) for name in HEAD_TENSORS}
        return head | self.familiarity.arrays()

    @classmethod
    def from_arrays(cls, arrays: dict[str, FloatArray], robust_clip: float, temperature: float) -> HybridHead:
        """The head of :meth:`arrays`' output."""
        return cls(
            robust_clip=robust_clip,
            temperature=temperature,
            familiarity=Familiarity.from_arrays(arrays),
            **{name: np.asarray(arrays[name], dtype=np.float32) for name in HEAD_TENSORS},
        )

    @property
    def n_numbers(self) -> int:
        """How many numbers the head holds (the manifest's ``params`` counts them with the backbones')."""
        return sum(int(a.size) for a in self.arrays().values())


@dataclass(frozen=True)
class WhyTerm:
    """One reason of a linear head's answer: a feature's value and its push towards the answered mood.

    ``value`` and ``standardised`` are None for a group given as one term (musicnn's statistics).
    ``term`` is in log-probability units: positive pulled the answer towards the mood, negative away.
    """

    feature: str
    value: float | None
    standardised: float | None
    term: float

    def to_dict(self) -> dict[str, float | str | None]:
        """The JSON object of the CLI's ``why`` list."""
        rounded = (None if v is None else round(float(v), 4) for v in (self.value, self.standardised))
        return dict(zip(("feature", "value", "standardised"), (self.feature, *rounded), strict=True)) | {
            "term": round(self.term, 4)
        }


def why_terms(
    head: HybridHead, names: list[str], groups: list[str], x: FloatArray, mood: int, per_side: int = WHY_PER_SIDE
) -> tuple[WhyTerm, ...]:
    """The answer's reasons: musicnn's statistics as one term, and the ``per_side`` musical features
    that pushed most towards ``mood`` and most away from it; sorted from most towards to most away."""
    terms = head.terms(x, mood)
    z = head.standardised(x[None, :])[0]
    group_of = np.array(groups)
    reasons = [WhyTerm(MUSICNN_GROUP, None, None, float(terms[group_of == MUSICNN_GROUP].sum()))]
    musical = np.flatnonzero(group_of != MUSICNN_GROUP)
    ranked = musical[np.argsort(-terms[musical])]
    chosen = [i for i in ranked[:per_side] if terms[i] > 0] + [i for i in ranked[::-1][:per_side] if terms[i] < 0]
    reasons += [WhyTerm(names[i], float(x[i]), float(z[i]), float(terms[i])) for i in dict.fromkeys(chosen)]
    return tuple(sorted(reasons, key=lambda r: -r.term))


def musicnn_statistics(patch_outputs: FloatArray) -> FloatArray:
    """Mean and spread over a clip's patches of each backbone's embedding and tag logits.

    Args:
        patch_outputs: shape ``(n_patches, n_backbones, embedding_dim + n_tags)``, each backbone's
            outputs per patch (its back end as released, not fine-tuned).

    Returns:
        float32, per backbone: the means of its ``embedding_dim + n_tags`` outputs, then their spreads.
    """
    x = np.asarray(patch_outputs, dtype=np.float32)
    parts = [part for b in range(x.shape[1]) for part in (x[:, b].mean(axis=0), x[:, b].std(axis=0))]
    return np.concatenate(parts).astype(np.float32)


@dataclass(frozen=True)
class HybridAnswer:
    """What the hybrid heard in one clip: its columns ``(n_features,)``, probabilities
    ``(n_moods,)``, the temperature they were calibrated with (the one for a clip that long; what an
    ensemble combines, before its own answer is softened for the distance) and how unlike the
    training music the clip is (:mod:`mood.engine.familiarity`)."""

    features: FloatArray
    probabilities: FloatArray
    temperature: float
    distance: float


@dataclass(frozen=True, eq=False)
class LoadedHybrid:
    """A verified hybrid member: its manifest, head and frozen backbones (a clip-level model).

    In :class:`mood.engine.inference.Predictor` it plays a loaded network's part, but judges a
    whole clip at once: one window over the clip. ``patches`` runs the backbones' ONNX export
    (its output: :data:`PATCH_OUTPUTS`); it is safe from several threads.
    """

    manifest: HybridManifest
    head: HybridHead
    patches: OnnxNetwork

    @property
    def name(self) -> str:
        """The model's id, ``"hybrid"``."""
        return self.manifest.name

    @property
    def groups(self) -> list[str]:
        """Each column's feature group, in column order."""
        return [g for g, n in self.manifest.architecture_config.group_sizes.items() for _ in range(n)]

    def features(self, mel: FloatArray, samples: FloatArray, patch_outputs: FloatArray | None = None) -> FloatArray:
        """A clip's columns, shape ``(n_features,)``: musicnn's statistics from ``mel`` (the manifest's
        front end), then the musical features of ``samples`` (mono float32 at ``SAMPLE_RATE``).
        ``patch_outputs``: the backbones' outputs on ``mel``'s patches when already computed (an
        ensemble's shared export), else they are computed here."""
        if patch_outputs is None:
            windows, _ = make_windows(mel, self.manifest.features)
            patch_outputs = self.patches.outputs(windows)
        statistics = musicnn_statistics(patch_outputs)
        musical = musical_features(samples, self.manifest.musical).values
        return np.concatenate([statistics, musical]).astype(np.float32)

    def judge(self, mel: FloatArray, samples: FloatArray, patch_outputs: FloatArray | None = None) -> HybridAnswer:
        """The clip's columns and probabilities, calibrated for a clip as long as ``samples`` (see :meth:`features`)."""
        x = self.features(mel, samples, patch_outputs)
        temperature = self.manifest.temperature_for(samples.size / SAMPLE_RATE)
        probabilities = self.head_at(temperature).probabilities(x[None, :])[0]
        return HybridAnswer(x, probabilities, temperature, self.head.distance(x))

    def reasons(self, answer: HybridAnswer, mood: int, softening: float = 1.0) -> tuple[WhyTerm, ...]:
        """What in ``answer``'s clip pushed the head towards ``mood`` (index in ``MOODS``), and away,
        in the log-probabilities of the answer softened by ``softening`` (one window: a second temperature)."""
        head = self.head_at(answer.temperature * softening)
        return why_terms(head, self.manifest.feature_names, self.groups, answer.features, mood)

    def head_at(self, temperature: float) -> HybridHead:
        """The head with its logits divided by ``temperature``."""
        return dataclasses.replace(self.head, temperature=temperature)


def load_hybrid(name: str, weights_dir: Path | None = None, compile_backbones: bool = True) -> LoadedHybrid:
    """Load and verify a hybrid member (cached per process and folder). ``compile_backbones``
    off: its backbones' export is built only if used (an ensemble's shared export serves it).

    Raises:
        ModelError: not a hybrid manifest, missing files, a sha256, label or feature-name mismatch.
    """
    return _load_hybrid_cached(name, resolve_weights_dir(weights_dir).resolve(), compile_backbones)


@cache
def _load_hybrid_cached(name: str, weights_dir: Path, compile_backbones: bool) -> LoadedHybrid:
    manifest = read_manifest(name, weights_dir)
    if not isinstance(manifest, HybridManifest):
        raise ModelError(f"{name!r} is not a hybrid model; its manifest describes a {manifest.__class__.__name__}.")
    if manifest.labels != list(MOODS):
        raise ModelError(f"Model {name!r} predicts {manifest.labels} but this version of mood expects {list(MOODS)}.")
    if manifest.onnx is None:
        raise ModelError(
            f"{name}.json records no export of its backbones; retrain it (python -m mood.training hybrid)."
        )
    head = HybridHead.from_arrays(
        read_head_arrays(weights_dir / f"{name}{HEAD_SUFFIX}", manifest),
        manifest.architecture_config.robust_clip,
        1.0,  # uncalibrated: judge() calibrates it for each clip's length (LoadedHybrid.head_at)
    )
    patches = OnnxNetwork(manifest, weights_dir / manifest.onnx.file, manifest.onnx.sha256, output=PATCH_OUTPUTS)
    check_musical_names(manifest)
    if compile_backbones:  # verify and build it now: a bad file fails at load, not at the first song
        patches.compiled()
    return LoadedHybrid(manifest, head, patches)


def check_musical_names(manifest: HybridManifest) -> None:
    """Check that the manifest's musical columns are what this version computes.

    Raises:
        ModelError: the manifest names other musical features.
    """
    musical_names = manifest.feature_names[manifest.architecture_config.group_sizes.get(MUSICNN_GROUP, 0) :]
    if tuple(musical_names) != feature_names(manifest.musical)[0]:
        raise ModelError(
            f"{manifest.name}.json names other musical features than this version of mood computes; retrain it."
        )


def read_head_arrays(path: Path, manifest: HybridManifest) -> dict[str, FloatArray]:
    """The head's arrays from its `.npz`, after checking its sha256 and the arrays' shapes.

    Raises:
        ModelError: the file is missing, does not match the manifest, or does not fit its head.
    """
    data = verified_bytes(path, manifest.sha256)
    n = manifest.architecture_config.n_features
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: np.asarray(npz[key]) for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise ModelError(f"{path.name} is not the {manifest.architecture} head's arrays; restore it.") from e
    expected = dict.fromkeys(HEAD_TENSORS, (n,)) | {"coef": (len(MOODS), n), "intercept": (len(MOODS),)}
    expected |= familiarity_shapes(arrays, n)
    if set(arrays) != set(expected) or any(arrays[k].shape != shape for k, shape in expected.items()):
        raise ModelError(f"The weights in {path.name} do not fit the {manifest.architecture} head of {n} features.")
    return arrays


def write_head_arrays(head: HybridHead, path: Path) -> None:
    """Write the head's arrays to ``path`` (`.npz`), aside then renamed into place."""
    partial = path.with_name(path.name + ".partial")
    arrays: dict[str, Any] = dict(head.arrays())  # Any: numpy's stub reads a key as its allow_pickle flag
    with partial.open("wb") as f:
        np.savez(f, **arrays)
    os.replace(partial, path)


def clear_cache() -> None:
    """Forget every loaded hybrid member (after weights on disk changed)."""
    _load_hybrid_cached.cache_clear()
