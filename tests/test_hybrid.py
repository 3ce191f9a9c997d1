"""The hybrid member: its shipped weights and manifest, its predictions and its own reasons (``why``),
the training member on tiny synthetic features, and the words of its reasons."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
import torch

from mood.cli import main
from mood.constants import MOODS, SAMPLE_RATE
from mood.engine.features import log_mel, make_windows
from mood.engine.hybrid import (
    HEAD_SUFFIX,
    MUSICNN_GROUP,
    HybridHead,
    LoadedHybrid,
    WhyTerm,
    load_hybrid,
    musicnn_statistics,
    why_terms,
)
from mood.engine.inference import Predictor
from mood.engine.manifest import EnsembleManifest, HybridManifest, Pretrained, SharedExport, Stacking
from mood.engine.models.musicnn_mood import FrozenPatchOutputs, MusicnnMood
from mood.engine.musical import DEFAULT_MUSICAL_CONFIG
from mood.engine.onnx_check import random_windows, song_windows
from mood.engine.probabilities import softmax
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, clear_cache, read_manifest, write_manifest
from mood.errors import ModelError
from mood.presentation.why_words import feature_words, why_model_markdown, why_sentence
from mood.training.crops import CLIP_LENGTH_S, DEFAULT_CROPS, CropTable, ShortCrops
from mood.training.dataset import TrainingClip
from mood.training.hybrid_features import Collection, FeatureTable, cache_crops, clip_features, group_balanced_weights
from mood.training.members.ensemble import SHARED_EXPORT_FILE, write_shared_export
from mood.training.members.hybrid import HybridMember, HybridRecipe
from mood.training.members.musicnn import FINETUNE_FRONT_END, pooled_patches, pretrained_network

MODE_FEATURES = ("mode_major_minor", "mode_over_time_mean", "major_share_over_time")


def chords(minor: bool, seconds: float = 12.0) -> npt.NDArray[np.float32]:
    """I-IV-V-I (or i-iv-v-i) in C, one chord per second, each note with two harmonics."""
    third = 3 if minor else 4
    roots = [0, 5, 7, 0]
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wav = np.zeros_like(t)
    for second in range(int(seconds)):
        root = roots[second % len(roots)]
        span = (t >= second) & (t < second + 1)
        for step in (0, third, 7):
            f = 261.63 * 2 ** ((root + step) / 12)
            wav[span] += sum(np.sin(2 * np.pi * f * k * t[span]) / k for k in (1, 2, 3))
    envelope = np.minimum(1.0, 20 * (t % 1.0)) * np.exp(-1.5 * (t % 1.0))
    clip: npt.NDArray[np.float32] = (0.2 * wav * envelope / np.abs(wav).max()).astype(np.float32)
    return clip


@pytest.fixture(scope="module")
def shipped() -> LoadedHybrid:
    return load_hybrid("hybrid", SHIPPED_WEIGHTS_DIR)


def features_of(member: LoadedHybrid, wav: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return member.features(log_mel(wav, member.manifest.features), wav)


# ---------------------------------------------------------------- the shipped weights


def test_the_manifest_parses_into_its_typed_blocks() -> None:
    manifest = read_manifest("hybrid", SHIPPED_WEIGHTS_DIR)
    assert isinstance(manifest, HybridManifest)
    config = manifest.architecture_config
    assert manifest.architecture == "hybrid_logistic" and manifest.labels == list(MOODS)
    assert config.n_features == len(manifest.feature_names) == sum(config.group_sizes.values())
    assert next(iter(config.group_sizes)) == MUSICNN_GROUP and config.group_sizes[MUSICNN_GROUP] == 1000
    assert manifest.musical == DEFAULT_MUSICAL_CONFIG
    assert manifest.pretrained is not None and manifest.pretrained.package == "musicnn"
    assert manifest.cv is not None and manifest.cv.calibration is not None and manifest.cv.macro_f1 > 0.7


@pytest.mark.parametrize("damaged", [HEAD_SUFFIX, ".onnx"])
def test_loading_verifies_the_sha256_of_the_head_and_the_backbones_export(tmp_path: Path, damaged: str) -> None:
    for suffix in (".json", HEAD_SUFFIX, ".onnx"):  # all that serving reads: no backbone .pt files
        shutil.copy(SHIPPED_WEIGHTS_DIR / f"hybrid{suffix}", tmp_path)
    n_features = len(read_manifest("hybrid", SHIPPED_WEIGHTS_DIR).feature_names)
    assert load_hybrid("hybrid", tmp_path).head.coef.shape == (len(MOODS), n_features)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tmp_path, corrupt)
    data = bytearray((tmp_path / f"hybrid{damaged}").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (corrupt / f"hybrid{damaged}").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its manifest"):
        load_hybrid("hybrid", corrupt)


def test_a_manifest_naming_other_musical_features_is_refused_at_load(tmp_path: Path) -> None:
    for suffix in (".json", HEAD_SUFFIX, ".onnx"):
        shutil.copy(SHIPPED_WEIGHTS_DIR / f"hybrid{suffix}", tmp_path)
    manifest = json.loads((tmp_path / "hybrid.json").read_text())
    manifest["feature_names"][-1] = "beat_interval_cv"  # a feature of an older version
    (tmp_path / "hybrid.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="names other musical features"):
        load_hybrid("hybrid", tmp_path)


def test_the_backbones_export_gives_the_torch_patch_outputs(shipped: LoadedHybrid) -> None:
    """The checked-in export against the converted backbones run by torch (float16-rounded pooled features)."""
    backbones, _ = pretrained_network(SHIPPED_WEIGHTS_DIR)
    front_end = shipped.manifest.features
    windows = np.concatenate([song_windows(front_end), random_windows(front_end, n_windows=3)])
    with torch.inference_mode():
        expected = FrozenPatchOutputs(backbones).eval()(torch.from_numpy(windows)).numpy()
    actual = shipped.patches.outputs(windows)
    assert actual.shape == (len(windows), 2, 250)
    np.testing.assert_allclose(actual, expected, atol=5e-3)  # a pooled value on a float16 step may round either way
    np.testing.assert_allclose(
        musicnn_statistics(actual[: len(windows) - 3]),
        musicnn_statistics(expected[: len(windows) - 3]),
        atol=1e-3,
    )


def test_a_synthesised_clip_gets_a_distribution_one_window_and_the_models_reasons() -> None:
    wav = chords(minor=True)
    prediction = Predictor("hybrid", SHIPPED_WEIGHTS_DIR).predict(wav)
    probabilities = np.array([prediction.probabilities[m] for m in MOODS])
    assert np.all(probabilities >= 0) and probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    (window,) = prediction.timeline
    assert window.start_s == 0.0 and window.end_s == pytest.approx(wav.size / SAMPLE_RATE)
    assert window.probabilities == prediction.probabilities
    features = [r.feature for r in prediction.why]
    assert MUSICNN_GROUP in features and len(features) > 1
    assert [r.term for r in prediction.why] == sorted((r.term for r in prediction.why), reverse=True)
    why = prediction.to_dict()["why"]
    assert {"feature", "value", "standardised", "term"} == set(why[0]) and json.dumps(why)


def shipped_links(folder: Path) -> Path:
    """A weights folder whose files are links to the shipped ones, but for the ensemble's manifest."""
    folder.mkdir()
    for shipped_file in SHIPPED_WEIGHTS_DIR.iterdir():
        if shipped_file.name not in ("ensemble.json", SHARED_EXPORT_FILE):
            (folder / shipped_file.name).symlink_to(shipped_file)
    return folder


