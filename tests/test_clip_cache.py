"""The training caches: each clip decoded once for every cache it lacks, whole files only, and the
``hybrid_features cache`` command filling what the members then read without decoding again."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

import mood.training.clip_cache as clip_cache
from mood.constants import MOODS
from mood.engine.musical import DEFAULT_MUSICAL_CONFIG
from mood.training.clip_cache import ClipCache, fill, written_whole
from mood.training.crops import DEFAULT_CROPS
from mood.training.dataset import TrainingClip
from mood.training.hybrid_features import (
    Collection,
    CropsCache,
    MusicalCache,
    cache_crops,
    cache_musical,
    four_q,
    grekow,
    main,
)
from mood.training.members.musicnn import FINETUNE_FRONT_END, PooledCache, load_pooled, pretrained_network
from mood.training.paths import MUSICNN_CACHE
from tests.helpers import chord_progression, tone, write_audio

CLIP_S = 8.0


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path the caches decode, in order (the real decoder still runs)."""
    decoded: list[Path] = []
    real: Callable[..., npt.NDArray[np.float32]] = clip_cache.load_audio

    def counting(path: Path) -> npt.NDArray[np.float32]:
        decoded.append(path)
        return real(path)

    monkeypatch.setattr(clip_cache, "load_audio", counting)
    return decoded


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[TrainingClip]:
    folder = tmp_path_factory.mktemp("clips")
    sounds = [chord_progression(CLIP_S, seed=1), tone(330.0, CLIP_S)]
    return [
        TrainingClip(f"song{k}", write_audio(sound, folder / f"song {k}.wav"), k, k, f"artist {k}")
        for k, sound in enumerate(sounds)
    ]


def every_cache(cache_dir: Path) -> list[ClipCache]:
    model, _ = pretrained_network()
    return [
        MusicalCache.under(cache_dir, "tiny", DEFAULT_MUSICAL_CONFIG),
        PooledCache.under(cache_dir / MUSICNN_CACHE, model, FINETUNE_FRONT_END),
        CropsCache.under(cache_dir, "tiny", model, DEFAULT_CROPS, DEFAULT_MUSICAL_CONFIG),
    ]


def test_each_clip_is_decoded_once_for_every_cache_it_lacks(
    clips: list[TrainingClip], decodes: list[Path], tmp_path: Path
) -> None:
    caches = every_cache(tmp_path)
    pooled = caches[1]
    timings = fill([pooled], clips[1:], "first")  # one clip's musicnn patches already cached
    assert decodes == [clips[1].path] and len(timings["musicnn patches"]) == 1
    decodes.clear()
    timings = fill(caches, clips, "the rest")
    assert decodes == [c.path for c in clips]  # once each, for all the caches it lacked
    assert {label: len(t) for label, t in timings.items()} == {"musical features": 2, "musicnn patches": 1, "crops": 2}
    assert all(cache.path(clip).exists() for cache in caches for clip in clips)
    assert not list(tmp_path.rglob("*partial*"))
    decodes.clear()
    assert fill(caches, clips, "again") == {"musical features": [], "musicnn patches": [], "crops": []}
    assert decodes == []


def test_one_decode_writes_what_each_cache_computes_on_its_own(
    clips: list[TrainingClip], decodes: list[Path], tmp_path: Path
) -> None:
    fill(every_cache(tmp_path / "together"), clips, "together")
    assert len(decodes) == len(clips)
    alone = parts_read(clips, tmp_path / "alone")  # each part computed by its own loader
    assert len(decodes) == len(clips) + 3 * len(clips)
    together = parts_read(clips, tmp_path / "together")  # read back from the shared pass: no decode
    assert len(decodes) == 4 * len(clips)
    for got, want in zip(together, alone, strict=True):
        np.testing.assert_array_equal(got, want)


def parts_read(clips: list[TrainingClip], cache_dir: Path) -> list[npt.NDArray[np.generic]]:
    """Every cached part of ``clips``, through the loaders the members use."""
    model, _ = pretrained_network()
    collection = Collection("tiny", clips)
    musical = cache_musical(collection, DEFAULT_MUSICAL_CONFIG, cache_dir)
    pooled, starts = load_pooled(clips, model, FINETUNE_FRONT_END, cache_dir / MUSICNN_CACHE)
    crops = cache_crops(collection, model, DEFAULT_CROPS, cache_dir)
    return [*musical, *pooled, *starts, crops.values, crops.pooled, crops.patch_starts_s]


def test_a_write_that_fails_leaves_the_file_that_was_there(tmp_path: Path) -> None:
    path = tmp_path / "song.npy"
    np.save(path, np.arange(3))
    with pytest.raises(OSError), written_whole(path) as partial:
        partial.write_bytes(b"half a fi")
        raise OSError("No space left on device")
    np.testing.assert_array_equal(np.load(path), np.arange(3))
    with written_whole(path) as partial:
        np.save(partial, np.arange(4))
    np.testing.assert_array_equal(np.load(path), np.arange(4))


def test_the_cache_command_fills_what_the_hybrid_and_musicnn_read(
    clips: list[TrainingClip], decodes: list[Path], tmp_path: Path
) -> None:
    four_q_dir = write_collection(tmp_path / "4q", clips, rated=False)
    grekow_dir = write_collection(tmp_path / "grekow", clips[:1], rated=True)
    cache_dir = tmp_path / "cache"
    main(
        ["cache", "--data", str(four_q_dir), "--grekow", str(grekow_dir), "--cache-dir", str(cache_dir), "--jobs", "2"]
    )
    model, _ = pretrained_network()
    training, rated = four_q(four_q_dir), grekow(grekow_dir)
    decodes.clear()
    for collection in (training, rated):
        assert len(cache_musical(collection, DEFAULT_MUSICAL_CONFIG, cache_dir)) == len(collection.clips)
        load_pooled(collection.clips, model, FINETUNE_FRONT_END, cache_dir / MUSICNN_CACHE)
    assert len(cache_crops(training, model, DEFAULT_CROPS, cache_dir).values) == DEFAULT_CROPS.per_clip * len(clips)
    assert decodes == []  # everything was cached by the command's two processes
    assert not (cache_dir / "crops" / "grekow").exists()  # Grekow is never trained on: no crops


def write_collection(folder: Path, clips: list[TrainingClip], rated: bool) -> Path:
    """A 4Q-shaped (or, ``rated``, Grekow-shaped) folder holding ``clips``' audio."""
    folder.mkdir()
    rows = []
    for clip in clips:
        (folder / clip.path.name).write_bytes(clip.path.read_bytes())
        row = {"song_id": clip.song_id, "path": clip.path.name, "mood": MOODS[clip.mood]}
        extra = (
            {"genre": "blues", "valence": 0.5, "arousal": 0.5} if rated else {"artist": clip.artist, "fold": clip.fold}
        )
        rows.append(row | extra)
    with (folder / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder
