"""bfloat16 against float32, judged by the answers: every model on every 4Q and Grekow clip, one run.

    .venv/bin/python -m bench.precision [--every N] [--out precision_results.md]

Each clip is decoded and its front ends computed once; every shipped model then answers it twice,
with ``MOOD_PRECISION=f32`` and with ``bf16`` (on a CPU without bfloat16 both are float32, and the
run says so). Printed per model and collection: how often the top mood is the float32 one, the
largest probability change, and macro-F1 and ECE (10 bins) of both. The shipped models were
trained on every 4Q clip, so 4Q's figures measure agreement, not accuracy; Grekow (never trained
on) gives both. Issue 20's rule: the same top mood on >= 99 % of clips, figures within 0.005.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from tqdm import tqdm

from mood.constants import ENSEMBLE, MODEL_NAMES, MOODS, SAMPLE_RATE
from mood.engine.audio import load_audio
from mood.engine.features import log_mel_per_front_end
from mood.engine.inference import Predictor
from mood.engine.serving import PRECISION_ENV, cpu_has_bf16
from mood.training.calibration import expected_calibration_error
from mood.training.hybrid_features import Collection, four_q, grekow

PRECISIONS = ("f32", "bf16")


def answers(collection: Collection, every: int) -> dict[str, dict[str, np.ndarray]]:
    """``{precision: {model: probabilities (n_clips, n_moods)}}`` for every ``every``-th clip of the collection."""
    ensemble, hybrid = Predictor(ENSEMBLE), Predictor("hybrid")
    front_ends = tuple(dict.fromkeys((*ensemble.front_ends, *hybrid.front_ends)))
    rows: dict[str, dict[str, list[list[float]]]] = {p: {m: [] for m in MODEL_NAMES} for p in PRECISIONS}
    for clip in tqdm(collection.clips[::every], desc=collection.name, unit="clip", file=sys.stderr):
        samples = load_audio(clip.path)
        mels = log_mel_per_front_end(samples, front_ends)
        seconds = samples.size / SAMPLE_RATE
        for precision in PRECISIONS:
            os.environ[PRECISION_ENV] = precision
            predictions = [*ensemble.predict_mels(mels, seconds), *hybrid.predict_mels(mels, seconds, samples=samples)]
            for prediction in predictions:
                rows[precision][prediction.model].append([prediction.probabilities[m] for m in MOODS])
    return {p: {m: np.array(r, dtype=np.float32) for m, r in by_model.items()} for p, by_model in rows.items()}


def table(collection: Collection, found: dict[str, dict[str, np.ndarray]], every: int) -> list[str]:
    """Markdown rows: per model, agreement, largest change, macro-F1 and ECE in both precisions."""
    true = np.array([c.mood for c in collection.clips[::every]])
    lines = []
    for model in MODEL_NAMES:
        f32, bf16 = found["f32"][model], found["bf16"][model]
        agree = float(np.mean(f32.argmax(1) == bf16.argmax(1)))
        change = float(np.abs(f32 - bf16).max())
        f1 = [f1_score(true, p.argmax(1), average="macro", labels=range(len(MOODS))) for p in (f32, bf16)]
        ece = [expected_calibration_error(p, true) for p in (f32, bf16)]
        lines.append(
            f"| {collection.name} | {model} | {len(true)} | {agree:.2%} | {change:.4f} | "
            f"{f1[0]:.4f} / {f1[1]:.4f} | {ece[0]:.4f} / {ece[1]:.4f} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Measure both collections and print (and write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=1, help="every N-th clip of each collection (default all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    lines = [
        f"bfloat16 on this CPU: {'yes' if cpu_has_bf16() else 'no (both columns are float32)'}",
        "",
        "| collection | model | clips | same top mood | largest probability change | macro-F1 f32 / bf16 "
        "| ECE f32 / bf16 |",
        "|---|---|---|---|---|---|---|",
    ]
    for collection in (four_q(), grekow()):
        lines += table(collection, answers(collection, args.every), args.every)
        print("\n".join(lines), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
