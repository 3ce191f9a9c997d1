"""The hybrid member's groundwork: musicnn clip statistics and musical features, cached, and
clip-level heads measured on the 4Q folds and on Grekow.

    python -m mood.training.hybrid_features cache       # both collections, then 4Q's crops; resumable (--jobs)
    python -m mood.training.hybrid_features evaluate    # heads, ablations, transfer -> markdown

A clip's features: for each pretrained musicnn backbone of the fine-tuned member, the mean and
spread over the member's own patches of its 200-d "penultimate" embedding and its 50 tag logits
(the 0.755 probe's inputs), and :func:`mood.engine.musical.musical_features` of the clip. The
frozen part of musicnn (its pooled vector per patch) is cached by
:func:`mood.training.members.musicnn.load_pooled` in the musicnn member's own cache (one cache
for both, under ``--cache-dir``, the project's ``.cache`` by default); the musical features are
cached per clip under ``musical/<collection>/<their config's key>``. The head also learns from
:class:`mood.training.crops.ShortCrops`: short excerpts cut from each clip, their features computed from the excerpt
as the app computes a short song's (cached under ``crops/``). Heads are chosen by inner
artist-disjoint CV inside each training fold (the other training folds), their temperature fitted
on the inner out-of-fold probabilities, so no clip's figure saw its own label.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, recall_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, RobustScaler, StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from mood.constants import MOODS, SAMPLE_RATE
from mood.engine.features import log_mel, make_windows
from mood.engine.hybrid import MUSICNN_GROUP, musicnn_statistics
from mood.engine.manifest import NetworkManifest, read_manifest_file
from mood.engine.models.musicnn_mood import MusicnnMood
from mood.engine.musical import DEFAULT_MUSICAL_CONFIG, MusicalConfig, feature_names, musical_features
from mood.engine.probabilities import softmax
from mood.engine.serving import usable_cores
from mood.engine.weights import BACKBONES_SUBDIR, SHIPPED_WEIGHTS_DIR
from mood.training.calibration import expected_calibration_error, fit_temperature
from mood.training.clip_cache import Clip, ClipCache, fill, written_whole
from mood.training.crops import DEFAULT_CROPS, CropTable, ShortCrops
from mood.training.dataset import TrainingClip, read_clips
from mood.training.evaluation import valence_arousal
from mood.training.members.musicnn import (
    FINETUNE_FRONT_END,
    PooledCache,
    backbone_key,
    load_pooled,
    pooled_patches,
    pretrained_network,
)
from mood.training.paths import (
    CROPS_CACHE,
    DEFAULT_CACHE_DIR,
    DEFAULT_DATA_DIR,
    MUSICAL_CACHE,
    MUSICNN_CACHE,
    REPO_DIR,
)
from mood.training.transfer import DEFAULT_GREKOW_DIR, read_excerpts

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int_]

DEFAULT_RESULTS: Final = REPO_DIR.parent / "scratch" / "hybrid_results.md"
CLIP_FOLD_GREKOW: Final = -1  # Grekow excerpts belong to no 4Q fold
ROBUST_CLIP: Final = 5.0  # robust z-scores are clipped here: one odd clip cannot dominate a feature
SAD, CALM = MOODS.index("sad"), MOODS.index("calm")
SEED: Final = 0


# ---------------------------------------------------------------- the collections


@dataclass(frozen=True)
class Collection:
    """Clips of one collection with what the figures need."""

    name: str
    clips: list[TrainingClip]
    valence: FloatArray | None = None  # Grekow's ratings
    arousal: FloatArray | None = None

    @property
    def moods(self) -> IntArray:
        return np.array([c.mood for c in self.clips])

    @property
    def folds(self) -> IntArray:
        return np.array([c.fold for c in self.clips])

    def share(self, k: int, n: int) -> Collection:
        """Every ``n``-th clip from the ``k``-th (one of ``n`` processes' part of the caching; no ratings)."""
        return Collection(self.name, self.clips[k::n])


def four_q(data_dir: Path = DEFAULT_DATA_DIR) -> Collection:
    """The 900 4Q clips with their artist-disjoint folds."""
    return Collection("4q", read_clips(data_dir))


def grekow(data_dir: Path = DEFAULT_GREKOW_DIR) -> Collection:
    """The 321 Grekow excerpts (transfer only: never trained on), with their ratings."""
    excerpts = read_excerpts(data_dir)
    clips = [TrainingClip(e.path.stem, e.path, MOODS.index(e.mood), CLIP_FOLD_GREKOW, e.genre) for e in excerpts]
    valence = np.array([e.valence for e in excerpts], dtype=np.float32)
    arousal = np.array([e.arousal for e in excerpts], dtype=np.float32)
    return Collection("grekow", clips, valence, arousal)


# ---------------------------------------------------------------- musicnn clip statistics


def musicnn_statistic_names(model: MusicnnMood, weights_dir: Path = SHIPPED_WEIGHTS_DIR) -> list[str]:
    """Readable names of :func:`musicnn_statistics`' values, e.g. ``msd_musicnn_tag_sad_mean``."""
    names = []
    for backbone, network in zip(model.config.backbones, model.musicnns(), strict=True):
        manifest = read_manifest_file(weights_dir / BACKBONES_SUBDIR / f"{backbone}.json")
        assert isinstance(manifest, NetworkManifest)
        tags = [f"tag_{label.lower().replace(' ', '_').replace('-', '_')}" for label in manifest.labels]
        outputs = [f"emb{j:03d}" for j in range(network.embedding_dim)] + tags
        names += [f"{backbone}_{o}_{stat}" for stat in ("mean", "spread") for o in outputs]
    return names


# ---------------------------------------------------------------- the cache


@dataclass(frozen=True)
class MusicalCache:
    """Clips' musical features for one configuration, one ``.npy`` each (a :class:`ClipCache`),
    with the columns' names and groups in the folder's ``names.json``."""

    folder: Path
    config: MusicalConfig
    label: str = "musical features"

    @classmethod
    def under(cls, cache_dir: Path, collection: str, config: MusicalConfig) -> MusicalCache:
        """``collection``'s cache for ``config`` in ``cache_dir`` (its folder and ``names.json`` written)."""
        folder = cache_dir / MUSICAL_CACHE / collection / config.cache_key()
        folder.mkdir(parents=True, exist_ok=True)
        names, groups = feature_names(config)
        with written_whole(folder / "names.json") as partial:
            partial.write_text(json.dumps({"config": config.to_dict(), "names": names, "groups": groups}))
        return cls(folder, config)

    def path(self, clip: Clip) -> Path:
        return self.folder / f"{clip.song_id}.npy"

    def write(self, clip: Clip, wav: FloatArray) -> None:
        with written_whole(self.path(clip)) as partial:
            np.save(partial, musical_features(wav, self.config).values)


def cache_musical(collection: Collection, config: MusicalConfig, cache_dir: Path) -> list[FloatArray]:
    """Each clip's musical features, computed once and cached."""
    cache = MusicalCache.under(cache_dir, collection.name, config)
    fill([cache], collection.clips, f"musical features {collection.name}")
    return [np.load(cache.path(clip)) for clip in collection.clips]


def cache_musicnn(collection: Collection, model: MusicnnMood, cache_dir: Path) -> FloatArray:
    """Each clip's musicnn statistics, shape ``(n_clips, n_statistics)``, from the cached frozen features."""
    pooled, _ = load_pooled(collection.clips, model, FINETUNE_FRONT_END, cache_dir / MUSICNN_CACHE)
    return np.stack([musicnn_statistics(patch_outputs_of_pooled(model, p)) for p in pooled])


def patch_outputs_of_pooled(model: MusicnnMood, pooled: npt.NDArray[np.float16]) -> FloatArray:
    """The backbones' back ends on a clip's cached frozen features: ``(n_patches, n_backbones, outputs)``."""
    with torch.inference_mode():
        outputs = model.patch_outputs_from_pooled(torch.from_numpy(pooled.astype(np.float32)))
    return outputs.numpy().astype(np.float32)


@dataclass(frozen=True)
class FeatureTable:
    """A collection's feature matrix with each column's name and group."""

    values: FloatArray  # (n_clips, n_features)
    names: list[str]
    groups: list[str]

    def without(self, group: str) -> FeatureTable:
        """The table with one group's columns removed."""
        keep = [i for i, g in enumerate(self.groups) if g != group]
        return FeatureTable(self.values[:, keep], [self.names[i] for i in keep], [self.groups[i] for i in keep])

    def only(self, groups: Sequence[str]) -> FeatureTable:
        """The table with only these groups' columns."""
        keep = [i for i, g in enumerate(self.groups) if g in groups]
        return FeatureTable(self.values[:, keep], [self.names[i] for i in keep], [self.groups[i] for i in keep])


def load_table(
    collection: Collection,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    config: MusicalConfig = DEFAULT_MUSICAL_CONFIG,
    with_musicnn: bool = True,
) -> FeatureTable:
    """The hybrid features of every clip (computing whatever is not cached yet)."""
    musical = np.stack(cache_musical(collection, config, cache_dir))
    names, groups = feature_names(config)
    table = FeatureTable(musical, list(names), list(groups))
    if not with_musicnn:
        return table
    model, _ = pretrained_network()
    stats = cache_musicnn(collection, model, cache_dir)
    stat_names = musicnn_statistic_names(model)
    return FeatureTable(
        np.hstack([stats, musical]), stat_names + table.names, [MUSICNN_GROUP] * len(stat_names) + table.groups
    )


# ---------------------------------------------------------------- short crops


@dataclass(frozen=True)
class ExcerptParts:
    """What the features of an excerpt are made of: its frozen musicnn patches and musical features."""

    pooled: npt.NDArray[np.float16]  # (n_patches, n_backbones, pooled_dim)
    patch_starts_s: npt.NDArray[np.float64]
    musical: FloatArray


def excerpt_parts(model: MusicnnMood, wav: FloatArray, config: MusicalConfig) -> ExcerptParts:
    """An excerpt's parts from its samples (mono, ``SAMPLE_RATE``), as the app computes a song's:
    musicnn's frozen patches cut from the excerpt itself, and its musical features."""
    mel = log_mel(wav, FINETUNE_FRONT_END)
    _, starts = make_windows(mel, FINETUNE_FRONT_END)
    return ExcerptParts(
        pooled_patches(model, mel, FINETUNE_FRONT_END),
        np.asarray(starts, dtype=np.float64) * FINETUNE_FRONT_END.frame_s,
        musical_features(wav, config).values,
    )


def hybrid_columns(model: MusicnnMood, pooled: npt.NDArray[np.float16], musical: FloatArray) -> FloatArray:
    """The hybrid's columns: musicnn's statistics over the patches, then the musical features."""
    statistics = musicnn_statistics(patch_outputs_of_pooled(model, pooled))
    return np.concatenate([statistics, musical]).astype(np.float32)


def clip_features(model: MusicnnMood, wav: FloatArray, config: MusicalConfig) -> FloatArray:
    """A clip's hybrid columns from its samples, as the app computes them (:func:`excerpt_parts`)."""
    parts = excerpt_parts(model, wav, config)
    return hybrid_columns(model, parts.pooled, parts.musical)


@dataclass(frozen=True)
class CropsCache:
    """Clips' short crops, each crop's :class:`ExcerptParts` (musicnn's frozen patches cut from the
    crop, its musical features), one ``.npz`` per clip: a :class:`ClipCache`."""

    folder: Path
    model: MusicnnMood  # the member's frozen backbones
    crops: ShortCrops
    config: MusicalConfig
    label: str = "crops"

    @classmethod
    def under(
        cls, cache_dir: Path, collection: str, model: MusicnnMood, crops: ShortCrops, config: MusicalConfig
    ) -> CropsCache:
        """``collection``'s cache of these crops in ``cache_dir`` (its folder created)."""
        key = f"{crops.cache_key()}-{config.cache_key()}-{FINETUNE_FRONT_END.cache_key()}-{backbone_key(model)}"
        folder = cache_dir / CROPS_CACHE / collection / key
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, model, crops, config)

    def path(self, clip: Clip) -> Path:
        return self.folder / f"{clip.song_id}.npz"

    def write(self, clip: Clip, wav: FloatArray) -> None:
        starts = self.crops.starts_s(clip.song_id, len(wav) / SAMPLE_RATE)
        cut = [wav[round(s * SAMPLE_RATE) : round((s + self.crops.length_s) * SAMPLE_RATE)] for s in starts]
        parts = [excerpt_parts(self.model, c, self.config) for c in cut]
        with written_whole(self.path(clip)) as partial:
            np.savez(
                partial,
                pooled=np.stack([p.pooled for p in parts]),
                patch_starts_s=parts[0].patch_starts_s,
                musical=np.stack([p.musical for p in parts]),
            )


