"""The hybrid member at inference: musicnn's clip statistics and the musical features, into a logistic head.

A clip's features (docs/DESIGN.md, the hybrid manifest): for each frozen pretrained musicnn
backbone, the mean and spread over the clip's patches of its 200-d embedding and its 50 tag
logits (:func:`musicnn_statistics`), then :func:`mood.engine.musical.musical_features`. The
head scales each column by median and IQR, clips it, standardises it, and applies a
multinomial logistic regression whose logits are divided by the calibrated temperature.

Being linear, the head can say why: each feature's *term* for a mood is its standardised value
times how much more its coefficient favours that mood than the other moods (on average), over
the temperature; the terms and the intercepts' share add up to the mood's log-probability minus
the mean of the others' (:meth:`HybridHead.terms`). :func:`why_terms` keeps the musicnn
statistics as one term and the musical features that pushed most each way.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import torch
from scipy.special import softmax

from mood.constants import MOODS
from mood.engine.architectures import MusicnnMoodConfig
from mood.engine.features import FloatArray, FrontEnd, make_windows
from mood.engine.integrity import sha256_of, verified_bytes
from mood.engine.manifest import HybridManifest, NetworkManifest, read_manifest_file
from mood.engine.models.musicnn_mood import MusicnnMood
from mood.engine.musical import feature_names, musical_features
from mood.engine.weights import (
    BACKBONES_SUBDIR,
    load_verified_state,
    read_manifest,
    resolve_weights_dir,
    write_manifest,
)
from mood.errors import ModelError

MUSICNN_GROUP: Final = "musicnn"  # the group of the musicnn statistics' columns (they come first)
HEAD_TENSORS: Final = ("robust_center", "robust_scale", "mean", "scale", "coef", "intercept")
PATCH_BATCH: Final = 64  # patches per frozen forward pass
WHY_PER_SIDE: Final = 3  # musical features reported pushing towards the answer, and away from it


@dataclass(frozen=True)
class HybridHead:
    """The fitted head: per-column robust centre and scale, clip, standardisation, logistic coefficients.

    Attributes:
        robust_center, robust_scale: median and IQR of each column, shape ``(n_features,)``.
        robust_clip: robust z-scores are clipped to ``[-robust_clip, robust_clip]``.
        mean, scale: standardisation of the clipped scores, shape ``(n_features,)``.
        coef: logistic coefficients, shape ``(n_moods, n_features)``; intercept ``(n_moods,)``.
        temperature: the logits are divided by it (the calibration).
    """

    robust_center: FloatArray
    robust_scale: FloatArray
    robust_clip: float
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: FloatArray
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
        p: FloatArray = softmax(self.logits(x).astype(np.float64), axis=1).astype(np.float32)
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

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The `.pt` contents: :data:`HEAD_TENSORS` as float32 tensors."""
        return {name: torch.from_numpy(np.asarray(getattr(self, name), dtype=np.float32)) for name in HEAD_TENSORS}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], robust_clip: float, temperature: float) -> HybridHead:
        """The head of a `.pt` state dict (see :meth:`state_dict`)."""
        arrays = {name: state[name].numpy().astype(np.float32) for name in HEAD_TENSORS}
        return cls(robust_clip=robust_clip, temperature=temperature, **arrays)

    @property
    def n_numbers(self) -> int:
        """How many numbers the head holds (the manifest's ``params`` counts them with the backbones')."""
        return sum(int(np.asarray(getattr(self, name)).size) for name in HEAD_TENSORS)


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


def musicnn_statistics(model: MusicnnMood, pooled: npt.NDArray[np.float16]) -> FloatArray:
    """Mean and spread over a clip's patches of each backbone's embedding and tag logits.

    Args:
        model: the pretrained backbones (their back ends as released, not fine-tuned).
        pooled: the clip's frozen features (:func:`pooled_patches`), shape ``(n_patches, n_backbones, pooled_dim)``.

    Returns:
        float32, per backbone: the means of its ``embedding_dim + n_tags`` outputs, then their spreads.
    """
    x = torch.from_numpy(pooled.astype(np.float32))
    parts = []
    with torch.inference_mode():
        for i, backbone in enumerate(model.musicnns()):
            embedding = backbone.back_end(x[:, i])
            outputs = torch.cat([embedding, backbone.output(embedding)], dim=1)
            parts += [outputs.mean(dim=0), outputs.std(dim=0, unbiased=False)]
    return torch.cat(parts).numpy().astype(np.float32)


def pooled_patches(model: MusicnnMood, mel: FloatArray, front_end: FrontEnd) -> npt.NDArray[np.float16]:
    """The frozen front and mid ends' output for every patch cut from ``mel``, rounded to float16 as
    the training cache keeps it: shape ``(n_patches, n_backbones, pooled_dim)``."""
    windows, _ = make_windows(mel, front_end)
    with torch.inference_mode():
        out = [
            model.pooled(torch.from_numpy(windows[i : i + PATCH_BATCH])) for i in range(0, len(windows), PATCH_BATCH)
        ]
    return torch.cat(out).numpy().astype(np.float16)


