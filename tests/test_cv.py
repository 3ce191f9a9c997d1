"""Cross-validation drives any member: here a clip-level scikit-learn head (the shape of the coming
hybrid member) that never touches the torch loop, on synthetic clip features."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.linear_model import LogisticRegression

from mood.constants import MOODS
from mood.engine.manifest import CrossValidation
from mood.training.calibration import TEMPERATURE_BOUNDS
from mood.training.crops import crop_id
from mood.training.cv import (
    CVPlan,
    Member,
    RunsMismatch,
    crops_run_path,
    cross_validate_and_ship,
    fold_split,
    nested_run_path,
    teacher_from,
)
from mood.training.dataset import TrainingClip
from mood.training.members.ensemble import ablation_rows, ensemble_cv
from mood.training.runs import OutOfFold, load_run

N_FOLDS, CLIPS_PER_MOOD, N_FEATURES = 4, 12, 6
CLIP_S = 30.0  # a clip-level member's one "window" spans the clip


class ClipHead:
    """A member fitted on one feature vector per clip; it reports one window per clip."""

    name = "cliphead"

    def __init__(self, clips: Sequence[TrainingClip], features: npt.NDArray[np.float64]) -> None:
        self.clips = clips
        self.features = features
        self.fitted_on: list[set[int]] = []

    def fit(self, train_idx: Sequence[int], desc: str) -> LogisticRegression:
        idx = list(train_idx)
        self.fitted_on.append(set(idx))
        return LogisticRegression(max_iter=500).fit(self.features[idx], [self.clips[i].mood for i in idx])

    def score(self, fitted: LogisticRegression, idx: Sequence[int]) -> OutOfFold:
        log_p = np.log(np.clip(fitted.predict_proba(self.features[list(idx)]), 1e-12, None)).astype(np.float32)
        ids = [self.clips[i].song_id for i in idx]
        return OutOfFold(
            {s: row[None, :] for s, row in zip(ids, log_p, strict=True)}, {s: np.zeros(1) for s in ids}, CLIP_S
        )

    def ship(self, fitted: LogisticRegression, cv: CrossValidation, weights_dir: Path) -> None:
        weights_dir.mkdir(parents=True, exist_ok=True)
        record = {"name": self.name, "coef": fitted.coef_.tolist(), "macro_f1": cv.macro_f1}
        (weights_dir / f"{self.name}.json").write_text(json.dumps(record))


@pytest.fixture
def member() -> ClipHead:
    rng = np.random.default_rng(0)
    clips = [
        TrainingClip(f"S{m}{n:02d}", Path(f"{m}-{n}.wav"), m, n % N_FOLDS, f"artist {m}-{n % N_FOLDS}")
        for m in range(len(MOODS))
        for n in range(CLIPS_PER_MOOD)
    ]
    centres = rng.normal(size=(len(MOODS), N_FEATURES)) * 1.5
    features = np.stack([centres[c.mood] + rng.normal(size=N_FEATURES) for c in clips])
    return ClipHead(clips, features)


def test_a_clip_level_member_is_cross_validated_calibrated_and_shipped(member: ClipHead, tmp_path: Path) -> None:
    typed: Member[LogisticRegression] = member  # the interface the spine asks for
    plan = CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path / "runs", weights_dir=tmp_path / "weights")
    cv = cross_validate_and_ship(typed, plan)
    assert cv.folds == [0, 1, 2, 3] and np.array(cv.confusion).sum() == len(member.clips)
    assert cv.macro_f1 > 0.6 and set(cv.per_fold_macro_f1) == {"0", "1", "2", "3"}
    assert cv.calibration is not None
    assert TEMPERATURE_BOUNDS[0] <= cv.calibration.temperature <= TEMPERATURE_BOUNDS[1]
    for fold, fitted_on in zip(plan.folds, member.fitted_on, strict=False):  # no fold's figure saw its clips
        train_idx, test_idx = fold_split(member.clips, fold)
        assert fitted_on == set(train_idx) and not fitted_on & set(test_idx)
    assert member.fitted_on[-1] == set(range(len(member.clips)))  # the shipped head saw every clip
    assert json.loads((tmp_path / "weights" / "cliphead.json").read_text())["macro_f1"] == cv.macro_f1
    run = load_run(tmp_path / "runs" / "cliphead_oof.npz")
    assert len(run.logits) == len(member.clips) and {len(s) for s in run.starts_s.values()} == {1}


def test_cross_validating_only_writes_no_weights(member: ClipHead, tmp_path: Path) -> None:
    cross_validate_and_ship(member, CVPlan(folds=(0, 1), runs_dir=tmp_path, weights_dir=tmp_path / "w", final=False))
    assert not (tmp_path / "w").exists() and len(member.fitted_on) == 2


def test_any_member_can_teach(member: ClipHead) -> None:
    train_idx, _ = fold_split(member.clips, 0)
    teacher = teacher_from(member)(train_idx)
    assert member.fitted_on == [set(train_idx)]  # fitted on the student's training clips alone
    assert len(teacher.probabilities) == len(train_idx)
    assert teacher.probabilities[0].shape == (1, len(MOODS))
    np.testing.assert_allclose(teacher.probabilities[0].sum(), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(teacher.target(0, 3.0), teacher.probabilities[0][0])
    assert teacher.centres_s[0].tolist() == [CLIP_S / 2]


def test_nested_runs_never_saw_their_held_out_fold(member: ClipHead, tmp_path: Path) -> None:
    folds = (0, 1, 2, 3)
    cross_validate_and_ship(member, CVPlan(folds=folds, runs_dir=tmp_path, final=False, nested=True))
    inner_fits = member.fitted_on[len(folds) :]  # after the outer folds: 3 inner fits per held-out fold
    assert len(inner_fits) == len(folds) * (len(folds) - 1)
    for outer in folds:
        run = load_run(nested_run_path(tmp_path, member.name, outer))
        outer_clips = {i for i, c in enumerate(member.clips) if c.fold == outer}
        assert {c.song_id for c in member.clips if c.fold != outer} == set(run.logits)
        for inner, fitted_on in zip((f for f in folds if f != outer), inner_fits[: len(folds) - 1], strict=True):
            inner_clips = {i for i, c in enumerate(member.clips) if c.fold == inner}
            assert fitted_on and not fitted_on & (outer_clips | inner_clips)
        inner_fits = inner_fits[len(folds) - 1 :]


def test_a_stacked_ensemble_learns_which_member_to_trust(member: ClipHead, tmp_path: Path) -> None:
    noise = ClipHead(member.clips, np.random.default_rng(1).normal(size=member.features.shape))
    noise.name = "noise"
    folds = (0, 1, 2, 3)
    for m in (member, noise):
        cross_validate_and_ship(m, CVPlan(folds=folds, runs_dir=tmp_path, final=False, nested=True))
    good = ensemble_cv(member.clips, ["cliphead"], "mean", tmp_path).cv
    stacked = ensemble_cv(member.clips, ["noise", "cliphead"], "stacked", tmp_path)
    assert stacked.combination == "stacked" and stacked.stacking is not None and stacked.cv is not None
    assert good is not None
    coefficients = np.abs(np.array(stacked.stacking.coefficients))
    assert coefficients.shape == (len(MOODS), 2 * len(MOODS))
    assert coefficients[:, len(MOODS) :].sum() > 3 * coefficients[:, : len(MOODS)].sum()  # it trusts the good one
    assert np.array(stacked.cv.confusion).sum() == len(member.clips)
    assert stacked.cv.macro_f1 >= good.macro_f1 - 0.05  # the noise costs it little


def test_the_ablations_try_each_member_alone_and_every_combination(member: ClipHead, tmp_path: Path) -> None:
    noise = ClipHead(member.clips, np.random.default_rng(1).normal(size=member.features.shape))
    noise.name = "noise"
    for m in (member, noise):
        cross_validate_and_ship(m, CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path, final=False, nested=True))
    rows = ablation_rows(member.clips, ["cliphead", "noise"], tmp_path)[2:]
    labels = [tuple(cell.strip() for cell in row.split("|")[1:3]) for row in rows]
    assert labels == [("cliphead", "alone"), ("noise", "alone")] + [
        ("cliphead + noise", c) for c in ("mean", "weighted", "stacked")
    ]
    alone = ensemble_cv(member.clips, ["cliphead"], "mean", tmp_path).cv
    assert alone is not None and rows[0].split("|")[3].strip() == f"{alone.macro_f1:.3f}"


class CroppedHead(ClipHead):
    """A clip head also scored on two crops of each clip: its features blurred by noise, as a
    short excerpt tells less than the whole clip."""

    name = "croppedhead"

    def score_crops(self, fitted: LogisticRegression, idx: Sequence[int]) -> OutOfFold | None:
        rng = np.random.default_rng(list(idx))
        rows = np.repeat(self.features[list(idx)], 2, axis=0)
        noisy = rows + rng.normal(scale=2.0, size=rows.shape)
        log_p = np.log(np.clip(fitted.predict_proba(noisy), 1e-12, None)).astype(np.float32)
        ids = [crop_id(self.clips[i].song_id, k) for i in idx for k in (0, 1)]
        return OutOfFold(
            {s: row[None, :] for s, row in zip(ids, log_p, strict=True)}, {s: np.zeros(1) for s in ids}, 6.0, 6.0
        )


def test_a_member_with_crops_gets_a_temperature_for_short_songs(member: ClipHead, tmp_path: Path) -> None:
    cropped = CroppedHead(member.clips, member.features)
    cv = cross_validate_and_ship(cropped, CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path, final=False))
    run = load_run(crops_run_path(tmp_path, cropped.name))
    assert run.excerpt_s == 6.0 and len(run.logits) == 2 * len(member.clips)
    assert cv.calibration is not None and cv.calibration.short_clips is not None
    short = cv.calibration.short_clips
    assert short.clips == len(run.logits) and (short.length_s, short.clip_length_s) == (6.0, 30.0)
    assert short.temperature > cv.calibration.temperature  # blurred crops: less sure answers
    assert short.macro_f1 < cv.macro_f1
    uncropped = ClipHead(member.clips, member.features)
    uncropped.name = cropped.name  # the same member retrained without crops: no stale crops run is left
    plain = cross_validate_and_ship(uncropped, CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path, final=False))
    assert not crops_run_path(tmp_path, cropped.name).exists()
    assert plain.calibration is not None and plain.calibration.short_clips is None


def test_the_ensemble_is_calibrated_for_short_songs_when_every_member_has_crops(
    member: ClipHead, tmp_path: Path
) -> None:
    heads = [CroppedHead(member.clips, member.features), CroppedHead(member.clips, member.features[:, ::-1])]
    heads[1].name = "reversed"
    for head in heads:
        cross_validate_and_ship(head, CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path, final=False))
    cross_validate_and_ship(member, CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path, final=False))
    both = ensemble_cv(member.clips, ["croppedhead", "reversed"], "weighted", tmp_path).cv
    assert both is not None and both.calibration is not None and both.calibration.short_clips is not None
    assert both.calibration.short_clips.clips == 2 * len(member.clips)
    mixed = ensemble_cv(member.clips, ["croppedhead", "cliphead"], "weighted", tmp_path).cv
    assert mixed is not None and mixed.calibration is not None and mixed.calibration.short_clips is None


def test_members_whose_crops_differ_are_not_scored_together(member: ClipHead, tmp_path: Path) -> None:
    class OneCrop(CroppedHead):
        name = "onecrop"

        def score_crops(self, fitted: LogisticRegression, idx: Sequence[int]) -> OutOfFold | None:
            run = super().score_crops(fitted, idx)
            assert run is not None
            kept = [i for i in run.logits if i.endswith("@0")]
            return OutOfFold({i: run.logits[i] for i in kept}, {i: run.starts_s[i] for i in kept}, 6.0, 6.0)

    for head in (CroppedHead(member.clips, member.features), OneCrop(member.clips, member.features)):
        cross_validate_and_ship(head, CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path, final=False))
    with pytest.raises(RunsMismatch, match="different crops"):
        ensemble_cv(member.clips, ["croppedhead", "onecrop"], "weighted", tmp_path)


class WanderingHead(CroppedHead):
    """A cropped clip head that measures each clip's distance from its training rows: every third
    clip (and its crops) is far off, and there its answers are confidently wrong half the time."""

    name = "wandering"

    @staticmethod
    def far(song_id: str) -> bool:
        return int(song_id[2:4]) % 3 == 0

    def with_distances(self, run: OutOfFold) -> OutOfFold:
        rng = np.random.default_rng(len(run.logits))
        logits = {}
        for song_id, row in run.logits.items():
            if self.far(song_id.split("@")[0]) and rng.random() < 0.5:  # a confident answer for another mood
                row = np.log(np.full((1, len(MOODS)), 0.02, np.float32))
                row[0, (int(song_id[1]) + 1) % len(MOODS)] = np.log(0.94)
            logits[song_id] = row
        distances = {s: 2.5 if self.far(s.split("@")[0]) else 0.8 for s in run.logits}
        return OutOfFold(logits, run.starts_s, run.window_s, run.excerpt_s, distances)

    def score(self, fitted: LogisticRegression, idx: Sequence[int]) -> OutOfFold:
        return self.with_distances(super().score(fitted, idx))

    def score_crops(self, fitted: LogisticRegression, idx: Sequence[int]) -> OutOfFold | None:
        run = super().score_crops(fitted, idx)
        return None if run is None else self.with_distances(run)


def test_far_clips_widen_the_temperature_of_the_member_and_of_its_ensemble(member: ClipHead, tmp_path: Path) -> None:
    wandering = WanderingHead(member.clips, member.features)
    cv = cross_validate_and_ship(wandering, CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path, final=False))
    assert load_run(crops_run_path(tmp_path, wandering.name)).distances  # the runs keep the distances
    assert cv.calibration is not None and cv.calibration.familiarity is not None
    familiarity = cv.calibration.familiarity
    assert familiarity.slope > 0.3 and familiarity.clips == 3 * len(member.clips)
    assert familiarity.ece_after < familiarity.ece_before
    assert familiarity.crops_ece_after is not None and familiarity.crops_ece_before is not None
    assert cv.calibration.softening_for(0.8) == 1.0 < cv.calibration.softening_for(2.5)
    plain = CroppedHead(member.clips, member.features)  # measures no distances: no familiarity block
    assert cross_validate_and_ship(plain, CVPlan(folds=(0, 1, 2, 3), runs_dir=tmp_path, final=False)).calibration
    plain_cv = ensemble_cv(member.clips, ["croppedhead"], "mean", tmp_path).cv
    assert plain_cv is not None and plain_cv.calibration is not None and plain_cv.calibration.familiarity is None
    both = ensemble_cv(member.clips, ["croppedhead", "wandering"], "weighted", tmp_path).cv
    assert both is not None and both.calibration is not None and both.calibration.familiarity is not None
    assert both.calibration.familiarity.slope > 0
