"""torch vs ONNX Runtime fp32 vs int8 (static QDQ) vs bf16, and less work for musicnn, in one run.

    .venv/bin/python -m bench.onnx_variants --clips DIR [--fold 0] [--out results.md]

Needs the 4Q data set (``/work/shared/data/4q``, or ``--data``): int8 is calibrated on windows
of ``--calibration-clips`` training clips (folds other than ``--fold``; only the quantised
models are written, under ``.cache/onnx``), and answers are compared with torch fp32 on every
clip of the held-out ``--fold``. Timing: warm, file to answer (decoding included), the mean
over the audio files in ``--clips`` (e.g. 20 MP3 previews), every variant on each clip in
turn. Writes a Markdown table as it goes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from bench.onnx_path import Member, MemberPredictor, onnx_member, onnx_path, torch_member
from mood.constants import ENSEMBLE, SAMPLE_RATE
from mood.engine.architectures import MusicnnMoodConfig
from mood.engine.audio import AUDIO_EXTENSIONS, load_audio
from mood.engine.features import FloatArray, log_mel_per_front_end, make_windows
from mood.engine.inference import Predictor, WindowOutputs, clip_probabilities
from mood.engine.models.musicnn_mood import MusicnnMood
from mood.engine.onnx_export import export_network
from mood.engine.onnx_quantise import quantise_int8
from mood.engine.torch_weights import load_network, network_logits
from mood.engine.weights import member_names

DATA_4Q = Path("/work/shared/data/4q")
MUSICNN = "musicnn"
INT8 = ".int8"
FEWER_PATCHES = (6, 4)
TORCH = "torch fp32"
ONNX_FP32 = "ONNX fp32"
ONNX_INT8 = "ONNX int8"
TORCH_BF16 = "torch bf16"
BASE_KINDS = (TORCH, ONNX_FP32, ONNX_INT8, TORCH_BF16)
NOT_COMPARED = (TORCH, TORCH_BF16)  # the reference, and bf16 (timed only)
PROGRESS_EVERY = 30


class OneBackbone(nn.Module):
    """musicnn's member with one backbone: the other's head inputs are held at their batch-norm
    running means (so they add a constant), an approximation of the trained model, not a retrain."""

    def __init__(self, full: MusicnnMood, keep: int) -> None:
        super().__init__()
        self.backbone = full.musicnns()[keep]
        self.head = full.head
        width = self.backbone.embedding_dim + MusicnnMoodConfig().n_tags
        self.keep_slice = slice(keep * width, (keep + 1) * width)
        batch_norm = full.head[0]
        assert isinstance(batch_norm, nn.BatchNorm1d) and batch_norm.running_mean is not None
        self.register_buffer("means", batch_norm.running_mean.clone())

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Mood logits ``(batch, n_classes)`` from the kept backbone alone."""
        embedding = self.backbone.embed(mel)
        features = self.get_buffer("means").expand(mel.shape[0], -1).clone()
        features[:, self.keep_slice] = torch.cat([embedding, self.backbone.output(embedding)], dim=1)
        logits: torch.Tensor = self.head(features)
        return logits


def bf16_member(name: str) -> Member:
    """The shipped network under CPU autocast to bfloat16 (the LSTM stays fp32, as CLDNN asks)."""
    member = torch_member(name)
    network = load_network(name).network

    def logits(windows: FloatArray) -> npt.NDArray[np.float32]:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return network_logits(network, windows)

    return Member(f"{name} bf16", member.front_end, member.temperature_for, logits)


