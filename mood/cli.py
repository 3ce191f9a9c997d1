"""`python -m mood analyze [--model NAME] [--json] PATH...` (DESIGN.md: a stable interface).

Heavy modules load only once a command runs, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mood.constants import ENSEMBLE, MODEL_NAMES, MOODS
from mood.errors import MoodError

if TYPE_CHECKING:
    from mood.engine.inference import Prediction

PROGRESS_MIN_INPUTS = 3  # show a progress bar from this many inputs on


def get_parser() -> argparse.ArgumentParser:
    """The command-line options of ``python -m mood``."""
    parser = argparse.ArgumentParser(prog="mood", description="What mood does a song carry?")
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser("analyze", help="judge the mood of audio files")
    analyze.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders (searched recursively)"
    )
    analyze.add_argument(
        "--model", choices=MODEL_NAMES, default=ENSEMBLE, help="which model judges (default: ensemble)"
    )
    analyze.add_argument("--json", action="store_true", help="print one JSON object per input and line")
    analyze.add_argument(
        "--weights-dir",
        type=Path,
        default=None,
        help="folder of weights (default: $MOOD_WEIGHTS_DIR, else the shipped ones)",
    )
    return parser


def expand_paths(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as given; folders replaced by the audio files inside them, sorted."""
    from mood.engine.audio import AUDIO_EXTENSIONS

    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            yield path


def format_row(path: Path, prediction: Prediction) -> str:
    """One readable line: file, mood, its probability, all four, duration."""
    shares = "  ".join(f"{mood} {prediction.probabilities[mood]:5.1%}" for mood in MOODS)
    headline = f"{prediction.mood:6s} {prediction.probabilities[prediction.mood]:5.1%} ({prediction.confidence})"
    return f"{path!s:40s}  {headline}  {shares}  {prediction.duration_s:6.1f} s"


def analyze(paths: Sequence[Path], model: str, as_json: bool, out: TextIO, weights_dir: Path | None = None) -> int:
    """Judge every input, printing as it goes; 0 if all succeeded, else 1."""
    from tqdm import tqdm

    from mood.engine.inference import Predictor

    inputs = list(expand_paths(paths))
    if not inputs:
        print("No audio files found in the given folders.", file=sys.stderr)
        return 1
    predictor = Predictor(model, weights_dir)
    failed = 0
    for path in tqdm(inputs, desc="analysing", unit="file", file=sys.stderr, disable=len(inputs) < PROGRESS_MIN_INPUTS):
        try:
            prediction = predictor.predict(path)
        except MoodError as e:
            failed += 1
            line = json.dumps({"path": str(path), "error": str(e)}) if as_json else f"{path}: error: {e}"
        else:
            line = json.dumps({"path": str(path), **prediction.to_dict()}) if as_json else format_row(path, prediction)
        tqdm.write(line, file=out)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of ``python -m mood``; returns the exit status."""
    args = get_parser().parse_args(argv)
    try:
        return analyze(args.paths, args.model, args.json, out or sys.stdout, args.weights_dir)
    except MoodError as e:  # e.g. the model's weights failed verification
        print(f"error: {e}", file=sys.stderr)
        return 2


def main_exit() -> None:
    """The ``mood`` console script: :func:`main`, its status as the exit code."""
    sys.exit(main())
