"""The training command end to end on a tiny synthesised data set laid out like 4Q
(metadata.csv + audio files, four folds), one short epoch per network."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mood.constants import MOODS
from mood.engine.features import SCRATCH_FRONT_END
from mood.engine.manifest import Stacking
from mood.engine.torch_weights import load_network
from mood.engine.weights import read_ensemble_manifest, read_network_manifest, write_manifest
from mood.training.calibration import TEMPERATURE_BOUNDS
from mood.training.cli import main
from mood.training.crops import DEFAULT_CROPS, parent_song_id
from mood.training.cv import crops_run_path, run_path
from mood.training.members.ensemble import default_combination
from mood.training.members.musicnn import FINETUNE_FRONT_END, pretrained_network
from mood.training.runs import load_run
from tests.helpers import chord_progression, tone, write_audio

CLIPS_PER_MOOD = 12  # 48 clips in 4 folds: 36 training clips, one batch of 32 per epoch
N_FOLDS = 4
CLIP_S = 6.0  # one 5 s window at the start and one ending at the end
CV_FOLDS = "0,1"
NETWORKS = ("resnet18", "cldnn", "musicnn")


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
    """Every network cross-validated on folds 0 and 1 and trained on all clips, then the ensemble scored."""
    root = tmp_path_factory.mktemp("training")
    dirs = {name: root / name for name in ("cache", "runs", "weights", "docs")}
    dirs["docs"].mkdir()
    common = ["--data", str(data_dir), "--epochs", "1", "--folds", CV_FOLDS, "--cache-dir", str(dirs["cache"]),
              "--runs-dir", str(dirs["runs"]), "--weights-dir", str(dirs["weights"])]  # fmt: skip
    assert main(["musicnn", *common]) == 0
    assert main(["scratch", "resnet18", *common]) == 0
    assert main(["scratch", "cldnn", "--teacher", "musicnn", *common]) == 0
    assert main(["ensemble", "--data", str(data_dir), "--runs-dir", str(dirs["runs"]),
                 "--weights-dir", str(dirs["weights"]), "--docs-dir", str(dirs["docs"])]) == 0  # fmt: skip
    return dirs


@pytest.mark.parametrize("model", NETWORKS)
def test_training_ships_verified_weights_with_cv_figures(trained: dict[str, Path], model: str) -> None:
    manifest = read_network_manifest(model, trained["weights"])
    cv = manifest.cv
    assert cv is not None and cv.folds == [0, 1]
    held_out = 2 * len(MOODS) * CLIPS_PER_MOOD // N_FOLDS
    assert np.array(cv.confusion).sum() == held_out
    assert 0.0 <= cv.macro_f1 <= 1.0
    assert cv.calibration is not None and TEMPERATURE_BOUNDS[0] <= cv.calibration.temperature <= TEMPERATURE_BOUNDS[1]
    assert manifest.recipe["epochs"] == 1 and manifest.recipe["seed"] == 0
    assert manifest.features == (FINETUNE_FRONT_END if model == "musicnn" else SCRATCH_FRONT_END)
    assert manifest.recipe.get("teacher") == ("musicnn" if model == "cldnn" else None)
    loaded = load_network(model, trained["weights"])  # verifies the sha256 and labels
    assert loaded.manifest == manifest


def test_the_finetuned_member_keeps_its_pretrained_front_end_and_says_where_it_came_from(
    trained: dict[str, Path],
) -> None:
    manifest = read_network_manifest("musicnn", trained["weights"])
    assert manifest.pretrained is not None and manifest.pretrained.package == "musicnn"
    assert manifest.pretrained.licence == "ISC" and "MSD_musicnn" in manifest.pretrained.model
    tuned = load_network("musicnn", trained["weights"]).network
    pretrained, _ = pretrained_network()
    for tuned_backbone, original in zip(tuned.backbones, pretrained.backbones, strict=True):
        torch.testing.assert_close(tuned_backbone.midend.state_dict(), original.midend.state_dict())
        assert not torch.equal(tuned_backbone.dense.weight, original.dense.weight)  # the back end was fine-tuned


@pytest.mark.parametrize("model", NETWORKS)
def test_out_of_fold_runs_cover_exactly_the_held_out_clips(trained: dict[str, Path], model: str) -> None:
    run = load_run(trained["runs"] / f"{model}_oof.npz")
    assert len(run.logits) == 2 * len(MOODS) * CLIPS_PER_MOOD // N_FOLDS
    assert all(int(song[-3:]) % N_FOLDS in (0, 1) for song in run.logits)
    # 6 s clips: the windows the app cuts (5 s at 0 s and one ending at the end; 3 s at 0, 3 s and the end)
    assert {len(starts) for starts in run.starts_s.values()} == {3 if model == "musicnn" else 2}


def test_the_ensemble_command_keeps_the_ensembles_kind_and_says_which_run_is_missing(
    trained: dict[str, Path], data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = ["--data", str(data_dir), "--runs-dir", str(trained["runs"]), "--weights-dir", str(trained["weights"]),
               "--docs-dir", str(trained["docs"])]  # fmt: skip
    before = read_ensemble_manifest(trained["weights"])
    assert default_combination(trained["weights"]) == "weighted"  # the fixture's ensemble
    assert main(["ensemble", *folders, "--combination", "stacked"]) == 2  # its members saved no inner runs
    assert "--nested" in capsys.readouterr().err
    assert read_ensemble_manifest(trained["weights"]) == before  # nothing written
    stacked_dir = tmp_path / "weights"
    n_inputs = len(before.members) * len(MOODS)
    stacking = Stacking(np.zeros((len(MOODS), n_inputs)).tolist(), [0.0] * len(MOODS), 1.0)
    write_manifest(dataclasses.replace(before, combination="stacked", weights=[], stacking=stacking), stacked_dir)
    assert default_combination(stacked_dir) == "stacked"  # refitting a stacked ensemble keeps it stacked
    assert default_combination(tmp_path) == "weighted"  # no ensemble yet


def test_ensemble_is_scored_as_the_app_combines_its_members(trained: dict[str, Path]) -> None:
    manifest = read_ensemble_manifest(trained["weights"])
    assert manifest.members == sorted(NETWORKS)  # every network in the folder
    runs = [load_run(trained["runs"] / f"{m}_oof.npz") for m in manifest.members]
    members = [read_network_manifest(m, trained["weights"]) for m in manifest.members]
    assert manifest.cv is not None and manifest.cv.calibration is not None
    assert (trained["docs"] / "cv_confusion.png").stat().st_size > 0
    tables = (trained["docs"] / "cv_results.md").read_text()
    assert "ensemble" in tables and "ECE before" in tables
    for member in members:
        assert member.cv is not None and f"| {member.name} | **{member.cv.macro_f1:.3f}**" in tables
    assert all(set(r.logits) == set(runs[0].logits) for r in runs)


@pytest.mark.parametrize("command", [["scratch", "resnet18"], ["musicnn"]])
def test_the_same_command_gives_the_same_figures(
    data_dir: Path, trained: dict[str, Path], tmp_path: Path, command: list[str]
) -> None:
    """The seed decides everything, the musicnn head's initial weights included."""
    torch.manual_seed(12345)  # another global state than the first run's: the recipe's seed must win
    main([*command, "--data", str(data_dir), "--epochs", "1", "--folds", CV_FOLDS, "--no-final",
          "--cache-dir", str(trained["cache"]), "--runs-dir", str(tmp_path)])  # fmt: skip
    name = command[-1]
    again, first = load_run(tmp_path / f"{name}_oof.npz"), load_run(trained["runs"] / f"{name}_oof.npz")
    assert again.logits.keys() == first.logits.keys()
    for song, logits in first.logits.items():
        np.testing.assert_array_equal(again.logits[song], logits)