def favour_sad(shared: SharedExport | None = None) -> EnsembleManifest:
    """musicnn + hybrid stacked by a meta-learner that says sad whatever they say."""
    stacking = Stacking(np.zeros((len(MOODS), 2 * len(MOODS))).tolist(), [0.0, 0.0, 3.0, 0.0], 1.0)
    return EnsembleManifest(
        name="ensemble", members=["musicnn", "hybrid"], combination="stacked", stacking=stacking, shared_export=shared
    )


def test_in_an_ensemble_the_hybrid_gives_its_reasons_for_the_ensembles_answer(tmp_path: Path) -> None:
    folder = shipped_links(tmp_path / "weights")
    write_manifest(favour_sad(), folder)  # sad: not always the hybrid's own answer
    predictor = Predictor("ensemble", folder)
    assert len(predictor.front_ends) == 1  # the two members hear one front end: one spectrogram
    wav = chords(minor=False, seconds=20.0)
    ensemble, musicnn, hybrid = predictor.predict_song(wav).predictions
    assert (ensemble.model, musicnn.model, hybrid.model) == ("ensemble", "musicnn", "hybrid")
    assert ensemble.mood == "sad" and len(ensemble.timeline) == len(musicnn.timeline) > 1 and not musicnn.why
    member = load_hybrid("hybrid", SHIPPED_WEIGHTS_DIR)
    answer = member.judge(log_mel(wav, member.manifest.features), wav)
    assert ensemble.why == member.reasons(answer, MOODS.index("sad"))
    softened = member.manifest.softening_for(answer.distance)  # its own answer: softened for the distance
    assert hybrid.why == member.reasons(answer, MOODS.index(hybrid.mood), softened)
    assert hybrid == Predictor("hybrid", SHIPPED_WEIGHTS_DIR).predict(wav)