def cache_crops(
    collection: Collection,
    model: MusicnnMood,
    crops: ShortCrops,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    config: MusicalConfig = DEFAULT_MUSICAL_CONFIG,
) -> CropTable:
    """Every clip's crops (``model``: the member's frozen backbones), their parts computed once and cached."""
    cache = CropsCache.under(cache_dir, collection.name, model, crops, config)
    fill([cache], collection.clips, f"crops {collection.name}")
    values, parents, pooled, patch_starts = [], [], [], np.zeros(0)
    for i, clip in enumerate(collection.clips):
        with np.load(cache.path(clip)) as data:
            pooled.append(data["pooled"])
            patch_starts = data["patch_starts_s"]
            values += [hybrid_columns(model, p, m) for p, m in zip(data["pooled"], data["musical"], strict=True)]
        parents += [i] * len(pooled[-1])
    return CropTable(crops, np.stack(values), np.array(parents), np.concatenate(pooled), patch_starts)


def cache_all(args: argparse.Namespace) -> None:
    """Cache the musical features and musicnn's frozen features of 4Q and of Grekow, and the
    features of the 4Q clips' short crops (the hybrid's training rows), each clip decoded once for
    all of them. ``args.jobs`` processes (one thread each) share the clips."""
    started = time.perf_counter()
    if args.jobs == 1:
        cache_share(args, 0)
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            for _ in pool.map(cache_share, [args] * args.jobs, range(args.jobs)):
                pass
    print(f"cached in {time.perf_counter() - started:.0f} s by {args.jobs} process(es)", file=sys.stderr)


