"""The hybrid member (``hybrid``): a logistic head on musicnn's clip statistics and the musical features.

Each clip's features come from the cache of :mod:`mood.training.hybrid_features` (musicnn's frozen
pooled patches and the musical features, keyed by their configurations). The head learns from
every training clip and from its short crops (:class:`mood.training.crops.ShortCrops`,
each with its clip's mood and fold); it is scored on whole clips, and on the held-out clips'
crops for the temperature of short songs. The musical columns are weighted so that they and
musicnn's carry the same prior weight under the head's L2 penalty
(:func:`mood.training.hybrid_features.group_balanced_weights`). Inside each training fold the
head's C is chosen by inner artist-grouped CV over the other training folds
(:func:`mood.training.hybrid_features.choose`), then the head is fitted on the whole training
fold. It is a clip-level member: one "window" per clip whose logits are the head's
log-probabilities, so :mod:`mood.training.cv` calibrates and scores it like any member.
:func:`save_hybrid` ships the head's arrays and the frozen backbones' ONNX export, which is all
that serving reads (:mod:`mood.engine.hybrid`, no torch).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler

from mood.constants import MOODS
from mood.engine.architectures import HybridLogisticConfig
from mood.engine.familiarity import Familiarity
from mood.engine.hybrid import HEAD_SUFFIX, MUSICNN_GROUP, PATCH_OUTPUTS, HybridHead, write_head_arrays
from mood.engine.integrity import sha256_of
from mood.engine.manifest import CrossValidation, HybridManifest, OnnxExport, Pretrained
from mood.engine.models.musicnn_mood import FrozenPatchOutputs, MusicnnMood
from mood.engine.musical import DEFAULT_MUSICAL_CONFIG, MusicalConfig
from mood.engine.onnx_export import ONNX_OPSET, export_network
from mood.engine.weights import now_iso, write_manifest
from mood.training.crops import CLIP_LENGTH_S, DEFAULT_CROPS, CropTable, ShortCrops
from mood.training.dataset import TrainingClip
from mood.training.hybrid_features import (
    HEAD_GRIDS,
    ROBUST_CLIP,
    SEED,
    Collection,
    FeatureTable,
    FloatArray,
    IntArray,
    build,
    cache_crops,
    candidates,
    choose,
    group_balanced_weights,
    load_table,
)
from mood.training.members.musicnn import FINETUNE_FRONT_END, pretrained_network
from mood.training.paths import TRAINING_SET
from mood.training.runs import OutOfFold

MODEL_NAME: Final = "hybrid"
ARCHITECTURE: Final = "hybrid_logistic"
HEAD: Final = "logistic"
MIN_TYPICAL_RESIDUAL: Final = 1e-12  # the training rows' median squared residual at least (distances stay finite)


@dataclass(frozen=True)
class HybridRecipe:
    """The head's choices, recorded in the manifest."""

    head: str = HEAD
    c_grid: tuple[float, ...] = tuple(HEAD_GRIDS[HEAD][1]["C"])  # inverse L2 strengths tried by inner CV
    inner_cv: str = "artist-grouped: the other training folds"
    scaling: str = f"median/IQR, clipped at +-{ROBUST_CLIP:g}, then standardised (fitted on the training clips)"
    crops: ShortCrops | None = DEFAULT_CROPS  # None: the head learns from whole clips alone
    balanced_groups: bool = True  # musicnn's and the musical columns weighted alike (group_balanced_weights)
    familiarity_components: int = 8  # the training rows' principal directions a clip's distance is measured off

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``recipe`` (JSON-ready)."""
        crops = None if self.crops is None else asdict(self.crops)
        return {**self.__dict__, "c_grid": list(self.c_grid), "crops": crops}


@dataclass(frozen=True)
class FittedHybrid:
    """A fitted head: its ``hybrid_features.build`` pipeline and the familiarity of the rows it learnt from."""

    pipeline: Pipeline
    familiarity: Familiarity

    def head(self, temperature: float = 1.0) -> HybridHead:
        """The tensors of the pipeline (robust scaler, clip, scaler, the columns' weights if any,
        logistic); the weights are folded into the coefficients, so :meth:`HybridHead.standardised`
        stays each feature's z-score.

        Raises:
            ValueError: the pipeline is not that shape, or its classes are not the moods in order.
        """
        robust, standard, weights, logistic = head_steps(self.pipeline)
        return HybridHead(
            robust_center=robust.center_.astype(np.float32),
            robust_scale=robust.scale_.astype(np.float32),
            robust_clip=ROBUST_CLIP,
            mean=standard.mean_.astype(np.float32),
            scale=standard.scale_.astype(np.float32),
            coef=(logistic.coef_ * weights).astype(np.float32),
            intercept=logistic.intercept_.astype(np.float32),
            familiarity=self.familiarity,
            temperature=temperature,
        )

    def run(self, x: FloatArray, ids: Sequence[str], length_s: float) -> OutOfFold:
        """A clip-level run: each row's head log-probabilities as one window of ``length_s`` from 0 s,
        with its distance from the training rows."""
        head = self.head()
        log_p = np.log(np.clip(self.pipeline.predict_proba(x), 1e-12, None)).astype(np.float32)
        distances = head.familiarity.distances(head.standardised(x))
        return OutOfFold(
            {s: row[None, :] for s, row in zip(ids, log_p, strict=True)},
            {s: np.zeros(1) for s in ids},
            length_s,
            distances={s: float(d) for s, d in zip(ids, distances, strict=True)},
        )


def head_steps(pipeline: Pipeline) -> tuple[RobustScaler, StandardScaler, FloatArray, LogisticRegression]:
    """The robust scaler, standard scaler, column weights (ones when unweighted) and logistic
    regression of a fitted ``hybrid_features.build`` pipeline.

    Raises:
        ValueError: the pipeline is not that shape, or its classes are not the moods in order.
    """
    robust, _, standard, *weighting, logistic = (step for _, step in pipeline.steps)
    if not (
        isinstance(robust, RobustScaler)
        and isinstance(standard, StandardScaler)
        and isinstance(logistic, LogisticRegression)
        and len(weighting) <= 1
    ):
        raise ValueError("the pipeline is not the hybrid's robust scaler, clip, scaler and logistic regression")
    if list(logistic.classes_) != list(range(len(MOODS))):
        raise ValueError(f"the head was fitted on classes {list(logistic.classes_)}, not every mood")
    n_features = len(standard.mean_)
    weights = weighting[0].kw_args["weights"] if weighting else np.ones(n_features, np.float32)
    return robust, standard, np.broadcast_to(np.asarray(weights, np.float32), (n_features,)), logistic


def fit_familiarity(pipeline: Pipeline, x: FloatArray, n_components: int) -> Familiarity:
    """The familiarity of the rows ``x`` a fitted pipeline learnt from: the top ``n_components``
    principal directions of their weighted standardised columns (:mod:`mood.engine.familiarity`;
    fewer when there are too few columns or rows to leave a residual)."""
    _, _, weights, _ = head_steps(pipeline)
    z = pipeline[:3].transform(x)  # robust scaler, clip, scaler: before the columns' weights
    pca = PCA(min(n_components, z.shape[1] - 1, len(x) - 1), random_state=SEED).fit(z * weights)
    unscaled = Familiarity(weights.copy(), pca.mean_.astype(np.float32), pca.components_.astype(np.float32), 1.0)
    typical = max(float(np.median(unscaled.distances(z) ** 2)), MIN_TYPICAL_RESIDUAL)
    return dataclasses.replace(unscaled, typical=typical)


class HybridMember:
    """The hybrid member (a :class:`mood.training.cv.Member` of a scikit-learn ``Pipeline``)."""

    name = MODEL_NAME

    def __init__(
        self,
        clips: Sequence[TrainingClip],
        table: FeatureTable,
        backbones: MusicnnMood,
        provenance: Pretrained,
        recipe: HybridRecipe = HybridRecipe(),
        musical: MusicalConfig = DEFAULT_MUSICAL_CONFIG,
        crops: CropTable | None = None,
    ) -> None:
        if len(table.values) != len(clips):
            raise ValueError(f"{len(table.values)} feature rows for {len(clips)} clips")
        if (crops is None) != (recipe.crops is None):
            raise ValueError("the crops' features must be given exactly when the recipe learns from crops")
        if crops is not None and crops.settings != recipe.crops:
            raise ValueError("the crops' features were cut by other settings than the recipe's")
        if crops is not None and crops.values.shape[1] != table.values.shape[1]:
            raise ValueError(f"crops of {crops.values.shape[1]} columns for a table of {table.values.shape[1]}")
        self.clips = clips
        self.table = table
        self.backbones = backbones
        self.provenance = provenance
        self.recipe = recipe
        self.musical = musical
        self.crops = crops
        self.column_weights = group_balanced_weights(table.groups) if recipe.balanced_groups else None
        self.moods = np.array([c.mood for c in clips])
        self.folds = np.array([c.fold for c in clips])

    def training_rows(self, train_idx: Sequence[int]) -> tuple[FloatArray, IntArray, IntArray]:
        """The features, moods and folds the head learns from: the clips ``train_idx``, then their crops."""
        idx = np.asarray(list(train_idx), dtype=int)
        x, parents = self.table.values[idx], idx
        if self.crops is not None:
            rows = self.crops.of_clips(train_idx)
            x = np.vstack([x, self.crops.values[rows]])
            parents = np.concatenate([idx, self.crops.parents[rows]])
        return x, self.moods[parents], self.folds[parents]

    def fit(self, train_idx: Sequence[int], desc: str) -> FittedHybrid:
        """The head with the C chosen by inner artist-grouped CV on ``train_idx`` and their crops,
        fitted on them all, and their familiarity."""
        x, y, folds = self.training_rows(train_idx)
        chosen = choose(candidates([self.recipe.head]), x, y, folds, self.column_weights)
        print(f"{desc}: {chosen.head} {chosen.params}", file=sys.stderr)
        pipeline = build(chosen.head, chosen.params, self.column_weights).fit(x, y)
        return FittedHybrid(pipeline, fit_familiarity(pipeline, x, self.recipe.familiarity_components))

    def score(self, fitted: FittedHybrid, idx: Sequence[int]) -> OutOfFold:
        """One window per clip: the head's log-probabilities (``(1, n_moods)``) starting at 0 s."""
        return fitted.run(self.table.values[list(idx)], [self.clips[i].song_id for i in idx], CLIP_LENGTH_S)

    def score_crops(self, fitted: FittedHybrid, idx: Sequence[int]) -> OutOfFold | None:
        """The same for the crops of the clips ``idx`` (None: the recipe has no crops)."""
        if self.crops is None:
            return None
        rows = self.crops.of_clips(idx)
        every_id = self.crops.ids(self.clips)
        ids = [every_id[r] for r in rows]
        length_s = self.crops.settings.length_s
        return dataclasses.replace(fitted.run(self.crops.values[rows], ids, length_s), excerpt_s=length_s)

    def ship(self, fitted: FittedHybrid, cv: CrossValidation, weights_dir: Path) -> None:
        """Write ``hybrid.npz`` (the head's arrays), ``hybrid.onnx`` (the backbones) and ``hybrid.json``."""
        head = fitted.head()
        musical_weight = None if self.column_weights is None else float(self.column_weights[-1])  # musical: last
        recipe = self.recipe.to_dict() | {"C": fitted.pipeline[-1].C, "musical_weight": musical_weight}
        manifest = HybridManifest(
            name=MODEL_NAME,
            architecture=ARCHITECTURE,
            architecture_config=HybridLogisticConfig(
                n_features=len(self.table.names),
                group_sizes={g: self.table.groups.count(g) for g in dict.fromkeys(self.table.groups)},
                backbones=self.backbones.config.backbones,
                robust_clip=ROBUST_CLIP,
            ),
            labels=list(MOODS),
            features=FINETUNE_FRONT_END,
            params=head.n_numbers + sum(p.numel() for p in self.backbones.backbones.parameters()),
            sha256="",
            created=now_iso(),
            trained_on=TRAINING_SET,
            cv=cv,
            pretrained=self.provenance,
            recipe=recipe,
            musical=self.musical,
            feature_names=list(self.table.names),
        )
        save_hybrid(head, manifest, self.backbones, weights_dir)


