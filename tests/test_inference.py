"""The Predictor: one call from audio to moods, on random-weight models."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from mood.constants import MOODS, SAMPLE_RATE
from mood.engine.features import SCRATCH_FRONT_END, log_mel_per_front_end
from mood.engine.inference import Prediction, Predictor, confidence_level, predict, window_outputs
from mood.engine.manifest import EnsembleManifest, Stacking
from mood.engine.serving import OnnxNetwork, set_session_threads, usable_cores
from mood.engine.torch_weights import load_network
from mood.engine.weights import read_network_manifest, write_manifest
from mood.errors import AudioError, ModelError
from tests.helpers import chord_progression, write_audio


@pytest.fixture(scope="module")
def ensemble(random_weights_dir: Path) -> Predictor:
    return Predictor("ensemble", random_weights_dir)


def test_prediction_fields(ensemble: Predictor, song_wav_bytes: bytes) -> None:
    result = ensemble.predict(song_wav_bytes)
    assert result.model == "ensemble"
    assert list(result.probabilities) == list(MOODS)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert result.mood == max(result.probabilities, key=result.probabilities.__getitem__)
    assert result.duration_s == pytest.approx(8.0, abs=0.01)
    p = result.probabilities
    assert result.valence == pytest.approx(p["happy"] + p["calm"] - p["angry"] - p["sad"])
    assert result.arousal == pytest.approx(p["happy"] + p["angry"] - p["sad"] - p["calm"])
    assert -1 <= result.valence <= 1 and -1 <= result.arousal <= 1
    # 8 s: windows at 0 and 2.5 s, plus one ending at the clip's end
    assert [round(w.start_s, 1) for w in result.timeline] == [0.0, 2.5, 3.0]
    assert result.timeline[-1].end_s == pytest.approx(8.0, abs=0.05)
    mean = np.mean([[w.probabilities[m] for m in MOODS] for w in result.timeline], axis=0)
    np.testing.assert_allclose(mean, [p[m] for m in MOODS], atol=1e-5)


def test_ensemble_is_the_mean_of_its_members(ensemble: Predictor, random_weights_dir: Path) -> None:
    wav = chord_progression(seconds=6.0, sr=SAMPLE_RATE)
    mels = log_mel_per_front_end(wav, ensemble.front_ends)
    assert list(mels) == [SCRATCH_FRONT_END]  # both members hear the same front end: computed once
    mean, *members = ensemble.predict_mels(mels, 6.0)
    assert mean.model == "ensemble"
    assert [m.model for m in members] == ["resnet18", "cldnn"]
    alone = [Predictor(name, random_weights_dir).predict(wav) for name in ("resnet18", "cldnn")]
    for member, single in zip(members, alone, strict=True):
        assert member.probabilities == single.probabilities
    for mood in MOODS:
        assert mean.probabilities[mood] == pytest.approx(
            (alone[0].probabilities[mood] + alone[1].probabilities[mood]) / 2, abs=2e-6
        )
    assert ensemble.predict_song(wav).predictions == (mean, *members)


def stacked_copy(random_weights_dir: Path, folder: Path, stacking: Stacking) -> Path:
    """The random networks with a stacked ensemble manifest of ``stacking``."""
    shutil.copytree(random_weights_dir, folder)
    write_manifest(
        EnsembleManifest(name="ensemble", members=["resnet18", "cldnn"], combination="stacked", stacking=stacking),
        folder,
    )
    return folder


def test_a_stacked_ensemble_applies_its_meta_learner_to_each_window(random_weights_dir: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    stacking = Stacking(rng.normal(size=(4, 8)).round(3).tolist(), rng.normal(size=4).round(3).tolist(), 1.0)
    predictor = Predictor("ensemble", stacked_copy(random_weights_dir, tmp_path / "stacked", stacking))
    wav = chord_progression(seconds=8.0, sr=SAMPLE_RATE)
    mels = log_mel_per_front_end(wav, predictor.front_ends)
    stacked = predictor.predict_mels(mels, 8.0)[0]
    members = [window_outputs(m, mels[SCRATCH_FRONT_END], 8.0).probabilities for m in predictor.networks]
    x = np.hstack([np.log(np.clip(p, 1e-12, None)) for p in members])  # both members cut the same windows
    logits = x @ np.array(stacking.coefficients).T + np.array(stacking.intercepts)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose([[w.probabilities[m] for m in MOODS] for w in stacked.timeline], expected, atol=2e-6)
    np.testing.assert_allclose([stacked.probabilities[m] for m in MOODS], expected.mean(axis=0), atol=2e-6)


def test_a_meta_learner_that_copies_one_member_gives_its_answer(random_weights_dir: Path, tmp_path: Path) -> None:
    copy_cldnn = np.hstack([np.zeros((4, 4)), np.eye(4)])  # softmax(log p) = p
    stacking = Stacking(copy_cldnn.tolist(), [0.0] * 4, 1.0)
    predictor = Predictor("ensemble", stacked_copy(random_weights_dir, tmp_path / "copy", stacking))
    wav = chord_progression(seconds=6.0, sr=SAMPLE_RATE)
    ensemble_answer, _, cldnn_answer = predictor.predict_song(wav).predictions
    for mood in MOODS:
        assert ensemble_answer.probabilities[mood] == pytest.approx(cldnn_answer.probabilities[mood], abs=1e-5)


def test_a_stacked_manifest_must_fit_its_members(random_weights_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one column per member and mood"):
        EnsembleManifest(
            name="ensemble", members=["resnet18", "cldnn"], combination="stacked",
            stacking=Stacking(np.zeros((4, 4)).tolist(), [0.0] * 4, 1.0),
        )  # fmt: skip
    with pytest.raises(ValueError, match="needs its stacking block"):
        EnsembleManifest(name="ensemble", members=["resnet18", "cldnn"], combination="stacked")


def test_a_four_minute_song_gets_a_full_timeline(random_weights_dir: Path) -> None:
    song = np.tile(chord_progression(seconds=10.0, sr=SAMPLE_RATE), 24)
    result = predict(song, Predictor("resnet18", random_weights_dir))
    assert result.duration_s == pytest.approx(240.0)
    assert len(result.timeline) == 95  # every 2.5 s, the last window ending at 240 s
    assert result.timeline[-1].end_s == pytest.approx(240.0, abs=0.05)


def test_every_format_through_the_predictor(ensemble: Predictor, tmp_path: Path) -> None:
    wav = chord_progression(seconds=3.0)
    results = [ensemble.predict(write_audio(wav, tmp_path / f"a{s}")) for s in (".wav", ".mp3", ".m4a")]
    for result in results[1:]:  # lossy codecs barely move the probabilities
        for mood in MOODS:
            assert result.probabilities[mood] == pytest.approx(results[0].probabilities[mood], abs=0.05)


def test_short_clip_between_one_and_five_seconds(ensemble: Predictor) -> None:
    result = ensemble.predict(chord_progression(seconds=1.2, sr=SAMPLE_RATE))
    assert len(result.timeline) == 1 and result.timeline[0].end_s == pytest.approx(1.2)


@pytest.mark.parametrize(
    ("source", "message"),
    [(np.zeros(5 * SAMPLE_RATE, dtype=np.float32), "silent"), (b"garbage" * 100, "could not be read")],
)
def test_bad_audio_gives_a_clear_error(ensemble: Predictor, source: object, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        ensemble.predict(source)  # type: ignore[arg-type]


def test_unknown_model(random_weights_dir: Path) -> None:
    with pytest.raises(ModelError, match="Available"):
        Predictor("bigger", random_weights_dir)


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [((0.7, 0.1, 0.1, 0.1), "clear"), ((0.45, 0.3, 0.15, 0.1), "leaning"), ((0.35, 0.33, 0.2, 0.12), "mixed")],
)
def test_confidence_words(probabilities: tuple[float, ...], expected: str) -> None:
    prediction = Prediction("resnet18", dict(zip(MOODS, probabilities, strict=True)), 30.0, ())
    assert prediction.confidence == expected
    assert confidence_level(np.array(probabilities[::-1], dtype=np.float32)) == expected  # order does not matter


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ((0.45, 0.35, 0.1, 0.1), "leaning"),  # 0.45 - 0.35 is 0.10000000000000003 in floats
        ((0.35, 0.25, 0.2, 0.2), "leaning"),  # 0.35 - 0.25 is 0.09999999999999998
        ((0.6, 0.3, 0.05, 0.05), "clear"),  # a lead of exactly 30 points
        ((0.399, 0.3, 0.201, 0.1), "mixed"),  # 9.9 points
    ],
)
def test_confidence_thresholds_are_exact_percentage_points(probabilities: tuple[float, ...], expected: str) -> None:
    assert confidence_level(probabilities) == expected
    assert confidence_level(np.array(probabilities, dtype=np.float32)) == expected
    prediction = Prediction("cldnn", dict(zip(MOODS, probabilities, strict=True)), 30.0, ())
    assert prediction.confidence == expected


def test_to_dict_is_the_design_json(ensemble: Predictor, song_wav_bytes: bytes) -> None:
    as_dict = ensemble.predict(song_wav_bytes).to_dict()
    assert list(as_dict) == [
        "model",
        "mood",
        "probabilities",
        "valence",
        "arousal",
        "duration_s",
        "truncated",
        "timeline",
    ]
    assert list(as_dict["timeline"][0]) == ["start_s", "end_s", "probabilities"]


# ---------------------------------------------------------------- served by ONNX Runtime, as torch answers


def torch_twin(predictor: Predictor, weights_dir: Path) -> Predictor:
    """The same Predictor with each member's forward pass run by its torch module (the training path)."""
    twin = Predictor(predictor.name, weights_dir)
    twin.members = [load_network(m.name, weights_dir) for m in predictor.members]
    return twin