def cache_share(args: argparse.Namespace, share: int) -> None:
    """One process's part of :func:`cache_all`: its :meth:`Collection.share` of each collection,
    on one thread (torch's, and numpy's BLAS, whose default of a thread per core made the musical
    features of two processes side by side twice as slow)."""
    torch.set_num_threads(1)
    model, _ = pretrained_network()
    with threadpool_limits(1):
        for collection, has_crops in ((four_q(args.data), True), (grekow(args.grekow), False)):
            cache_collection(args, collection.share(share, args.jobs), model, has_crops)


def cache_collection(args: argparse.Namespace, collection: Collection, model: MusicnnMood, has_crops: bool) -> None:
    """Fill ``args.parts``' caches of ``collection`` (crops only where it ``has_crops``), printing
    the time each part took."""
    caches: list[ClipCache] = []
    if "musical" in args.parts:
        caches.append(MusicalCache.under(args.cache_dir, collection.name, DEFAULT_MUSICAL_CONFIG))
    if "musicnn" in args.parts:
        caches.append(PooledCache.under(args.cache_dir / MUSICNN_CACHE, model, FINETUNE_FRONT_END))
    if "crops" in args.parts and has_crops:
        caches.append(CropsCache.under(args.cache_dir, collection.name, model, DEFAULT_CROPS, DEFAULT_MUSICAL_CONFIG))
    started = time.perf_counter()
    timings = fill(caches, collection.clips, f"features {collection.name}")
    written = "".join(f"; {label} of {len(t)} clips, median {np.median(t):.3f} s" for label, t in timings.items() if t)
    print(
        f"{collection.name} ({len(collection.clips)} clips): cached in {time.perf_counter() - started:.0f} s{written}",
        file=sys.stderr,
    )


# ---------------------------------------------------------------- heads


def robust_scaling() -> list[Any]:
    """Per-feature median / IQR scaling clipped at ``ROBUST_CLIP``, then standardised: fitted
    inside the training folds, so 4Q's odd clips (and other collections' ranges) stay bounded."""
    clip = FunctionTransformer(np.clip, kw_args={"a_min": -ROBUST_CLIP, "a_max": ROBUST_CLIP})
    return [RobustScaler(), clip, StandardScaler()]


HEAD_GRIDS: Final[dict[str, tuple[Callable[..., BaseEstimator], dict[str, list[Any]]]]] = {
    "logistic": (
        lambda **p: LogisticRegression(max_iter=3000, **p),
        {"C": [0.003, 0.01, 0.03, 0.1, 0.3]},
    ),
    "svm_rbf": (  # Platt-scaled on 3 internal folds, as sklearn 1.9 recommends over SVC(probability=True)
        lambda **p: CalibratedClassifierCV(SVC(kernel="rbf", **p), ensemble=False, cv=3),
        {"C": [1.0, 3.0, 10.0]},
    ),
    "boosting": (
        lambda **p: HistGradientBoostingClassifier(
            max_iter=100, max_leaf_nodes=15, max_features=0.2, l2_regularization=1.0, random_state=SEED, **p
        ),
        {"learning_rate": [0.1]},
    ),
    "mlp": (
        lambda **p: MLPClassifier(hidden_layer_sizes=(64,), solver="lbfgs", max_iter=300, random_state=SEED, **p),
        {"alpha": [1.0, 10.0]},
    ),
}


