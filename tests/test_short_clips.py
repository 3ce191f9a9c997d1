"""Short songs get the temperature fitted on short crops: the rule between the two lengths, the
manifest block, and every member and the ensemble serving a short song with it."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from mood.constants import MOODS, SAMPLE_RATE
from mood.engine.features import make_windows
from mood.engine.inference import Predictor, apply_temperature
from mood.engine.manifest import Calibration, CrossValidation, ShortClipCalibration, parse
from mood.engine.probabilities import softmax
from mood.engine.weights import clear_cache, read_manifest, write_manifest
from mood.errors import ModelError
from tests.helpers import chord_progression, cv_block, typed_cv

SHORT = ShortClipCalibration(
    length_s=6.0, clip_length_s=30.0, clips=1800, macro_f1=0.7, temperature=4.0, ece_clip_temperature=0.1,
    ece_after=0.02,
)  # fmt: skip
CALIBRATION = Calibration("temperature", temperature=1.0, ece_before=0.05, ece_after=0.02, short_clips=SHORT)


def test_a_short_song_gets_the_crops_temperature_and_a_long_one_the_clips() -> None:
    assert CALIBRATION.temperature_for(3.0) == CALIBRATION.temperature_for(6.0) == 4.0
    assert CALIBRATION.temperature_for(30.0) == CALIBRATION.temperature_for(240.0) == 1.0
    halfway = math.sqrt(6.0 * 30.0)  # halfway on a log scale of length: halfway on a log scale of temperature
    assert CALIBRATION.temperature_for(halfway) == pytest.approx(2.0)
    lengths = np.linspace(6.0, 30.0, 25)
    assert np.all(np.diff([CALIBRATION.temperature_for(float(s)) for s in lengths]) < 0)  # no jump in between
    one = dataclasses.replace(CALIBRATION, short_clips=None)
    assert {one.temperature_for(s) for s in (1.0, 6.0, 12.0, 30.0)} == {1.0}


def test_the_short_clips_block_is_read_from_the_manifest_and_checked() -> None:
    confusion = [[10 if i == j else 0 for j in range(len(MOODS))] for i in range(len(MOODS))]
    block = cv_block(confusion, calibration=dataclasses.asdict(CALIBRATION))
    assert typed_cv(block).calibration == CALIBRATION
    block["calibration"]["short_clips"]["length_s"] = 30.0
    with pytest.raises(ModelError, match="shorter than the clips"):
        parse(CrossValidation, block, "test", "cv")


@pytest.fixture
def short_calibrated(random_weights_dir: Path, tmp_path: Path) -> Path:
    """The random-weight models, each member flattened for short songs (T = 4) and the ensemble
    sharpened (T = 0.5), all left as they were for whole clips."""
    folder = tmp_path / "weights"
    shutil.copytree(random_weights_dir, folder)
    confusion = [[10 if i == j else 0 for j in range(len(MOODS))] for i in range(len(MOODS))]
    for name, short_t in (("resnet18", 4.0), ("cldnn", 4.0), ("ensemble", 0.5)):
        manifest = read_manifest(name, folder)
        short = dataclasses.replace(SHORT, temperature=short_t)
        cv = typed_cv(cv_block(confusion, calibration=dataclasses.asdict(CALIBRATION)))
        calibration = dataclasses.replace(CALIBRATION, short_clips=short)
        write_manifest(dataclasses.replace(manifest, cv=dataclasses.replace(cv, calibration=calibration)), folder)
    clear_cache()
    return folder


@pytest.mark.parametrize("seconds", [6.0, 12.0, 40.0])
def test_every_member_and_the_ensemble_serve_a_song_with_the_temperature_for_its_length(
    short_calibrated: Path, seconds: float
) -> None:
    predictor = Predictor("ensemble", short_calibrated)
    wav = chord_progression(seconds=seconds, sr=SAMPLE_RATE)
    ensemble, *members = predictor.predict_song(wav).predictions
    mels = predictor.predict_song(wav).mels
    member_windows = []
    for network, served in zip(predictor.networks, members, strict=True):
        windows, _ = make_windows(mels[network.manifest.features], network.manifest.features)
        expected = softmax(network.logits(windows), CALIBRATION.temperature_for(seconds))  # 4 at 6 s, 1 from 30 s
        member_windows.append(expected)
        np.testing.assert_allclose([served.probabilities[m] for m in MOODS], expected.mean(axis=0), atol=2e-6)
    ensemble_t = read_manifest("ensemble", short_calibrated).temperature_for(seconds)
    assert ensemble_t == pytest.approx({6.0: 0.5, 12.0: 0.5 ** (1 - math.log(2) / math.log(5)), 40.0: 1.0}[seconds])
    combined = apply_temperature(np.mean(member_windows, axis=0).astype(np.float32), ensemble_t)
    np.testing.assert_allclose([ensemble.probabilities[m] for m in MOODS], combined.mean(axis=0), atol=2e-6)