def test_each_subcommand_has_only_its_own_flags(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (
        ["musicnn", "--teacher", "musicnn"],
        ["scratch", "cldnn", "--freeze-back-ends"],
        ["ensemble", "--epochs", "3"],
    ):
        with pytest.raises(SystemExit):
            main(command)
        assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize("folds", ["0", "0,0", "0,7", "a,b"])
def test_too_few_or_unknown_folds_are_a_clear_message(folds: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["hybrid", "--folds", folds, "--no-final"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "folds" in err and "Traceback" not in err


def test_the_finetuned_member_is_calibrated_for_short_songs_on_its_clips_crops(trained: dict[str, Path]) -> None:
    crops_run = load_run(crops_run_path(trained["runs"], "musicnn"))
    held_out = load_run(run_path(trained["runs"], "musicnn"))
    assert crops_run.excerpt_s == DEFAULT_CROPS.length_s
    assert {parent_song_id(c) for c in crops_run.logits} == set(held_out.logits)  # the held-out clips' crops only
    assert len(crops_run.logits) == DEFAULT_CROPS.per_clip * len(held_out.logits)
    calibration = read_network_manifest("musicnn", trained["weights"]).cv.calibration  # type: ignore[union-attr]
    assert calibration is not None and calibration.short_clips is not None
    short = calibration.short_clips
    assert short.clips == len(crops_run.logits) and short.length_s == DEFAULT_CROPS.length_s
    assert calibration.temperature_for(short.length_s) == short.temperature
    assert calibration.temperature_for(short.clip_length_s) == calibration.temperature
    scratch = read_network_manifest("resnet18", trained["weights"]).cv.calibration  # type: ignore[union-attr]
    assert scratch is not None and scratch.short_clips is None  # a member without crops: one temperature
    assert not crops_run_path(trained["runs"], "resnet18").exists()
    ensemble = read_ensemble_manifest(trained["weights"]).cv.calibration  # type: ignore[union-attr]
    assert ensemble is not None and ensemble.short_clips is None  # not every member has crops


def test_calibrate_refits_the_figures_from_the_runs_without_training(
    data_dir: Path, trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(trained["weights"], weights)
    manifest = read_network_manifest("musicnn", weights)
    assert manifest.cv is not None
    write_manifest(dataclasses.replace(manifest, cv=dataclasses.replace(manifest.cv, calibration=None)), weights)
    args = ["--data", str(data_dir), "--runs-dir", str(trained["runs"]), "--weights-dir", str(weights)]
    assert main(["calibrate", "musicnn", *args]) == 0
    assert read_network_manifest("musicnn", weights) == manifest  # the same figures, from the saved runs
    assert (weights / "musicnn.pt").read_bytes() == (trained["weights"] / "musicnn.pt").read_bytes()
    assert main(["calibrate", "musicnn", *args[:2], "--runs-dir", str(tmp_path / "none"), *args[4:]]) == 2
    err = capsys.readouterr().err
    assert "no run of musicnn" in err and "Traceback" not in err