@pytest.mark.parametrize("seconds", [6.0, 12.0, 30.0])
def test_the_hybrid_judges_a_song_with_the_temperature_for_its_length(shipped: LoadedHybrid, seconds: float) -> None:
    calibration = shipped.manifest.cv.calibration if shipped.manifest.cv else None
    assert calibration is not None and calibration.short_clips is not None  # shipped: calibrated on 6 s crops
    wav = chords(minor=True, seconds=seconds)
    answer = shipped.judge(log_mel(wav, shipped.manifest.features), wav)
    short_t, clip_t = calibration.short_clips.temperature, calibration.temperature
    between = math.exp(math.log(short_t) + (math.log(clip_t) - math.log(short_t)) * math.log(2) / math.log(5))
    assert answer.temperature == pytest.approx({6.0: short_t, 12.0: between, 30.0: clip_t}[seconds])
    logits = shipped.head.logits(answer.features[None, :])[0]  # the loaded head is uncalibrated (T = 1)
    np.testing.assert_allclose(answer.probabilities, softmax(logits[None, :], answer.temperature)[0], atol=1e-6)
    log_p = np.log(answer.probabilities)
    for mood in range(len(MOODS)):  # the reasons are the calibrated answer's
        others = [k for k in range(len(MOODS)) if k != mood]
        bias = (shipped.head.intercept[mood] - shipped.head.intercept[others].mean()) / answer.temperature
        terms = shipped.head_at(answer.temperature).terms(answer.features, mood)
        assert terms.sum() + bias == pytest.approx(log_p[mood] - log_p[others].mean(), abs=1e-3)


def test_one_shared_graph_gives_both_members_their_own_answers(tmp_path: Path) -> None:
    folder = shipped_links(tmp_path / "weights")
    shared = write_shared_export(["musicnn", "hybrid"], folder)
    assert shared is not None and (folder / shared.file).is_file()
    write_manifest(favour_sad(shared), folder)
    predictor = Predictor("ensemble", folder)
    assert predictor.members[0] is predictor.shared_network and predictor.shared_network.path.name == shared.file
    wav = chords(minor=True, seconds=20.0)
    by_shared = predictor.predict_song(wav).predictions
    separately = [Predictor(name, SHIPPED_WEIGHTS_DIR).predict(wav) for name in ("musicnn", "hybrid")]
    for one_graph, own_graph in zip(by_shared[1:], separately, strict=True):
        assert one_graph.why == own_graph.why
        for mood in MOODS:
            assert one_graph.probabilities[mood] == pytest.approx(own_graph.probabilities[mood], abs=1e-5)
    (folder / shared.file).write_bytes((folder / shared.file).read_bytes()[:-10])
    clear_cache()
    with pytest.raises(ModelError, match="does not match its manifest"):
        Predictor("ensemble", folder)


