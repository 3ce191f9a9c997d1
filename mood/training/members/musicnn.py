"""The fine-tuned pretrained member (``musicnn``): musicnn's back ends and a mood head trained on 4Q.

The musicnn front and mid ends stay as pretrained: each window's pooled vector is computed
once per clip and cached (``.cache/musicnn``). Training then fits the back ends (initialised
from the pretrained ones) and the mood head on random cached windows through
:func:`mood.training.loop.fit`, in seconds per epoch. Held-out clips are scored from the very
windows the app cuts, exactly as the app scores a song.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import torch

from mood.constants import (
    DEAD_FILTER_TOLERANCE,
    MOODS,
    MUSICNN_MOOD_HOP_FRAMES,
    MUSICNN_MOOD_LOUDNESS_DBFS,
    MUSICNN_MOOD_MAX_WINDOWS,
)
from mood.engine.features import MUSICNN_FRONT_END, FloatArray, FrontEnd, log_mel, make_windows
from mood.engine.manifest import CrossValidation, NetworkManifest, Pretrained, read_manifest_file
from mood.engine.models.musicnn_mood import FrozenPooled, MusicnnMood
from mood.engine.onnx_export import export_network
from mood.engine.onnx_runtime import session_of, session_outputs
from mood.engine.torch_weights import load_verified_state, save_network
from mood.engine.weights import BACKBONES_SUBDIR, SHIPPED_WEIGHTS_DIR
from mood.errors import ModelError
from mood.training.clip_cache import Clip, fill, written_whole
from mood.training.crops import CropTable
from mood.training.dataset import TrainingClip
from mood.training.loop import Batch, LoopSettings, Student, fit
from mood.training.paths import MUSICNN_CACHE, TRAINING_SET
from mood.training.runs import OutOfFold

MODEL_NAME = "musicnn"
ARCHITECTURE = "musicnn_mood"
FINETUNE_FRONT_END = dataclasses.replace(
    MUSICNN_FRONT_END,
    loudness_dbfs=MUSICNN_MOOD_LOUDNESS_DBFS,
    hop_frames=MUSICNN_MOOD_HOP_FRAMES,
    max_windows=MUSICNN_MOOD_MAX_WINDOWS,
)
"""musicnn's own front end, with every clip first brought to one loudness (so the model
cannot learn how loud 4Q's files are) and musicnn's own non-overlapping patches."""
PATCH_BATCH = 64  # patches per frozen forward pass
POOLED_OUTPUT = "pooled"  # the frozen part's output, in its export


@dataclass(frozen=True)
class FinetuneRecipe:
    """Every fine-tuning choice, recorded in the manifest."""

    epochs: int = 30
    windows_per_clip: int = 4  # random windows drawn from each clip per epoch
    batch_size: int = 64
    back_end_lr: float = 3e-4  # AdamW, one-cycle peak, for the pretrained back ends
    head_lr: float = 3e-3  # ... and for the new head
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.2  # on the pooled vectors; 0 turns it off
    freeze_back_ends: bool = False  # True trains the head alone (the ablation)
    ema_decay: float = 0.99  # per step
    seed: int = 0

    def loop_settings(self) -> LoopSettings:
        """What the training loop needs of this recipe (fp32: the head is cheap)."""
        return LoopSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            draws_per_item=self.windows_per_clip,
            weight_decay=self.weight_decay,
            label_smoothing=self.label_smoothing,
            mixup_alpha=self.mixup_alpha,
            ema_decay=self.ema_decay,
            seed=self.seed,
        )


def pretrained_network(weights_dir: Path = SHIPPED_WEIGHTS_DIR) -> tuple[MusicnnMood, Pretrained]:
    """A :class:`MusicnnMood` whose backbones hold the converted musicnn weights (verified),
    and their provenance merged into one record.

    Raises:
        ModelError: a backbone's files are missing or do not match, or its recorded shape is not the member's.
    """
    model = MusicnnMood(FINETUNE_FRONT_END.n_mels, len(MOODS))
    records = []
    for backbone, name in zip(model.backbones, model.config.backbones, strict=True):
        folder = weights_dir / BACKBONES_SUBDIR
        manifest = read_manifest_file(folder / f"{name}.json")
        if not isinstance(manifest, NetworkManifest) or manifest.pretrained is None:
            raise ModelError(f"{name}.json does not describe a converted network; restore it from the repository.")
        if manifest.architecture_config != model.config.backbone:
            raise ModelError(f"{name}.json records another shape than the member's backbones; reconvert it.")
        load_verified_state(backbone, manifest, folder / f"{name}.pt")
        records.append(manifest.pretrained)
    merged = dataclasses.replace(
        records[0],
        model=", ".join(r.model for r in records),
        trained_on="; ".join(r.trained_on for r in records),
        files={k: v for r in records for k, v in r.files.items()},
    )
    return model.eval(), merged


def backbone_key(model: MusicnnMood) -> str:
    """A short fingerprint of the frozen weights and of which filters they convolve
    (``DEAD_FILTER_TOLERANCE``), for the feature cache's name."""
    digest = hashlib.sha1(f"dead filters below {DEAD_FILTER_TOLERANCE}".encode())
    for name, tensor in model.backbones.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:10]