def test_the_predictor_serves_the_onnx_exports(ensemble: Predictor) -> None:
    assert all(isinstance(m, OnnxNetwork) for m in ensemble.members)


def test_onnx_answers_are_the_torch_answers(ensemble: Predictor, random_weights_dir: Path) -> None:
    mels = log_mel_per_front_end(chord_progression(seconds=12.0, sr=SAMPLE_RATE), ensemble.front_ends)
    served = ensemble.predict_mels(mels, 12.0)
    by_torch = torch_twin(ensemble, random_weights_dir).predict_mels(mels, 12.0)
    assert [p.model for p in served] == [p.model for p in by_torch] == ["ensemble", "resnet18", "cldnn"]
    for onnx_answer, torch_answer in zip(served, by_torch, strict=True):
        np.testing.assert_allclose(
            [[w.probabilities[m] for m in MOODS] for w in onnx_answer.timeline],
            [[w.probabilities[m] for m in MOODS] for w in torch_answer.timeline],
            atol=1e-5,
        )


def test_sessions_follow_the_thread_setting(random_weights_dir: Path) -> None:
    follows = Predictor("cldnn", random_weights_dir)
    (served,) = follows.members
    assert isinstance(served, OnnxNetwork)
    wav = chord_progression(seconds=6.0, sr=SAMPLE_RATE)
    before = follows.predict(wav)
    previous = set_session_threads(1)
    try:
        assert follows.predict(wav).probabilities == pytest.approx(before.probabilities, abs=1e-6)
        assert served.compiled().get_property("INFERENCE_NUM_THREADS") == 1
    finally:
        set_session_threads(previous)
    fixed = Predictor("cldnn", random_weights_dir, threads=3)
    (three,) = fixed.members
    assert isinstance(three, OnnxNetwork)
    assert three.compiled().get_property("INFERENCE_NUM_THREADS") == min(
        3, usable_cores()
    )  # OpenVINO: at most the cores


def onnx_copy(random_weights_dir: Path, tmp_path: Path) -> Path:
    """A copy of the random-weight folder, which may be spoilt."""
    return Path(shutil.copytree(random_weights_dir, tmp_path / "weights"))


def test_a_changed_export_is_refused(random_weights_dir: Path, tmp_path: Path) -> None:
    folder = onnx_copy(random_weights_dir, tmp_path)
    export = folder / "cldnn.onnx"
    export.write_bytes(export.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelError, match=r"cldnn\.onnx does not match its manifest"):
        Predictor("cldnn", folder)


def test_a_manifest_without_an_export_says_how_to_make_one(random_weights_dir: Path, tmp_path: Path) -> None:
    folder = onnx_copy(random_weights_dir, tmp_path)
    manifest = read_network_manifest("cldnn", folder)
    write_manifest(dataclasses.replace(manifest, onnx=None), folder)
    with pytest.raises(ModelError, match=r"records no ONNX export.*onnx_check cldnn --ship"):
        Predictor("cldnn", folder)