def test_no_graph_is_shared_by_members_that_hear_differently(tmp_path: Path) -> None:
    folder = shipped_links(tmp_path / "weights")
    assert write_shared_export(["resnet18", "hybrid"], folder) is None
    assert write_shared_export(["hybrid", "musicnn"], folder) is None  # the network must come first
    assert not (folder / SHARED_EXPORT_FILE).exists()


def test_the_terms_add_up_to_the_answers_log_odds(shipped: LoadedHybrid) -> None:
    x = features_of(shipped, chords(minor=False))
    log_p = np.log(shipped.head.probabilities(x[None, :])[0])
    head = shipped.head
    for mood in range(len(MOODS)):
        others = [k for k in range(len(MOODS)) if k != mood]
        bias = (head.intercept[mood] - head.intercept[others].mean()) / head.temperature
        expected = log_p[mood] - log_p[others].mean()
        assert head.terms(x, mood).sum() + bias == pytest.approx(expected, abs=1e-3)


def test_a_song_made_minor_moves_the_mode_terms_towards_sad_and_angry(shipped: LoadedHybrid) -> None:
    names = shipped.manifest.feature_names
    mode = [names.index(f) for f in MODE_FEATURES]
    head = shipped.head
    minor, major = features_of(shipped, chords(minor=True)), features_of(shipped, chords(minor=False))
    assert np.all(minor[mode] < major[mode])  # the features hear the minor third
    # The fitted model, through the three mode features together (they are strongly correlated, and
    # the head gives two of them opposite signs for sad and calm): minor pulls towards sad and angry.
    for mood, towards_minor in (("happy", False), ("angry", True), ("sad", True), ("calm", False)):
        k = MOODS.index(mood)
        change = head.terms(minor, k)[mode].sum() - head.terms(major, k)[mode].sum()
        assert (change > 0) == towards_minor, mood


def test_the_cli_json_carries_why_only_for_the_hybrid(tmp_path: Path) -> None:
    path = tmp_path / "minor.wav"
    sf.write(path, chords(minor=True), SAMPLE_RATE)
    for model, has_why in (("hybrid", True), ("cldnn", False)):
        out = io.StringIO()
        assert main(["analyze", "--model", model, "--json", str(path)], out=out) == 0
        record = json.loads(out.getvalue())
        assert ("why" in record) == has_why, model


# ---------------------------------------------------------------- the training member, on tiny synthetic features


def tiny_member(
    n_clips: int = 60, n_features: int = 8, seed: int = 0, crops: CropTable | None = None, n_musicnn: int = 4
) -> HybridMember:
    """Clips in 5 folds whose mood k shows in column k (sad also in column 4); the first
    ``n_musicnn`` columns are 'musicnn's, the others 'harmony'."""
    rng = np.random.default_rng(seed)
    moods = np.arange(n_clips) % len(MOODS)
    x = rng.normal(size=(n_clips, n_features)).astype(np.float32)
    x[np.arange(n_clips), moods] += 4.0  # column k says mood k
    x[:, 4] -= 2.0 * (moods == MOODS.index("sad"))
    clips = [TrainingClip(f"c{i}", Path(f"c{i}.mp3"), int(moods[i]), i % 5, "") for i in range(n_clips)]
    table = FeatureTable(
        x, [f"f{j}" for j in range(n_features)], [MUSICNN_GROUP] * n_musicnn + ["harmony"] * (n_features - n_musicnn)
    )
    provenance = Pretrained("musicnn", "0.1.0", "MSD_musicnn", "ISC", "Pons", "MSD", {})
    recipe = HybridRecipe() if crops is not None else HybridRecipe(crops=None)
    return HybridMember(clips, table, MusicnnMood(96, len(MOODS)), provenance, recipe, crops=crops)


