"""bfloat16 against float32, judged by the answers: every model on every 4Q and Grekow clip, one run.

    .venv/bin/python -m bench.precision [--every N] [--out precision_results.md]
                                        [--reference-weights DIR [--shipped-precision bf16]]

Each clip is decoded and its front ends computed once; every shipped model then answers it twice,
with ``MOOD_PRECISION=f32`` and with ``bf16`` (on a CPU without bfloat16 both are float32, and the
run says so). Printed per model and collection: how often the top mood is the float32 one, the
largest probability change, and macro-F1 and ECE (10 bins) of both. The shipped models were
trained on every 4Q clip, so 4Q's figures measure agreement, not accuracy; Grekow (never trained
on) gives both. Issue 20's rule: the same top mood on >= 99 % of clips, figures within 0.005.

``--reference-weights DIR`` compares another way: the shipped weights against those of ``DIR``
(e.g. a worktree's ``mood/weights`` from before a change of the exports), both in float32, or
the shipped ones in bfloat16 with ``--shipped-precision bf16`` (a change of the exports judged as
served against the float32 reference from before it, as the rule reads).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from sklearn.metrics import f1_score
from tqdm import tqdm

from mood.constants import ENSEMBLE, MODEL_NAMES, MOODS, SAMPLE_RATE
from mood.engine.audio import load_audio
from mood.engine.features import log_mel_per_front_end
from mood.engine.inference import Predictor
from mood.engine.manifest import EnsembleManifest
from mood.engine.serving import PRECISION_ENV, cpu_has_bf16
from mood.engine.weights import available_models, read_manifest
from mood.training.calibration import expected_calibration_error
from mood.training.hybrid_features import Collection, four_q, grekow

PRECISIONS = ("f32", "bf16")


@dataclass(frozen=True)
class Side:
    """One way of serving the models: the weights folder (None: the shipped) and the precision."""

    label: str
    weights_dir: Path | None
    precision: str


def predictors(weights_dir: Path | None) -> list[Predictor]:
    """The ensemble (answering for its members too), then every model of the folder outside it."""
    ensemble = Predictor(ENSEMBLE, weights_dir)
    covered = {ENSEMBLE, *cast(EnsembleManifest, read_manifest(ENSEMBLE, weights_dir)).members}
    return [ensemble, *(Predictor(m, weights_dir) for m in available_models(weights_dir) if m not in covered)]


def answers(collection: Collection, every: int, sides: Sequence[Side]) -> dict[str, dict[str, np.ndarray]]:
    """``{side label: {model: probabilities (n_clips, n_moods)}}`` for every ``every``-th clip of the collection."""
    served = {side.label: predictors(side.weights_dir) for side in sides}
    front_ends = tuple(dict.fromkeys(f for p in served[sides[0].label] for f in p.front_ends))
    rows: dict[str, dict[str, list[list[float]]]] = {side.label: {m: [] for m in MODEL_NAMES} for side in sides}
    for clip in tqdm(collection.clips[::every], desc=collection.name, unit="clip", file=sys.stderr):
        samples = load_audio(clip.path)
        mels = log_mel_per_front_end(samples, front_ends)
        seconds = samples.size / SAMPLE_RATE
        for side in sides:
            os.environ[PRECISION_ENV] = side.precision
            predictions = [a for p in served[side.label] for a in p.predict_mels(mels, seconds, samples=samples)]
            for prediction in predictions:
                rows[side.label][prediction.model].append([prediction.probabilities[m] for m in MOODS])
    return {label: {m: np.array(r, dtype=np.float32) for m, r in by_model.items()} for label, by_model in rows.items()}


def table(collection: Collection, found: dict[str, dict[str, np.ndarray]], every: int) -> list[str]:
    """Markdown rows: per model, agreement, largest change, macro-F1 and ECE on both sides."""
    true = np.array([c.mood for c in collection.clips[::every]])
    lines = []
    for model in MODEL_NAMES:
        reference, other = (by_model[model] for by_model in found.values())
        agree = float(np.mean(reference.argmax(1) == other.argmax(1)))
        change = float(np.abs(reference - other).max())
        f1 = [f1_score(true, p.argmax(1), average="macro", labels=range(len(MOODS))) for p in (reference, other)]
        ece = [expected_calibration_error(p, true) for p in (reference, other)]
        lines.append(
            f"| {collection.name} | {model} | {len(true)} | {agree:.2%} | {change:.1e} | "
            f"{f1[0]:.4f} / {f1[1]:.4f} | {ece[0]:.4f} / {ece[1]:.4f} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Measure both collections and print (and write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=1, help="every N-th clip of each collection (default all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this Markdown file")
    parser.add_argument(
        "--reference-weights", type=Path, default=None, help="compare the shipped weights with this folder's (f32)"
    )
    parser.add_argument(
        "--shipped-precision", choices=PRECISIONS, default="f32", help="with --reference-weights: the shipped side's"
    )
    args = parser.parse_args(argv)
    if args.reference_weights:
        sides = (Side("reference", args.reference_weights, "f32"), Side("shipped", None, args.shipped_precision))
        first = f"the shipped weights ({args.shipped_precision}) against {args.reference_weights} (f32)"
        if args.shipped_precision == "bf16" and not cpu_has_bf16():
            first += "; this CPU has no bfloat16, so both are float32"
    else:
        sides = tuple(Side(p, None, p) for p in PRECISIONS)
        first = f"bfloat16 on this CPU: {'yes' if cpu_has_bf16() else 'no (both columns are float32)'}"
    a, b = (side.label for side in sides)
    lines = [
        first,
        "",
        f"| collection | model | clips | same top mood | largest probability change | macro-F1 {a} / {b} "
        f"| ECE {a} / {b} |",
        "|---|---|---|---|---|---|---|",
    ]
    for collection in (four_q(), grekow()):
        lines += table(collection, answers(collection, args.every, sides), args.every)
        print("\n".join(lines), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
