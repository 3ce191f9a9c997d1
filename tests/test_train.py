"""The training pipeline end to end on a tiny synthesised data set laid out like 4Q
(metadata.csv + audio files, four folds), one short epoch per network."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from mood.constants import MOODS
from mood.engine.weights import load_model, read_manifest
from mood.training.train import main
from tests.helpers import chord_progression, tone, write_audio

CLIPS_PER_MOOD = 12  # 48 clips in 4 folds: 36 training clips, one batch of 32 per epoch
N_FOLDS = 4
CLIP_S = 6.0  # two 5 s windows with a 2.5 s hop, plus the one ending on the clip's end
CV_FOLDS = "0,1"


def _clip(mood_index: int, n: int) -> np.ndarray:
    """A different sound per mood (a chord progression or a tone), varied per clip."""
    if mood_index % 2 == 0:
        return chord_progression(CLIP_S, seed=10 * mood_index + n)
    return tone(220.0 * (mood_index + 1) + 7.0 * n, CLIP_S)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4Q-shaped folder: ``metadata.csv`` and ``audio/<quadrant>/<song_id>.wav``."""
    folder = tmp_path_factory.mktemp("4q")
    rows = []
    for m, mood in enumerate(MOODS):
        (folder / "audio" / f"Q{m + 1}").mkdir(parents=True)
        for n in range(CLIPS_PER_MOOD):
            song_id = f"SYN{m}{n:03d}"
            path = f"audio/Q{m + 1}/{song_id}.wav"
            write_audio(_clip(m, n), folder / path)
            rows.append({"song_id": song_id, "artist": f"artist {m}-{n % N_FOLDS}", "mood": mood,
                         "path": path, "fold": n % N_FOLDS})  # fmt: skip
    with (folder / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both networks cross-validated on folds 0 and 1 and trained on all clips, then the ensemble scored."""
    root = tmp_path_factory.mktemp("training")
    dirs = {name: root / name for name in ("cache", "runs", "weights", "docs")}
    dirs["docs"].mkdir()
    common = ["--data", str(data_dir), "--epochs", "1", "--folds", CV_FOLDS, "--cache-dir", str(dirs["cache"]),
              "--runs-dir", str(dirs["runs"]), "--weights-dir", str(dirs["weights"])]  # fmt: skip
    for model in ("resnet18", "cldnn"):
        main(["--model", model, *common])
    main(["--model", "ensemble", *common, "--docs-dir", str(dirs["docs"])])
    return dirs


def _run(path: Path) -> dict[str, list[float] | None]:
    rows: dict[str, list[float] | None] = json.loads(path.read_text())
    return rows


@pytest.mark.parametrize("model", ["resnet18", "cldnn"])
def test_training_ships_verified_weights_with_cv_figures(trained: dict[str, Path], model: str) -> None:
    manifest = read_manifest(model, trained["weights"])
    cv = manifest["cv"]
    assert cv["folds"] == [0, 1]
    held_out = 2 * len(MOODS) * CLIPS_PER_MOOD // N_FOLDS
    assert np.array(cv["confusion"]).sum() == held_out
    assert set(cv["per_class"]) == set(MOODS)
    assert 0.0 <= cv["macro_f1"] <= 1.0
    assert manifest["recipe"]["epochs"] == 1
    assert manifest["window_s"] == 5.0 and manifest["n_mels"] == 128
    loaded = load_model(model, trained["weights"])  # verifies the sha256 and labels
    assert loaded.manifest["sha256"] == manifest["sha256"]


@pytest.mark.parametrize("model", ["resnet18", "cldnn"])
def test_out_of_fold_runs_cover_exactly_the_held_out_clips(trained: dict[str, Path], model: str) -> None:
    for suffix in ("oof", "oof_centre_window"):
        rows = _run(trained["runs"] / f"{model}_{suffix}.json")
        assert len(rows) == len(MOODS) * CLIPS_PER_MOOD
        scored = [song for song, p in rows.items() if p is not None]
        assert len(scored) == 2 * len(MOODS) * CLIPS_PER_MOOD // N_FOLDS
        assert all(int(song[-3:]) % N_FOLDS in (0, 1) for song in scored)
        np.testing.assert_allclose([sum(rows[s]) for s in scored], 1.0, atol=1e-4)  # type: ignore[arg-type]


def test_ensemble_is_scored_on_the_mean_of_both_runs(trained: dict[str, Path]) -> None:
    manifest = read_manifest("ensemble", trained["weights"])
    assert manifest["members"] == ["resnet18", "cldnn"]
    runs = [_run(trained["runs"] / f"{m}_oof.json") for m in manifest["members"]]
    correct = [
        MOODS[int(np.argmax(np.mean([r[song] for r in runs], axis=0)))] == MOODS[int(song[3])]
        for song, p in runs[0].items()
        if p is not None
    ]
    assert manifest["cv"]["accuracy"] == pytest.approx(np.mean(correct), abs=1e-4)
    assert (trained["docs"] / "cv_confusion.png").stat().st_size > 0
    assert "ensemble" in (trained["docs"] / "cv_results.md").read_text()


def test_the_same_command_gives_the_same_figures(data_dir: Path, trained: dict[str, Path], tmp_path: Path) -> None:
    main(["--model", "cldnn", "--data", str(data_dir), "--epochs", "1", "--folds", CV_FOLDS, "--no-final",
          "--cache-dir", str(trained["cache"]), "--runs-dir", str(tmp_path)])  # fmt: skip
    again, first = _run(tmp_path / "cldnn_oof.json"), _run(trained["runs"] / "cldnn_oof.json")
    assert again.keys() == first.keys()
    for song, p in first.items():
        if p is None:
            assert again[song] is None
        else:
            np.testing.assert_allclose(again[song], p, atol=1e-5)  # type: ignore[arg-type]