def candidates(heads: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every (head, parameters) pair of the grids."""
    out = []
    for head in heads:
        grid = HEAD_GRIDS[head][1]
        out += [(head, dict(zip(grid, values, strict=True))) for values in product(*grid.values())]
    return out


def weighted(x: FloatArray, weights: FloatArray) -> FloatArray:
    """Each column of ``x`` times its weight (a pipeline step: :func:`build`'s ``column_weights``)."""
    out: FloatArray = (x * weights).astype(np.float32)
    return out


def group_balanced_weights(groups: Sequence[str]) -> FloatArray:
    """Column weights that give musicnn's columns and the musical ones (every other group) the same
    prior weight under an L2 penalty: the musical columns weighted by sqrt(n_musicnn / n_musical),
    musicnn's by 1. With one weight per column, 1000 musicnn columns would outweigh 149 musical ones.

    Raises:
        ValueError: either kind of column is missing.
    """
    is_musicnn = np.array([g == MUSICNN_GROUP for g in groups])
    n_musicnn, n_musical = int(is_musicnn.sum()), int((~is_musicnn).sum())
    if not n_musicnn or not n_musical:
        raise ValueError("balancing needs both musicnn's columns and musical ones")
    return np.where(is_musicnn, 1.0, np.sqrt(n_musicnn / n_musical)).astype(np.float32)


def build(head: str, params: dict[str, Any], column_weights: FloatArray | None = None) -> Pipeline:
    """The scaled pipeline of one head; ``column_weights`` multiply the standardised columns before
    the head (under its L2 penalty a column weighted w costs 1/w² as much to use)."""
    weighting = [] if column_weights is None else [FunctionTransformer(weighted, kw_args={"weights": column_weights})]
    return make_pipeline(*robust_scaling(), *weighting, HEAD_GRIDS[head][0](**params))


def fit_predict(model: Pipeline, x: FloatArray, y: IntArray, x_test: FloatArray) -> FloatArray:
    """Probabilities of ``x_test`` from a fresh copy of ``model`` (:func:`build`'s) fitted on
    ``(x, y)``, columns in mood order."""
    probabilities: FloatArray = clone(model).fit(x, y).predict_proba(x_test).astype(np.float32)
    return probabilities


def grouped_oof(model: Pipeline, x: FloatArray, y: IntArray, groups: IntArray) -> FloatArray:
    """Out-of-fold probabilities of ``model`` over ``groups`` (artist-disjoint folds)."""
    oof = np.zeros((len(y), len(MOODS)), dtype=np.float32)
    for g in np.unique(groups):
        test = groups == g
        oof[test] = fit_predict(model, x[~test], y[~test], x[test])
    return oof


def macro_f1(y: IntArray, probabilities: FloatArray) -> float:
    return float(f1_score(y, probabilities.argmax(axis=1), average="macro"))


def log_probabilities(probabilities: FloatArray) -> FloatArray:
    return np.log(np.clip(probabilities, 1e-6, None)).astype(np.float32)


def recalibrated(probabilities: FloatArray, temperature: float) -> FloatArray:
    """Probabilities with their logarithms divided by ``temperature``."""
    return softmax(log_probabilities(probabilities), temperature)


@dataclass(frozen=True)
class Chosen:
    """The head chosen inside one training fold, with its inner out-of-fold probabilities."""

    head: str
    params: dict[str, Any]
    inner_oof: FloatArray
    temperature: float


def choose(
    options: Sequence[tuple[str, dict[str, Any]]],
    x: FloatArray,
    y: IntArray,
    groups: IntArray,
    column_weights: FloatArray | None = None,
) -> Chosen:
    """The option with the best inner-CV macro-F1 (ties: lower log-loss), and its temperature."""
    best: tuple[float, float, str, dict[str, Any], FloatArray] | None = None
    for head, params in options:
        oof = grouped_oof(build(head, params, column_weights), x, y, groups)
        nll = float(-np.log(np.clip(oof[np.arange(len(y)), y], 1e-6, None)).mean())
        score = (macro_f1(y, oof), -nll)
        if best is None or score > best[:2]:
            best = (*score, head, params, oof)
    assert best is not None
    _, _, head, params, oof = best
    temperature = fit_temperature(lambda t: recalibrated(oof, t), y)
    return Chosen(head, params, oof, temperature)


@dataclass
class CrossValidated:
    """Outer-fold probabilities (calibrated inside the training folds) and what was chosen."""

    probabilities: FloatArray
    chosen: dict[int, Chosen] = field(default_factory=dict)


def cross_validate(
    options: Sequence[tuple[str, dict[str, Any]]], x: FloatArray, y: IntArray, folds: IntArray
) -> CrossValidated:
    """Nested CV: each outer fold's head and temperature chosen on the other folds alone."""
    result = CrossValidated(np.zeros((len(y), len(MOODS)), dtype=np.float32))
    for fold in np.unique(folds):
        test = folds == fold
        chosen = choose(options, x[~test], y[~test], folds[~test])
        raw = fit_predict(build(chosen.head, chosen.params), x[~test], y[~test], x[test])
        result.probabilities[test] = recalibrated(raw, chosen.temperature)
        result.chosen[int(fold)] = chosen
    return result


# ---------------------------------------------------------------- figures


def figures(y: IntArray, probabilities: FloatArray) -> dict[str, float]:
    """Macro-F1, accuracy, sad and calm recall, ECE of the top probability."""
    predicted = probabilities.argmax(axis=1)
    recalls = recall_score(y, predicted, labels=list(range(len(MOODS))), average=None, zero_division=0)
    return {
        "macro_f1": macro_f1(y, probabilities),
        "accuracy": float((predicted == y).mean()),
        "sad_recall": float(recalls[SAD]),
        "calm_recall": float(recalls[CALM]),
        "ece": expected_calibration_error(probabilities, y),
    }


def transfer_figures(
    options: Sequence[tuple[str, dict[str, Any]]],
    train: FeatureTable,
    source: Collection,
    test: FeatureTable,
    target: Collection,
) -> dict[str, float]:
    """Fit on every 4Q clip (head and temperature chosen by CV over its folds), judge Grekow."""
    chosen = choose(options, train.values, source.moods, source.folds)
    raw = fit_predict(build(chosen.head, chosen.params), train.values, source.moods, test.values)
    probabilities = recalibrated(raw, chosen.temperature)
    valence, arousal = valence_arousal(probabilities)
    assert target.valence is not None and target.arousal is not None
    return {
        "grekow_macro_f1": macro_f1(target.moods, probabilities),
        "grekow_valence_rho": float(spearmanr(valence, target.valence)[0]),
        "grekow_arousal_rho": float(spearmanr(arousal, target.arousal)[0]),
        "grekow_ece": expected_calibration_error(probabilities, target.moods),
    }


# ---------------------------------------------------------------- the report


@dataclass
class Report:
    """Markdown tables written as rows arrive, so partial results can be read."""

    path: Path
    sections: dict[str, list[str]] = field(default_factory=dict)

    def add(self, section: str, header: str, row: str) -> None:
        """Append ``row`` to the table ``section`` (created with ``header``) and rewrite the file."""
        table = self.sections.setdefault(section, [])
        if not table:
            table += [header, "|" + "---|" * (header.count("|") - 1)]
        table.append(row)
        self.write()

    def write(self) -> None:
        lines = ["# Hybrid member: measured on the 4Q folds and on Grekow", "", f"Updated {time.ctime()}.", ""]
        for title, table in self.sections.items():
            lines += [f"## {title}", "", *table, ""]
        self.path.write_text("\n".join(lines))


FIGURE_COLUMNS: Final = ("macro_f1", "accuracy", "sad_recall", "calm_recall", "ece")
TRANSFER_COLUMNS: Final = ("grekow_macro_f1", "grekow_valence_rho", "grekow_arousal_rho", "grekow_ece")


def row(label: str, values: dict[str, float], columns: Sequence[str], extra: str = "") -> str:
    return "| " + " | ".join([label, *(f"{values[c]:.3f}" if c in values else "" for c in columns)]) + f" | {extra} |"


def header(first: str, columns: Sequence[str]) -> str:
    return "| " + " | ".join([first, *columns, "notes"]) + " |"


def evaluate(args: argparse.Namespace) -> None:
    """Heads, ablations and transfer, each row written to ``args.results`` as it is measured."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the MLP's early stop; figures say the rest
    source, target = four_q(args.data), grekow(args.grekow)
    train = load_table(source, args.cache_dir, with_musicnn=not args.musical_only)
    test = load_table(target, args.cache_dir, with_musicnn=not args.musical_only)
    y, folds = source.moods, source.folds
    report = Report(args.results)
    columns = (*FIGURE_COLUMNS, *TRANSFER_COLUMNS)
    heads_table = "Heads (all features; nested CV, temperature fitted inside the training folds)"
    for heads in [[h] for h in args.heads] + ([list(args.heads)] if len(args.heads) > 1 else []):
        started = time.perf_counter()
        options = candidates(heads)
        cv = cross_validate(options, train.values, y, folds)
        values = figures(y, cv.probabilities) | transfer_figures(options, train, source, test, target)
        picks = ", ".join(f"{c.head} {c.params} T={c.temperature:.2f}" for c in cv.chosen.values())
        label = "+".join(heads) if len(heads) > 1 else heads[0]
        report.add(
            heads_table,
            header("head", columns),
            row(label, values, columns, f"{time.perf_counter() - started:.0f} s; {picks}"),
        )
    ablation_options = candidates([args.ablation_head])
    ablation_table = f"Ablations ({args.ablation_head}; each feature group removed in turn, or alone)"
    for group in dict.fromkeys(train.groups) if args.ablations else ():
        for kind, table_of in (("without", train.without), ("only", lambda g: train.only([g]))):
            tr, te = table_of(group), (test.without(group) if kind == "without" else test.only([group]))
            cv = cross_validate(ablation_options, tr.values, y, folds)
            values = figures(y, cv.probabilities) | transfer_figures(ablation_options, tr, source, te, target)
            report.add(
                ablation_table, header("features", columns), row(f"{kind} {group} ({len(tr.names)})", values, columns)
            )


# ---------------------------------------------------------------- command line


def positive_int(text: str) -> int:
    """``--jobs``: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"give a whole number of processes, 1 or more, not {text!r}")
    return int(text)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mood.training.hybrid_features", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("cache", "evaluate"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the 4Q folder (with metadata.csv)")
    parser.add_argument("--grekow", type=Path, default=DEFAULT_GREKOW_DIR, help="the Grekow folder (transfer only)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where the features are kept")
    parser.add_argument(
        "--parts", nargs="+", default=["musical", "musicnn", "crops"], choices=("musical", "musicnn", "crops")
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=usable_cores(),
        help="processes sharing the caching (default: every core)",
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="the markdown file of the figures")
    parser.add_argument("--heads", nargs="+", default=list(HEAD_GRIDS), choices=list(HEAD_GRIDS))
    parser.add_argument("--ablation-head", default="logistic", choices=list(HEAD_GRIDS))
    parser.add_argument(
        "--ablations", action=argparse.BooleanOptionalAction, default=True, help="each feature group removed, or alone"
    )
    parser.add_argument("--musical-only", action="store_true", help="leave musicnn's statistics out")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    (cache_all if args.command == "cache" else evaluate)(args)


if __name__ == "__main__":
    main()
