"""How unlike the training music a song is: the hybrid's distance, the temperature it widens, and
what the CLI says of it (mood.engine.familiarity, FamiliarityCalibration)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from mood.cli import main
from mood.constants import MOODS, SAMPLE_RATE, UNFAMILIAR_DISTANCE
from mood.engine.familiarity import softening_factors
from mood.engine.features import log_mel
from mood.engine.hybrid import HEAD_SUFFIX, load_hybrid, read_head_arrays
from mood.engine.inference import Predictor, to_prediction
from mood.engine.integrity import sha256_of
from mood.engine.manifest import Calibration, FamiliarityCalibration, HybridManifest
from mood.engine.probabilities import softmax
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, read_manifest
from mood.errors import ModelError
from mood.training.hybrid_features import robust_scaling
from mood.training.members.hybrid import fit_familiarity
from mood.training.runs import OutOfFold, load_run, save_run

from .test_hybrid import chords

N_ROWS, N_FEATURES, RANK = 400, 12, 3


def low_rank_rows(rng: np.random.Generator, n: int, off: float) -> np.ndarray:
    """Rows near a 3-d subspace of 12 columns, ``off`` the spread of their noise off it."""
    basis = np.random.default_rng(7).normal(size=(RANK, N_FEATURES))
    return (rng.normal(size=(n, RANK)) * 3.0 @ basis + rng.normal(scale=off, size=(n, N_FEATURES))).astype(np.float32)


def test_rows_off_the_training_rows_directions_are_far_and_typical_ones_about_one() -> None:
    rng = np.random.default_rng(0)
    x = low_rank_rows(rng, N_ROWS, off=0.3)
    y = np.arange(N_ROWS) % 4
    pipeline = make_pipeline(*robust_scaling(), LogisticRegression(max_iter=500)).fit(x, y)
    familiarity = fit_familiarity(pipeline, x, n_components=RANK)
    z = pipeline[:3].transform
    assert np.median(familiarity.distances(z(x))) == pytest.approx(1.0, abs=1e-3)
    like = familiarity.distances(z(low_rank_rows(rng, 200, off=0.3)))
    unlike = familiarity.distances(z(low_rank_rows(rng, 200, off=1.5)))
    assert 0.8 < np.median(like) < 1.2 and np.median(unlike) > 3 * np.median(like)
    assert familiarity.components.shape == (RANK, N_FEATURES)
    np.testing.assert_allclose(familiarity.components @ familiarity.components.T, np.eye(RANK), atol=1e-5)
    few_columns = fit_familiarity(pipeline, x, n_components=50)  # never every direction: a residual is left
    assert len(few_columns.components) == N_FEATURES - 1 and np.isfinite(few_columns.distances(z(x))).all()


def test_only_a_song_beyond_a_typical_training_clip_is_softened_and_its_moods_keep_their_order() -> None:
    assert softening_factors(0.5, np.array([0.2, 1.0])).tolist() == [1.0, 1.0]
    assert softening_factors(0.5, 3.0) == pytest.approx(np.exp(1.0))
    familiarity = FamiliarityCalibration(slope=0.5, clips=10, ece_before=0.1, ece_after=0.05)
    calibration = Calibration("temperature", 2.0, 0.1, 0.05, familiarity=familiarity)
    assert calibration.softening_for(None) == calibration.softening_for(0.9) == 1.0
    assert calibration.softening_for(3.0) == pytest.approx(np.exp(1.0))
    assert calibration.temperature_for(30.0) == 2.0  # the length's temperature is the same near or far
    assert dataclasses.replace(calibration, familiarity=None).softening_for(3.0) == 1.0
    with pytest.raises(ValueError, match="cannot narrow"):
        FamiliarityCalibration(slope=-0.1, clips=10, ece_before=0.1, ece_after=0.05)
    windows = OutOfFold({"s": np.log(np.array([[0.5, 0.3, 0.15, 0.05], [0.2, 0.45, 0.3, 0.05]], np.float32))},
                        {"s": np.array([0.0, 2.5])}, 5.0).outputs("s")  # fmt: skip
    near, far = to_prediction("m", windows, 7.5), to_prediction("m", windows, 7.5, softening=3.0)
    assert far.mood == near.mood and max(far.probabilities.values()) < max(near.probabilities.values())
    for a, b in zip(near.timeline, far.timeline, strict=True):
        assert sorted(a.probabilities, key=a.probabilities.get) == sorted(b.probabilities, key=b.probabilities.get)
        assert max(b.probabilities.values()) < max(a.probabilities.values())


def test_a_run_keeps_its_distances_and_a_networks_run_has_none(tmp_path: Path) -> None:
    logits = {s: np.zeros((1, 4), np.float32) for s in ("a", "b")}
    starts = {s: np.zeros(1) for s in logits}
    measured = OutOfFold(logits, starts, 30.0, distances={"a": 0.9, "b": 2.25})
    save_run(measured, tmp_path / "measured.npz")
    save_run(dataclasses.replace(measured, distances={}), tmp_path / "network.npz")
    assert load_run(tmp_path / "measured.npz").distances == {"a": pytest.approx(0.9), "b": 2.25}
    assert load_run(tmp_path / "network.npz").distances == {}


def test_the_shipped_ensemble_widens_its_temperature_by_the_hybrids_distance() -> None:
    ensemble = read_manifest("ensemble", SHIPPED_WEIGHTS_DIR)
    calibration = ensemble.cv.calibration if ensemble.cv else None
    assert calibration is not None and calibration.familiarity is not None and calibration.familiarity.slope > 0
    wav = chords(minor=True, seconds=12.0)
    combined, _, hybrid = Predictor("ensemble", SHIPPED_WEIGHTS_DIR).predict_song(wav).predictions
    assert combined.distance_from_training == hybrid.distance_from_training
    assert combined.distance_from_training is not None and combined.distance_from_training > UNFAMILIAR_DISTANCE
    assert combined.unfamiliar  # synthetic chords are unlike any song of 4Q
    assert hybrid.why and combined.why  # the distance travels with the hybrid's reasons
    unwidened = Predictor("ensemble", SHIPPED_WEIGHTS_DIR)
    assert unwidened.manifest.cv is not None
    unwidened.manifest = dataclasses.replace(
        unwidened.manifest,
        cv=dataclasses.replace(unwidened.manifest.cv, calibration=dataclasses.replace(calibration, familiarity=None)),
    )
    sure, _, sure_hybrid = unwidened.predict_song(wav).predictions
    assert sure.mood == combined.mood and max(sure.probabilities.values()) > max(combined.probabilities.values())
    assert sure_hybrid == hybrid  # the ensemble combines its members' answers as they were before softening
    member = load_hybrid("hybrid", SHIPPED_WEIGHTS_DIR)
    answer = member.judge(log_mel(wav, member.manifest.features), wav)
    own = Predictor("hybrid", SHIPPED_WEIGHTS_DIR).predict(wav)  # the hybrid alone softens its own answer
    softening = member.manifest.softening_for(answer.distance)
    assert softening > 1 and own.mood == MOODS[int(answer.probabilities.argmax())]
    expected = softmax(np.log(answer.probabilities)[None, :], softening)[0]
    np.testing.assert_allclose([own.probabilities[m] for m in MOODS], expected, atol=1e-5)


def test_the_cli_json_says_how_far_a_song_is_from_the_training_music(tmp_path: Path) -> None:
    path = tmp_path / "chords.wav"
    sf.write(path, chords(minor=False), SAMPLE_RATE)
    for model, measured in (("ensemble", True), ("hybrid", True), ("cldnn", False)):
        out = io.StringIO()
        assert main(["analyze", "--model", model, "--json", str(path)], out=out) == 0
        record = json.loads(out.getvalue())
        assert ("distance_from_training" in record) == measured == ("unfamiliar" in record), model
        if measured:
            assert record["unfamiliar"] == (record["distance_from_training"] > UNFAMILIAR_DISTANCE)


def test_a_head_without_its_familiarity_arrays_is_refused(tmp_path: Path) -> None:
    manifest = read_manifest("hybrid", SHIPPED_WEIGHTS_DIR)
    assert isinstance(manifest, HybridManifest)
    with np.load(SHIPPED_WEIGHTS_DIR / f"hybrid{HEAD_SUFFIX}") as npz:
        arrays = {k: npz[k] for k in npz.files if not k.startswith("familiarity")}
    path = tmp_path / f"hybrid{HEAD_SUFFIX}"
    np.savez(path, **arrays)
    with pytest.raises(ModelError, match="do not fit"):
        read_head_arrays(path, dataclasses.replace(manifest, sha256=sha256_of(path)))