def save_hybrid(
    head: HybridHead, manifest: HybridManifest, backbones: MusicnnMood, weights_dir: Path
) -> HybridManifest:
    """Write `<name>.npz` (the head's arrays), `<name>.onnx` (the frozen ``backbones``' per-patch
    outputs, :class:`mood.engine.models.musicnn_mood.FrozenPatchOutputs`) and `<name>.json`
    (``manifest`` with both files' sha256).

    Returns:
        The manifest as written.
    """
    weights_dir.mkdir(parents=True, exist_ok=True)
    head_path = weights_dir / f"{manifest.name}{HEAD_SUFFIX}"
    write_head_arrays(head, head_path)
    return export_backbones(dataclasses.replace(manifest, sha256=sha256_of(head_path)), backbones, weights_dir)


def export_backbones(manifest: HybridManifest, backbones: MusicnnMood, weights_dir: Path) -> HybridManifest:
    """Write `<name>.onnx` (the frozen ``backbones``' per-patch outputs) and `<name>.json`
    (``manifest`` with the export's sha256); the head's arrays are left as they are.

    Returns:
        The manifest as written.
    """
    onnx_path = export_network(
        FrozenPatchOutputs(backbones), manifest.features, weights_dir / f"{manifest.name}.onnx", (PATCH_OUTPUTS,)
    )
    export = OnnxExport(file=onnx_path.name, sha256=sha256_of(onnx_path), opset=ONNX_OPSET)
    written = dataclasses.replace(manifest, onnx=export)
    write_manifest(written, weights_dir)
    return written


def hybrid_member(collection: Collection, cache_dir: Path, recipe: HybridRecipe = HybridRecipe()) -> HybridMember:
    """The member with every clip's cached features and its crops' (whatever is not cached is computed first)."""
    model, provenance = pretrained_network()
    table = load_table(collection, cache_dir)
    if table.groups[0] != MUSICNN_GROUP:
        raise ValueError("the musicnn statistics must be the table's first columns")
    crops = None if recipe.crops is None else cache_crops(collection, model, recipe.crops, cache_dir)
    return HybridMember(collection.clips, table, model, provenance, recipe, crops=crops)
