"""`mood analyze [--model NAME] [--json] [--out FILE] [--resume] [--ray [ADDRESS]] PATH...`
(docs/DESIGN.md: a stable interface).

stdout carries only the results (JSON lines with ``--json``, else a readable table, which
``--out`` replaces); the progress bar, the summary and errors go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mood.cli.status import COULD_NOT_RUN_STATUS, FAILED_STATUS, INTERRUPTED_STATUS, UsageError
from mood.constants import ENSEMBLE, MODEL_NAMES, MOODS

if TYPE_CHECKING:
    from mood.batch.ray import RayResults
    from mood.batch.results import Result

PROGRESS_MIN_INPUTS = 3  # show a progress bar (and a summary) from this many inputs on
LOCAL_RAY = ""  # `--ray` without an address: $RAY_ADDRESS, else a local Ray instance
RAY_FLAG = "--ray"
# tqdm's bar, its rate always in songs per second (tqdm would turn a slow one into s/song).
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``analyze`` subcommand."""
    analyze = commands.add_parser(
        "analyze",
        help="judge the mood of audio files",
        description="Judge the mood of audio files; a folder is searched recursively. Results go to stdout "
        "(and --out); the progress bar and the closing summary go to stderr. Exit status: 0 if every input "
        "was judged, 1 if some failed (their rows hold the error; with --resume, a failure anywhere in the "
        f"output), {COULD_NOT_RUN_STATUS} if the run could not start or go on (e.g. models that do not load, "
        f"an output that cannot be written: what was written is kept), {INTERRUPTED_STATUS} if it was "
        "interrupted.",
    )
    analyze.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders (searched recursively)"
    )
    analyze.add_argument(
        "--model", choices=MODEL_NAMES, default=ENSEMBLE, help="which model judges (default: ensemble)"
    )
    analyze.add_argument("--json", action="store_true", help="print one JSON object per input and line")
    analyze.add_argument(
        "--no-descriptors",
        action="store_true",
        help="moods only: skip each song's tempo, key, loudness, energy, brightness and percussiveness "
        "(a library goes about twice as fast; their columns stay empty)",
    )
    analyze.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        default=None,
        help="write each result to FILE as it comes: .jsonl (the --json objects), .csv or .parquet "
        "(flat columns; Parquet adds the timeline). Replaces the table on stdout; --json still prints",
    )
    analyze.add_argument(
        "--resume",
        action="store_true",
        help="skip the inputs already judged in --out and append the others; inputs that failed there are "
        "tried again (their new row replaces the old)",
    )
    analyze.add_argument(
        RAY_FLAG,
        nargs="?",
        const=LOCAL_RAY,
        default=None,
        metavar="ADDRESS",
        help="run on a Ray cluster: ADDRESS is host:port, ray://host:port or auto; without it, "
        "$RAY_ADDRESS, else a local Ray instance (needs: pip install -e '.[scale]')",
    )
    analyze.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="threads decoding ahead of the model (default 2); with --ray, model replicas (default: one per CPU)",
    )
    analyze.add_argument(
        "--weights-dir",
        type=Path,
        default=None,
        help="folder of weights (default: $MOOD_WEIGHTS_DIR, else the shipped ones)",
    )