def training_clips(data: Path, fold: int, n_clips: int) -> list[Path]:
    """``n_clips`` clips outside ``fold``, spread over the list (every k-th row of the metadata)."""
    rows = [r for r in csv.DictReader((data / "metadata.csv").open()) if int(r["fold"]) != fold]
    step = max(len(rows) // n_clips, 1)
    return [data / r["path"] for r in rows[::step][:n_clips]]


def held_out(data: Path, fold: int) -> list[Path]:
    """Every clip of ``fold``."""
    return [data / r["path"] for r in csv.DictReader((data / "metadata.csv").open()) if int(r["fold"]) == fold]


def quantise_members(names: Sequence[str], calibration_clips: Sequence[Path]) -> None:
    """Quantise each export to ``<name>.int8.onnx``, calibrated on its own windows of the clips."""
    front_ends = {name: load_network(name).manifest.features for name in names}
    stacks: dict[str, list[FloatArray]] = {name: [] for name in names}
    for clip in calibration_clips:
        mels = log_mel_per_front_end(load_audio(clip), front_ends.values())
        for name, front_end in front_ends.items():
            stacks[name].append(make_windows(mels[front_end], front_end)[0])
    for name in names:
        started = time.perf_counter()
        quantise_int8(onnx_path(name), onnx_path(name, INT8), stacks[name])
        print(f"quantised {name} on {sum(map(len, stacks[name]))} windows in {time.perf_counter() - started:.0f} s")


class Report:
    """Markdown lines, printed and written to a file as they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("")

    def line(self, text: str = "") -> None:
        """Print ``text`` and append it to the file."""
        print(text, flush=True)
        with self.path.open("a") as f:
            f.write(text + "\n")

    def table(self, columns: Sequence[str], rows: dict[str, dict[str, str]]) -> None:
        """Write :func:`table_lines`."""
        for text in table_lines(columns, rows):
            self.line(text)


def table_lines(columns: Sequence[str], rows: dict[str, dict[str, str]]) -> list[str]:
    """A Markdown table: one row per key of ``rows``, a blank where a column has no value."""
    lines = ["", "| variant | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    return lines + [
        f"| {label} | " + " | ".join(cells.get(c, "") for c in columns) + " |" for label, cells in rows.items()
    ]


@contextlib.contextmanager
def timed(report: Report, what: str) -> Iterator[None]:
    """Report how long the block took, and the machine's load."""
    started = time.perf_counter()
    yield
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    report.line(f"\n({what}: {time.perf_counter() - started:.0f} s; load average {load})")


def mean_seconds(
    predictors: dict[tuple[str, str], Callable[[Path], object]], clips: Sequence[Path]
) -> dict[tuple[str, str], float]:
    """Mean warm seconds per clip, file to answer, each predictor on each clip in turn (after one warm-up)."""
    for predict in predictors.values():
        predict(clips[0])
    seconds: dict[tuple[str, str], list[float]] = {key: [] for key in predictors}
    for clip in clips:
        for key, predict in predictors.items():
            started = time.perf_counter()
            predict(clip)
            seconds[key].append(time.perf_counter() - started)
    return {key: statistics.fmean(s) for key, s in seconds.items()}


class Agreement:
    """Per (variant, model): how often the top mood is the reference's, and the largest probability gap."""

    def __init__(self) -> None:
        self.same: dict[tuple[str, str], list[bool]] = {}
        self.max_gap: dict[tuple[str, str], float] = {}

    def add(
        self, key: tuple[str, str], probabilities: npt.NDArray[np.float32], reference: npt.NDArray[np.float32]
    ) -> None:
        """Record one clip."""
        self.same.setdefault(key, []).append(int(probabilities.argmax()) == int(reference.argmax()))
        self.max_gap[key] = max(self.max_gap.get(key, 0.0), float(np.abs(probabilities - reference).max()))

    def cells(self) -> dict[str, dict[str, str]]:
        """Table cells: ``"98.9% / 0.0123"`` per variant and model."""
        rows: dict[str, dict[str, str]] = {}
        for (label, model), same in self.same.items():
            rows.setdefault(label, {})[model] = f"{np.mean(same):.1%} / {self.max_gap[(label, model)]:.4f}"
        return rows


def main() -> None:
    """Export, quantise, time and compare; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, required=True, help="folder of audio files to time (e.g. 20 MP3s)")
    parser.add_argument("--data", type=Path, default=DATA_4Q, help="the 4Q data set")
    parser.add_argument("--fold", type=int, default=0, help="held-out fold for the answer comparison")
    parser.add_argument("--calibration-clips", type=int, default=100)
    parser.add_argument("--agreement-clips", type=int, default=None, help="first N held-out clips (default all)")
    parser.add_argument("--out", type=Path, default=Path("onnx_results.md"))
    args = parser.parse_args()
    if not (args.data / "metadata.csv").is_file():
        sys.exit(f"This benchmark needs the 4Q data set (metadata.csv and audio/) at {args.data}; pass --data.")
    clips = sorted(p for p in args.clips.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not clips:
        sys.exit(f"No audio files in {args.clips}.")

    threads = torch.get_num_threads()
    report = Report(args.out)
    report.line(f"# ONNX Runtime variants, {time.strftime('%Y-%m-%d %H:%M')} UTC, {threads} threads everywhere")
    names = member_names(ENSEMBLE)
    models = [*names, ENSEMBLE]
    with timed(report, "export + calibration + quantisation"):
        prepare_exports(names, training_clips(args.data, args.fold, args.calibration_clips))

    sets = member_sets(names, threads)
    shipped = Predictor(ENSEMBLE).predict(clips[0]).probabilities
    same = MemberPredictor(ENSEMBLE, list(sets[ONNX_FP32].values())).predict(clips[0]).probabilities == shipped
    report.line(f"\nCheck: ONNX fp32 members through bench.onnx_path give the shipped Predictor's answer: {same}")

    predictors: dict[tuple[str, str], Callable[[Path], object]] = {}
    for label, by_name in sets.items():
        singles = names if label in BASE_KINDS else [MUSICNN]
        predictors |= {(label, n): MemberPredictor(n, [by_name[n]]).predict for n in singles}
        predictors[(label, ENSEMBLE)] = MemberPredictor(ENSEMBLE, list(by_name.values())).predict
    with timed(report, f"timing on {len(clips)} clips"):
        seconds = mean_seconds(predictors, clips)
        decode = mean_seconds({("decode", "-"): load_audio}, clips)[("decode", "-")]
    report.line(f"\n## Warm s per 30 s clip, file to answer (decoding included), mean of {len(clips)} clips")
    rows: dict[str, dict[str, str]] = {}
    for (label, model), s in seconds.items():
        rows.setdefault(label, {})[model] = f"{s:.3f}"
    report.table(models, rows)
    report.line(f"\nDecoding alone: {decode:.3f} s per clip.")

    held = held_out(args.data, args.fold)[: args.agreement_clips]
    compared = {label: by_name for label, by_name in sets.items() if label not in NOT_COMPARED}
    agreement = Agreement()
    with timed(report, f"answers on {len(held)} held-out clips"):
        for done, clip in enumerate(held, 1):
            compare_clip(load_audio(clip), sets[TORCH], compared, agreement)
            if done % PROGRESS_EVERY == 0:
                print(
                    f"{done}/{len(held)} clips compared", *table_lines(models, agreement.cells()), sep="\n", flush=True
                )
    report.line(f"\n## Same top mood as torch fp32 (share of {len(held)} clips of fold {args.fold}) / max |p diff|")
    report.table(models, agreement.cells())


def prepare_exports(names: Sequence[str], calibration_clips: Sequence[Path]) -> None:
    """Export musicnn with one backbone each, and quantise each shipped export to int8."""
    musicnn = load_network(MUSICNN)
    assert isinstance(musicnn.network, MusicnnMood)
    for keep, backbone in enumerate(MusicnnMoodConfig().backbones):
        export_network(
            OneBackbone(musicnn.network, keep), musicnn.manifest.features, onnx_path(MUSICNN, f".{backbone}")
        )
    quantise_members(names, calibration_clips)


def member_sets(names: Sequence[str], threads: int) -> dict[str, dict[str, Member]]:
    """Every variant as the ensemble's members (musicnn's variants swap only musicnn)."""
    sets: dict[str, dict[str, Member]] = {
        TORCH: {n: torch_member(n) for n in names},
        ONNX_FP32: {n: onnx_member(n, onnx_path(n), threads) for n in names},
        ONNX_INT8: {n: onnx_member(n, onnx_path(n, INT8), threads) for n in names},
        TORCH_BF16: {n: bf16_member(n) for n in names},
    }
    musicnn: dict[str, tuple[str, Member]] = {}
    for kind in (ONNX_FP32, ONNX_INT8):
        musicnn |= {f"{kind}, {k} patches": (kind, sets[kind][MUSICNN].with_max_windows(k)) for k in FEWER_PATCHES}
    musicnn |= {
        f"{ONNX_FP32}, {b} only": (ONNX_FP32, onnx_member(MUSICNN, onnx_path(MUSICNN, f".{b}"), threads))
        for b in MusicnnMoodConfig().backbones
    }
    for label, (kind, member) in musicnn.items():
        sets[label] = {n: member if n == MUSICNN else sets[kind][n] for n in names}
    return sets


def compare_clip(
    wav: FloatArray, reference: dict[str, Member], compared: dict[str, dict[str, Member]], agreement: Agreement
) -> None:
    """Add one clip to ``agreement``: each network and the ensemble of each compared set against ``reference``.

    A member shared by several sets is run once.
    """
    ensemble = MemberPredictor(ENSEMBLE, list(reference.values()))
    everyone = [*reference.values(), *(m for by_name in compared.values() for m in by_name.values())]
    mels = log_mel_per_front_end(wav, [m.front_end for m in everyone])
    duration_s = wav.size / SAMPLE_RATE
    outputs: dict[int, WindowOutputs] = {}
    for member in everyone:
        if id(member) not in outputs:
            (outputs[id(member)],) = MemberPredictor(MUSICNN, [member]).window_outputs(mels, duration_s)

    def probabilities(by_name: dict[str, Member]) -> dict[str, npt.NDArray[np.float32]]:
        window_outputs = [outputs[id(m)] for m in by_name.values()]
        clip = {n: clip_probabilities(o) for n, o in zip(by_name, window_outputs, strict=True)}
        clip[ENSEMBLE] = clip_probabilities(ensemble.combined_outputs(window_outputs, duration_s))
        return clip

    names = list(reference)
    expected = probabilities(reference)
    for label, by_name in compared.items():
        reported = [*names, ENSEMBLE] if label in BASE_KINDS else [MUSICNN, ENSEMBLE]
        for model, probs in probabilities(by_name).items():
            if model in reported:
                agreement.add((label, model), probs, expected[model])


if __name__ == "__main__":
    main()
