"""Does a model's answer survive what other collections do to audio? Prints a table.

    .venv/bin/python bench/robustness.py [--data ../shared/data/4q] [--clips 40] [--model resnet18]

Each clip is re-encoded (MP3, AAC 96 kbps), made 12 dB quieter, and cut to its
first 10 s; the table gives how often the top mood stays the same and the mean absolute
change of the four probabilities. The clips are read where they are and never copied. The
shipped models were trained on these clips: this measures stability, not accuracy.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mood.constants import MOODS, SAMPLE_RATE
from mood.engine.audio import load_audio
from mood.engine.inference import Predictor
from mood.training.paths import DEFAULT_DATA_DIR
from tests.helpers import write_audio

Variant = Callable[[np.ndarray, Path], np.ndarray]


def transcoded(suffix: str) -> Variant:
    """Encode to ``suffix`` (as the tests' ``write_audio`` does) and decode again."""

    def variant(wav: np.ndarray, folder: Path) -> np.ndarray:
        return load_audio(write_audio(wav, folder / f"clip{suffix}", sr=SAMPLE_RATE))

    return variant


VARIANTS: dict[str, Variant] = {
    "mp3": transcoded(".mp3"),
    "aac 96k": transcoded(".m4a"),
    "-12 dB": lambda wav, _folder: wav * np.float32(10 ** (-12 / 20)),
    "first 10 s": lambda wav, _folder: wav[: 10 * SAMPLE_RATE],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--clips", type=int, default=40, help="clips, taken evenly from metadata.csv")
    parser.add_argument("--model", default="ensemble")
    args = parser.parse_args()

    with (args.data / "metadata.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    picked = rows[:: max(1, len(rows) // args.clips)][: args.clips]
    predictor = Predictor(args.model)

    def probabilities(wav: np.ndarray) -> np.ndarray:
        return np.array([predictor.predict(wav).probabilities[m] for m in MOODS])

    same = {name: 0 for name in VARIANTS}
    change = {name: 0.0 for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for row in picked:
            wav = load_audio(args.data / row["path"])
            reference = probabilities(wav)
            for name, variant in VARIANTS.items():
                probs = probabilities(variant(wav, Path(tmp)))
                same[name] += int(probs.argmax() == reference.argmax())
                change[name] += float(np.abs(probs - reference).mean())
    print(f"{args.model} on {len(picked)} clips: top mood unchanged / mean |change| of the probabilities")
    for name in VARIANTS:
        print(f"  {name:11s} {same[name] / len(picked):6.0%}   {change[name] / len(picked):.3f}")


if __name__ == "__main__":
    main()