def test_the_member_fits_inside_the_training_clips_and_scores_one_window_per_clip() -> None:
    member = tiny_member()
    train = [i for i, c in enumerate(member.clips) if c.fold != 0]
    held = [i for i, c in enumerate(member.clips) if c.fold == 0]
    fitted = member.fit(train, "tiny")
    run = member.score(fitted, held)
    assert set(run.logits) == {member.clips[i].song_id for i in held} and run.window_s == CLIP_LENGTH_S
    for i in held:
        logits = run.logits[member.clips[i].song_id]
        assert logits.shape == (1, len(MOODS)) and np.exp(logits).sum() == pytest.approx(1.0, abs=1e-5)
        assert run.starts_s[member.clips[i].song_id].tolist() == [0.0]
    predicted = [int(run.logits[member.clips[i].song_id].argmax()) for i in held]
    assert np.mean(np.array(predicted) == np.array([member.clips[i].mood for i in held])) > 0.7


def test_the_head_learns_from_the_training_clips_crops_with_their_moods_and_folds() -> None:
    n_clips = 60
    parents = np.repeat(np.arange(n_clips), 2)
    crop_values = np.random.default_rng(1).normal(size=(len(parents), 8)).astype(np.float32)
    crop_values[:, 7] = parents  # says which clip a row was cut from
    no_patches = np.zeros((len(parents), 1, 1, 1), np.float16)  # the hybrid reads its crops' features alone
    crops = CropTable(DEFAULT_CROPS, crop_values, parents, no_patches, np.zeros(1))
    member = tiny_member(n_clips, crops=crops)
    train = [i for i, c in enumerate(member.clips) if c.fold != 0]
    x, y, folds = member.training_rows(train)
    assert len(x) == 3 * len(train)  # each clip, then its two crops
    np.testing.assert_array_equal(x[: len(train)], member.table.values[train])
    from_crops = x[len(train) :, 7].astype(int)
    assert sorted(from_crops.tolist()) == sorted(2 * train)  # crops of the training clips only
    np.testing.assert_array_equal(y[len(train) :], member.moods[from_crops])
    np.testing.assert_array_equal(folds[len(train) :], member.folds[from_crops])
    assert 0 not in folds
    held = [i for i, c in enumerate(member.clips) if c.fold == 0]
    run = member.score_crops(member.fit(train, "tiny"), held)  # scored on the held-out clips' crops alone
    assert run is not None and run.excerpt_s == DEFAULT_CROPS.length_s == run.window_s
    assert set(run.logits) == {f"{member.clips[i].song_id}@{k}" for i in held for k in (0, 1)}
    with pytest.raises(ValueError, match="crops"):  # a recipe that says crops, without their features
        HybridMember(member.clips, member.table, member.backbones, member.provenance, HybridRecipe())
    with pytest.raises(ValueError, match="settings"):  # crops cut otherwise than the recipe says
        HybridMember(
            member.clips, member.table, member.backbones, member.provenance, HybridRecipe(),
            crops=dataclasses.replace(crops, settings=ShortCrops(length_s=12.0)),
        )  # fmt: skip
    assert tiny_member(n_clips).score_crops(member.fit(train, "tiny"), held) is None  # a recipe without crops


def test_short_crops_start_inside_their_clip_the_same_way_each_time() -> None:
    crops = ShortCrops(length_s=6.0, per_clip=3, seed=0)
    starts = crops.starts_s("song-a", 30.0)
    assert len(starts) == 3 and np.all((starts >= 0) & (starts <= 24.0))
    np.testing.assert_array_equal(starts, crops.starts_s("song-a", 30.0))
    assert not np.array_equal(starts, crops.starts_s("song-b", 30.0))
    assert np.all(crops.starts_s("short", 4.0) == 0.0)  # a clip shorter than a crop: the whole clip
    assert crops.cache_key() != ShortCrops(length_s=12.0).cache_key()