def pooled_patches(model: MusicnnMood, mel: FloatArray, front_end: FrontEnd) -> npt.NDArray[np.float16]:
    """The frozen front and mid ends' output for every patch cut from ``mel``, rounded to float16 as
    the cache keeps it: shape ``(n_patches, n_backbones, pooled_dim)`` (run by :func:`frozen_session`)."""
    windows, _ = make_windows(mel, front_end)
    return session_outputs(frozen_session(model, front_end), windows, POOLED_OUTPUT, PATCH_BATCH).astype(np.float16)


@functools.cache
def frozen_session(model: MusicnnMood, front_end: FrontEnd) -> ort.InferenceSession:
    """``model``'s frozen front and mid ends (:class:`FrozenPooled`) exported to ONNX and run by
    ONNX Runtime on one thread, once per process: what the caches run. On this project's 2-core
    CPUs it pools a 30 s clip's patches about six times faster than the torch module, within float
    rounding of it (3.7e-4 of values up to about 100, before the cache's float16 rounding).
    ``model`` must not change afterwards (the frozen backbones never do)."""
    with tempfile.TemporaryDirectory() as folder:
        frozen = FrozenPooled(model).eval()  # eval before the export: it leaves the graph's mode as it found it
        path = export_network(frozen, front_end, Path(folder) / "pooled.onnx", (POOLED_OUTPUT,))
        return session_of(path.read_bytes(), name="musicnn's frozen front and mid ends")


@dataclass(frozen=True)
class PooledCache:
    """Clips' frozen musicnn patches for one front end and set of backbones, one ``.npz`` each
    (``pooled``: :func:`pooled_patches`, ``starts_s``: each patch's start): a :class:`ClipCache`."""

    folder: Path
    model: MusicnnMood
    front_end: FrontEnd
    label: str = "musicnn patches"

    @classmethod
    def under(cls, cache_dir: Path, model: MusicnnMood, front_end: FrontEnd) -> PooledCache:
        """The cache of ``model``'s backbones and ``front_end`` in ``cache_dir`` (its folder created)."""
        folder = cache_dir / f"{front_end.cache_key()}-{backbone_key(model)}"
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, model, front_end)

    def path(self, clip: Clip) -> Path:
        return self.folder / f"{clip.song_id}.npz"

    def write(self, clip: Clip, wav: FloatArray) -> None:
        mel = log_mel(wav, self.front_end)
        _, starts = make_windows(mel, self.front_end)
        with written_whole(self.path(clip)) as partial:
            pooled = pooled_patches(self.model, mel, self.front_end)
            np.savez(partial, pooled=pooled, starts_s=np.array(starts) * self.front_end.frame_s)


def load_pooled(
    clips: Sequence[TrainingClip], model: MusicnnMood, front_end: FrontEnd, cache_dir: Path
) -> tuple[list[npt.NDArray[np.float16]], list[npt.NDArray[np.float64]]]:
    """Each clip's pooled windows and their start times, computed once and cached."""
    cache = PooledCache.under(cache_dir, model, front_end)
    fill([cache], clips, "musicnn features")
    pooled, starts_s = [], []
    for clip in clips:
        with np.load(cache.path(clip)) as data:
            pooled.append(data["pooled"])
            starts_s.append(data["starts_s"])
    return pooled, starts_s


@dataclass(frozen=True)
class CachedWindows:
    """Random cached windows of training clips (a :class:`mood.training.loop.TrainingData`)."""

    pooled: Sequence[npt.NDArray[np.float16]]
    moods: npt.NDArray[np.int_]

    def __len__(self) -> int:
        return len(self.pooled)

    def batch(self, idx: npt.NDArray[np.int_], rng: np.random.Generator) -> Batch:
        """One random window's pooled vectors of each clip ``idx``."""
        x = np.stack([self.pooled[i][rng.integers(len(self.pooled[i]))] for i in idx]).astype(np.float32)
        return Batch(torch.from_numpy(x), torch.from_numpy(self.moods[idx]))


def train_head(
    pretrained: MusicnnMood,
    pooled: Sequence[npt.NDArray[np.float16]],
    moods: npt.NDArray[np.int_],
    recipe: FinetuneRecipe,
    desc: str,
) -> MusicnnMood:
    """Fine-tune a copy of ``pretrained``'s backbones and a new head on random cached windows;
    its EMA weights, in eval mode. The head's initial weights come from ``recipe.seed``."""

    def student() -> Student[MusicnnMood]:
        model = MusicnnMood(FINETUNE_FRONT_END.n_mels, len(MOODS), pretrained.config)  # the head: from the seed
        model.backbones.load_state_dict(pretrained.backbones.state_dict())
        head = list(model.head.parameters())
        back_ends = [p for p in model.trained_parameters() if all(p is not h for h in head)]
        groups = [(head, recipe.head_lr)] + ([] if recipe.freeze_back_ends else [(back_ends, recipe.back_end_lr)])
        return Student(model, groups, model.from_pooled, lambda: _set_training(model, recipe.freeze_back_ends))

    return fit(student, CachedWindows(pooled, moods), recipe.loop_settings(), desc)