def load_backbones(backbones: tuple[str, ...], n_mels: int, weights_dir: Path) -> tuple[MusicnnMood, int]:
    """The converted musicnn backbones (verified against their manifests) and their parameter count.

    Raises:
        ModelError: a backbone's files are missing or do not match, or its recorded shape is another.
    """
    model = MusicnnMood(n_mels, len(MOODS), MusicnnMoodConfig(backbones=backbones))
    for backbone, name in zip(model.musicnns(), backbones, strict=True):
        folder = weights_dir / BACKBONES_SUBDIR
        manifest = read_manifest_file(folder / f"{name}.json")
        if not isinstance(manifest, NetworkManifest) or manifest.architecture_config != model.config.backbone:
            raise ModelError(f"{name}.json does not describe the converted backbone the hybrid reads; reconvert it.")
        load_verified_state(backbone, manifest, folder / f"{name}.pt")
    return model.eval(), sum(p.numel() for p in model.backbones.parameters())


@dataclass(frozen=True, eq=False)
class LoadedHybrid:
    """A verified hybrid member: its manifest, head and frozen backbones (a clip-level model).

    In :class:`mood.engine.inference.Predictor` it plays a loaded network's part, but judges a
    whole clip at once: one window over the clip.
    """

    manifest: HybridManifest
    head: HybridHead
    backbones: MusicnnMood
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        """The model's id, ``"hybrid"``."""
        return self.manifest.name

    @property
    def groups(self) -> list[str]:
        """Each column's feature group, in column order."""
        return [g for g, n in self.manifest.architecture_config.group_sizes.items() for _ in range(n)]

    def features(self, mel: FloatArray, samples: FloatArray) -> FloatArray:
        """A clip's columns, shape ``(n_features,)``: musicnn's statistics from ``mel`` (the manifest's
        front end), then the musical features of ``samples`` (mono float32 at ``SAMPLE_RATE``)."""
        with self.lock:
            statistics = musicnn_statistics(self.backbones, pooled_patches(self.backbones, mel, self.manifest.features))
        musical = musical_features(samples, self.manifest.musical).values
        return np.concatenate([statistics, musical]).astype(np.float32)

    def answer(self, mel: FloatArray, samples: FloatArray) -> tuple[FloatArray, tuple[WhyTerm, ...]]:
        """The clip's calibrated probabilities (shape ``(n_moods,)``) and the reasons for its top mood."""
        x = self.features(mel, samples)
        probabilities = self.head.probabilities(x[None, :])[0]
        reasons = why_terms(self.head, self.manifest.feature_names, self.groups, x, int(probabilities.argmax()))
        return probabilities, reasons


def load_hybrid(name: str, weights_dir: Path | None = None) -> LoadedHybrid:
    """Load and verify a hybrid member (cached per process and folder).

    Raises:
        ModelError: not a hybrid manifest, missing files, a sha256, label or feature-name mismatch.
    """
    return _load_hybrid_cached(name, resolve_weights_dir(weights_dir).resolve())


@cache
def _load_hybrid_cached(name: str, weights_dir: Path) -> LoadedHybrid:
    manifest = read_manifest(name, weights_dir)
    if not isinstance(manifest, HybridManifest):
        raise ModelError(f"{name!r} is not a hybrid model; its manifest describes a {manifest.__class__.__name__}.")
    if manifest.labels != list(MOODS):
        raise ModelError(f"Model {name!r} predicts {manifest.labels} but this version of mood expects {list(MOODS)}.")
    musical_names = manifest.feature_names[manifest.architecture_config.group_sizes.get(MUSICNN_GROUP, 0) :]
    if tuple(musical_names) != feature_names(manifest.musical)[0]:
        raise ModelError(f"{name}.json names other musical features than this version of mood computes; retrain it.")
    path = weights_dir / f"{name}.pt"
    head = HybridHead.from_state(
        _verified_state(path, manifest), manifest.architecture_config.robust_clip, manifest.temperature
    )
    backbones, _ = load_backbones(manifest.architecture_config.backbones, manifest.features.n_mels, weights_dir)
    return LoadedHybrid(manifest, head, backbones)


def _verified_state(path: Path, manifest: HybridManifest) -> dict[str, torch.Tensor]:
    """The `.pt` state dict, after checking its sha256 and its tensors' shapes."""
    data = verified_bytes(path, manifest.sha256)
    state: dict[str, torch.Tensor] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    n = manifest.architecture_config.n_features
    expected = {"coef": (len(MOODS), n), "intercept": (len(MOODS),)}
    if set(state) != set(HEAD_TENSORS) or any(tuple(state[k].shape) != expected.get(k, (n,)) for k in HEAD_TENSORS):
        raise ModelError(f"The weights in {path.name} do not fit the {manifest.architecture} head of {n} features.")
    return state


def clear_cache() -> None:
    """Forget every loaded hybrid member (after weights on disk changed)."""
    _load_hybrid_cached.cache_clear()


def save_hybrid(head: HybridHead, manifest: HybridManifest, weights_dir: Path) -> HybridManifest:
    """Write `<name>.pt` (the head's tensors) and `<name>.json` (``manifest`` with the file's sha256).

    Returns:
        The manifest as written.
    """
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = weights_dir / f"{manifest.name}.pt"
    torch.save(head.state_dict(), path)
    written = dataclasses.replace(manifest, sha256=sha256_of(path))
    write_manifest(written, weights_dir)
    return written