def test_a_crops_features_are_what_the_app_computes_for_that_short_song(shipped: LoadedHybrid, tmp_path: Path) -> None:
    song = np.concatenate([chords(minor=True), chords(minor=False)])  # 24 s
    path = tmp_path / "song.wav"
    sf.write(path, song, SAMPLE_RATE, subtype="FLOAT")
    crops = ShortCrops(length_s=6.0, per_clip=2)
    collection = Collection("tiny", [TrainingClip("song", path, 0, 0, "")])
    model, _ = pretrained_network(SHIPPED_WEIGHTS_DIR)
    table = cache_crops(collection, model, crops, tmp_path / "cache")
    assert table.values.shape == (2, shipped.manifest.architecture_config.n_features)
    assert table.parents.tolist() == [0, 0] and table.ids(collection.clips) == ["song@0", "song@1"]
    _, starts = make_windows(log_mel(excerpt_of(song, crops, 0), shipped.manifest.features), shipped.manifest.features)
    np.testing.assert_allclose(table.patch_starts_s, np.array(starts) * shipped.manifest.features.frame_s)
    assert table.pooled.shape[:2] == (2, len(starts))  # each crop's patches, as the app cuts them
    n_statistics = shipped.manifest.architecture_config.group_sizes[MUSICNN_GROUP]
    for k, row in enumerate(table.values):
        served = features_of(shipped, excerpt_of(song, crops, k))
        # musicnn's statistics: torch on float16-rounded pooled patches (as the cache keeps them) against the export
        np.testing.assert_allclose(row[:n_statistics], served[:n_statistics], atol=2e-2)
        np.testing.assert_array_equal(row[n_statistics:], served[n_statistics:])  # the musical features: the same
    second = clip_features(model, excerpt_of(song, crops, 1), DEFAULT_MUSICAL_CONFIG)
    np.testing.assert_array_equal(table.values[1], second)
    again = cache_crops(collection, model, crops, tmp_path / "cache")  # read back from the cache
    np.testing.assert_array_equal(again.values, table.values)


def excerpt_of(song: npt.NDArray[np.float32], crops: ShortCrops, k: int) -> npt.NDArray[np.float32]:
    start = crops.starts_s("song", len(song) / SAMPLE_RATE)[k]
    return song[round(start * SAMPLE_RATE) : round((start + crops.length_s) * SAMPLE_RATE)]


def test_the_recipe_records_its_crops_in_the_manifest() -> None:
    assert HybridRecipe().to_dict()["crops"] == {"length_s": 6.0, "per_clip": 2, "seed": 0}
    assert HybridRecipe(crops=None).to_dict()["crops"] is None
    assert json.dumps(HybridRecipe().to_dict())


@pytest.mark.parametrize("n_musicnn", [4, 6])  # musical columns weighted 1 and sqrt(3)
def test_the_heads_tensors_reproduce_the_fitted_pipeline(n_musicnn: int) -> None:
    member = tiny_member(n_musicnn=n_musicnn)
    fitted = member.fit(range(len(member.clips)), "tiny")
    head = fitted.head()
    x = member.table.values + np.float32(10.0) * (np.arange(8) == 1)  # values beyond the training range: clipped
    np.testing.assert_allclose(head.probabilities(x), fitted.pipeline.predict_proba(x), atol=1e-5)
    z_scores = fitted.pipeline[:3].transform(x)  # robust scaling, clip, standardisation: before the columns' weights
    np.testing.assert_allclose(head.standardised(x), z_scores, atol=1e-5)
    restored = HybridHead.from_arrays(head.arrays(), head.robust_clip, head.temperature)
    np.testing.assert_allclose(restored.probabilities(x), head.probabilities(x), atol=1e-7)
    np.testing.assert_allclose(restored.familiarity.distances(z_scores), head.familiarity.distances(z_scores))


def test_musicnn_and_the_musical_columns_carry_the_same_weight_in_all() -> None:
    groups = [MUSICNN_GROUP] * 9 + ["harmony"] * 3 + ["rhythm"]
    weights = group_balanced_weights(groups)
    np.testing.assert_allclose(weights, [1.0] * 9 + [1.5] * 4)
    assert (weights[:9] ** 2).sum() == pytest.approx((weights[9:] ** 2).sum())
    with pytest.raises(ValueError, match="both"):
        group_balanced_weights([MUSICNN_GROUP] * 3)
    member = tiny_member(n_musicnn=6)
    np.testing.assert_allclose(member.column_weights, [1.0] * 6 + [np.sqrt(3.0)] * 2, rtol=1e-6)
    assert len(member.fit(range(60), "tiny").pipeline.steps) == 5  # robust scaler, clip, scaler, weights, logistic
    unweighted = HybridMember(
        member.clips, member.table, member.backbones, member.provenance, HybridRecipe(crops=None, balanced_groups=False)
    )
    assert unweighted.column_weights is None and len(unweighted.fit(range(60), "tiny").pipeline.steps) == 4