def _set_training(model: MusicnnMood, freeze_back_ends: bool) -> None:
    """Train mode for what is trained (dropout, batch-norm statistics), eval mode for the rest."""
    model.eval()
    model.head.train()
    if not freeze_back_ends:
        for backbone in model.musicnns():
            for module in backbone.back_end_modules():
                module.train()


def score_pooled(
    model: MusicnnMood,
    ids: Sequence[str],
    pooled: Sequence[npt.NDArray[np.float16]],
    starts_s: Sequence[npt.NDArray[np.float64]],
    excerpt_s: float | None = None,
) -> OutOfFold:
    """The model's logits for every cached window of each clip or crop ``ids`` (the windows the app cuts)."""
    with torch.inference_mode():
        logits = {
            i: model.from_pooled(torch.from_numpy(p.astype(np.float32))).numpy()
            for i, p in zip(ids, pooled, strict=True)
        }
    starts = dict(zip(ids, starts_s, strict=True))
    return OutOfFold(logits, starts, FINETUNE_FRONT_END.window_s, excerpt_s)


class MusicnnMember:
    """The fine-tuned musicnn member (a :class:`mood.training.cv.Member` of :class:`MusicnnMood`)."""

    name = MODEL_NAME

    def __init__(
        self,
        clips: Sequence[TrainingClip],
        pretrained: MusicnnMood,
        provenance: Pretrained,
        cached: tuple[Sequence[npt.NDArray[np.float16]], Sequence[npt.NDArray[np.float64]]],
        recipe: FinetuneRecipe,
        crops: CropTable | None = None,
    ) -> None:
        self.clips = clips
        self.pretrained = pretrained
        self.provenance = provenance
        self.pooled, self.starts_s = cached
        self.recipe = recipe
        self.crops = crops

    def fit(self, train_idx: Sequence[int], desc: str) -> MusicnnMood:
        """The pretrained network fine-tuned on the clips ``train_idx``."""
        idx = list(train_idx)
        moods = np.array([self.clips[i].mood for i in idx])
        return train_head(self.pretrained, [self.pooled[i] for i in idx], moods, self.recipe, desc)

    def score(self, fitted: MusicnnMood, idx: Sequence[int]) -> OutOfFold:
        """The fine-tuned network's logits for every window of the clips ``idx``."""
        ids = [self.clips[i].song_id for i in idx]
        return score_pooled(fitted, ids, [self.pooled[i] for i in idx], [self.starts_s[i] for i in idx])

    def score_crops(self, fitted: MusicnnMood, idx: Sequence[int]) -> OutOfFold | None:
        """The fine-tuned network's logits for every window of the crops of the clips ``idx``
        (None: the member was given no crops)."""
        if self.crops is None:
            return None
        rows = self.crops.of_clips(idx)
        ids = self.crops.ids(self.clips)
        starts = [self.crops.patch_starts_s] * len(rows)
        return score_pooled(
            fitted, [ids[r] for r in rows], list(self.crops.pooled[rows]), starts, self.crops.settings.length_s
        )

    def ship(self, fitted: MusicnnMood, cv: CrossValidation, weights_dir: Path) -> None:
        """Write ``musicnn.pt`` and ``musicnn.json`` (with the backbones' provenance)."""
        save_network(
            fitted, MODEL_NAME, weights_dir, ARCHITECTURE, FINETUNE_FRONT_END,
            trained_on=TRAINING_SET, recipe=asdict(self.recipe), cv=cv, pretrained=self.provenance,
        )  # fmt: skip


def musicnn_member(
    clips: Sequence[TrainingClip],
    recipe: FinetuneRecipe,
    cache_dir: Path,
    crops: CropTable | None = None,
    backbones: tuple[MusicnnMood, Pretrained] | None = None,
) -> MusicnnMember:
    """The member with the shipped backbones and every clip's frozen features (cached in
    ``cache_dir/musicnn``); ``crops``: the clips' crops (their frozen patches from the same backbones),
    which it is also scored on; ``backbones``: :func:`pretrained_network`'s answer when already loaded."""
    started = time.perf_counter()
    pretrained, provenance = backbones or pretrained_network()
    cached = load_pooled(clips, pretrained, FINETUNE_FRONT_END, cache_dir / MUSICNN_CACHE)
    print(f"musicnn features ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return MusicnnMember(clips, pretrained, provenance, cached, recipe, crops)