def expand_paths(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as given; folders replaced by the audio files inside them, sorted."""
    from mood.engine.audio import AUDIO_EXTENSIONS

    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            yield path


def format_row(result: Result) -> str:
    """One readable line: file, mood, its probability, all four, duration (or the error), and
    whether the song is unlike the training music."""
    from mood.batch.results import printable
    from mood.engine.inference import confidence_level

    record = result.record
    name = printable(result.path)
    if result.error is not None:
        return f"{name}: error: {result.error}"
    probabilities = record["probabilities"]
    shares = "  ".join(f"{mood} {probabilities[mood]:5.1%}" for mood in MOODS)
    mood = record["mood"]
    headline = f"{mood:6s} {probabilities[mood]:5.1%} ({confidence_level(probabilities.values())})"
    unfamiliar = "  unlike the training music" if record.get("unfamiliar") else ""
    return f"{name:40s}  {headline}  {shares}  {record['duration_s']:6.1f} s{unfamiliar}"


def analyze(
    paths: Sequence[Path],
    model: str,
    as_json: bool,
    out: TextIO,
    weights_dir: Path | None = None,
    *,
    out_path: Path | None = None,
    resume: bool = False,
    ray_address: str | None = None,
    workers: int | None = None,
    with_descriptors: bool = True,
) -> int:
    """Judge every input, printing (and writing to ``out_path``) as it goes; 0 if all succeeded,
    else ``FAILED_STATUS`` (with ``resume``: if any row of the whole output is a failure).

    Args:
        paths: files and folders.
        model: a model id.
        as_json: JSON lines on ``out`` instead of the table.
        out: where results are printed (stdout).
        weights_dir: as for :class:`mood.engine.inference.Predictor`.
        out_path: a ``.jsonl``, ``.csv`` or ``.parquet`` file to stream the results to.
        resume: skip the inputs already judged in ``out_path``, try again those that failed, and append.
        ray_address: None for this process; ``LOCAL_RAY`` or an address to run on Ray.
        workers: decoding threads, or with Ray the model replicas.
        with_descriptors: measure each song's descriptors too (False: ``--no-descriptors``).

    Raises:
        MoodError: the run could not start or go on (an output file that cannot be written, models
            that do not load, no Ray).
    """
    from tqdm import tqdm

    from mood.batch.resume import ResumeState, resume_state
    from mood.batch.sinks import check_out_path, open_sink
    from mood.batch.summary import Summary

    if out_path is not None:
        check_out_path(out_path)
    inputs = list(expand_paths(paths))
    if not inputs:
        print("No audio files found in the given folders.", file=sys.stderr)
        return FAILED_STATUS
    state = (
        resume_state(out_path, inputs)
        if resume and out_path is not None
        else ResumeState(inputs, frozenset(), Summary())
    )
    todo, summary = state.todo, state.summary
    if not todo:
        print(f"Nothing to do: all {len(inputs)} inputs are already in {out_path}.", file=sys.stderr)
        return FAILED_STATUS if summary.n_failed else 0
    with ExitStack() as stack:
        results = stack.enter_context(
            closing(_results(todo, model, weights_dir, ray_address, workers, with_descriptors))
        )
        sink = stack.enter_context(open_sink(out_path, resume, state.retry)) if out_path is not None else None
        bar = stack.enter_context(
            tqdm(
                total=len(todo),
                desc="analysing",
                unit="song",
                bar_format=BAR_FORMAT,
                file=sys.stderr,
                disable=len(todo) < PROGRESS_MIN_INPUTS,
            )
        )
        for result in results:
            if sink is not None:
                sink.write(result)
            summary.add(result)
            if as_json:
                tqdm.write(result.to_json(), file=out)
            elif out_path is None:
                tqdm.write(format_row(result), file=out)
            bar.update()
    summary.finish()
    if len(todo) >= PROGRESS_MIN_INPUTS or out_path is not None:
        print(summary.report(), file=sys.stderr)
    return FAILED_STATUS if summary.n_failed else 0


def _results(
    paths: list[Path],
    model: str,
    weights_dir: Path | None,
    ray_address: str | None,
    workers: int | None,
    with_descriptors: bool,
) -> Generator[Result, None, None] | RayResults:
    """The results of ``paths`` from this process or from Ray; models are loaded (or checked) first."""
    if ray_address is not None:
        from mood.batch.ray import run_on_ray

        return run_on_ray(
            paths, model, weights_dir, address=ray_address or None, workers=workers, with_descriptors=with_descriptors
        )
    from mood.batch.run import DECODE_WORKERS, run_library
    from mood.engine.inference import Predictor

    predictor = Predictor(model, weights_dir)
    return run_library(paths, predictor, workers=workers or DECODE_WORKERS, with_descriptors=with_descriptors)


def ray_flag_before_a_path(argv: Sequence[str]) -> list[str]:
    """``--ray PATH`` means a local instance and PATH, not a cluster at PATH: an argument after
    ``--ray`` that exists on disk becomes the first input (``--ray=`` takes no address)."""
    argv = list(argv)
    for i, arg in enumerate(argv[:-1]):
        if arg == "--":
            break
        if arg == RAY_FLAG and Path(argv[i + 1]).exists():
            argv[i] = f"{RAY_FLAG}={LOCAL_RAY}"
    return argv


def run_analyze(args: argparse.Namespace, out: TextIO) -> int:
    """``mood analyze``; returns the exit status."""
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out FILE (the results to continue)")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    return analyze(
        args.paths,
        args.model,
        args.json,
        out,
        args.weights_dir,
        out_path=args.out,
        resume=args.resume,
        ray_address=args.ray,
        workers=args.workers,
        with_descriptors=not args.no_descriptors,
    )