def test_the_musicnn_columns_are_one_reason_and_the_musical_ones_are_ranked() -> None:
    member = tiny_member()
    head = member.fit(range(len(member.clips)), "tiny").head()
    x = member.table.values[MOODS.index("sad")]  # a sad clip
    sad = MOODS.index("sad")
    reasons = why_terms(head, member.table.names, member.table.groups, x, sad, per_side=1)
    terms = head.terms(x, sad)
    by_feature = {r.feature: r for r in reasons}
    assert by_feature[MUSICNN_GROUP].term == pytest.approx(float(terms[:4].sum()), abs=1e-5)
    assert by_feature[MUSICNN_GROUP].value is None
    musical = [r for r in reasons if r.feature != MUSICNN_GROUP]
    assert 1 <= len(musical) <= 2 and all(r.feature in {"f4", "f5", "f6", "f7"} for r in musical)
    strongest = 4 + int(np.argmax(terms[4:]))
    assert terms[strongest] <= 0 or by_feature[f"f{strongest}"].term == pytest.approx(float(terms[strongest]))


# ---------------------------------------------------------------- the reasons in words


def test_features_are_said_as_they_stood_in_the_song() -> None:
    assert feature_words("mode_major_minor", -0.8) == "the minor key"
    assert feature_words("mode_major_minor", 1.1) == "the major key"
    assert feature_words("tempo_bpm", -2.0) == "the slow tempo"
    assert feature_words("chroma_b3_mean", 1.5) == "much of the minor third"
    assert feature_words("mfcc_03_spread", -1.0) == "the steady MFCC 3"
    assert feature_words("something_new", 1.0) == "a high something new"


def test_the_sentence_names_what_pulled_towards_and_away() -> None:
    why = [
        WhyTerm(MUSICNN_GROUP, None, None, 1.2),
        WhyTerm("mode_major_minor", -0.3, -1.4, 0.2),
        WhyTerm("rms_p90", -30.0, -1.0, 0.1),
        WhyTerm("tempo_bpm", 150.0, 1.5, -0.1),
    ]
    assert (
        why_sentence(why, "sad")
        == "The minor key and the quiet peaks pulled it towards sad; the fast tempo pulled it away."
    )
    words = why_model_markdown(why, "sad")
    assert "musicnn's tags and embedding" in words and "towards sad" in words and "model's own reasons" in words
    assert why_sentence(why[:1], "calm") == "No musical feature stood out for or against calm."


def test_processes_caching_together_share_every_clip_once() -> None:
    clips = [TrainingClip(f"c{i}", Path(f"c{i}.mp3"), i % len(MOODS), i % 5, "") for i in range(11)]
    collection = Collection("tiny", clips)
    shares = [collection.share(k, 3) for k in range(3)]
    assert sorted(c.song_id for s in shares for c in s.clips) == sorted(c.song_id for c in clips)
    assert {len(s.clips) for s in shares} == {3, 4} and all(s.name == "tiny" for s in shares)


def test_the_cache_pools_patches_as_the_torch_backbones_do() -> None:
    model, _ = pretrained_network(SHIPPED_WEIGHTS_DIR)
    front_end = FINETUNE_FRONT_END
    mel = log_mel(chords(minor=True, seconds=9.0), front_end)
    cached = pooled_patches(model, mel, front_end)  # ONNX Runtime, rounded to float16 as the cache keeps it
    windows, _ = make_windows(mel, front_end)
    with torch.inference_mode():
        reference = model.pooled(torch.from_numpy(windows)).numpy()
    assert cached.dtype == np.float16 and cached.shape == reference.shape
    np.testing.assert_allclose(cached.astype(np.float32), reference, rtol=2e-3, atol=2e-3)
    assert not model.training  # exporting the frozen part left the backbones in eval mode
