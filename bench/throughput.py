"""Throughput of a library run on this machine, in songs per minute: one process
(`mood analyze`) and a local Ray instance (`mood analyze --ray`); then the arithmetic for
1,000,000 songs.

    .venv/bin/python -m bench.throughput [--songs N] [--seconds S] [--model NAME] [--weights-dir DIR] [--no-descriptors]

N synthesised clips of S seconds (44.1 kHz mono MP3, like a store preview, so decoding and
resampling are measured too) go through the same code as the CLI, results written to a JSON
lines file. Rates count the analysis; the set-up (loading the model; starting Ray and
checking the model on the driver) is shown apart. The estimate for a million songs scales the local Ray rate per
worker (one worker per core) to machines of ``--cores-per-machine`` cores, assuming linear
scaling: workers share nothing but the audio storage.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mood.constants import ENSEMBLE, MODEL_NAMES

FILE_SAMPLE_RATE = 44_100  # Hz, as most previews and CDs: the engine resamples to SAMPLE_RATE
DEFAULT_SONGS = 200
DEFAULT_SECONDS = 30.0  # a store preview
TARGET_SONGS = 1_000_000
CORES_PER_MACHINE = 16  # a common cloud CPU machine for the estimate
MACHINE_COUNTS = (1, 10, 50)
DEADLINES_H = (24.0, 1.0)


def synthetic_clip(seconds: float, seed: int) -> np.ndarray:
    """Chords that change with the seed, a beat and a little noise: a different song per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FILE_SAMPLE_RATE)) / FILE_SAMPLE_RATE
    root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
    chords = sum(np.sin(2 * np.pi * root * ratio * t) for ratio in (1.0, 1.26, 1.5))
    beat = (np.sin(2 * np.pi * rng.uniform(1.0, 3.0) * t) > 0.95) * rng.normal(0, 1, t.size)
    return (0.1 * chords + 0.1 * beat + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def write_clips(folder: Path, n_songs: int, seconds: float) -> list[Path]:
    """``n_songs`` MP3 files in ``folder``."""
    paths = []
    for i in range(n_songs):
        path = folder / f"song{i:05d}.mp3"
        sf.write(path, synthetic_clip(seconds, seed=i), FILE_SAMPLE_RATE, format="MP3")
        paths.append(path)
    return paths


@dataclass(frozen=True)
class Run:
    """One timed run: set-up (model load, or Ray's start and the driver's model check),
    then the analysis of every song (a Ray run's includes its workers loading the models)."""

    label: str
    n_songs: int
    n_failed: int
    workers: int
    setup_s: float
    analysis_s: float

    @property
    def songs_per_min(self) -> float:
        """Songs over the time their analysis took."""
        return self.n_songs / self.analysis_s * 60

    @property
    def overall_per_min(self) -> float:
        """Songs over the whole run, set-up included."""
        return self.n_songs / (self.setup_s + self.analysis_s) * 60

    @property
    def per_worker_per_min(self) -> float:
        """The rate of one worker (one core)."""
        return self.songs_per_min / self.workers


def timed(label: str, workers: int, start: Callable[[], Iterator[object]], out: Path) -> Run:
    """Time ``start()`` (the set-up, which returns the results' iterator), then the
    iteration, each result written to a JSON lines sink."""
    from mood.batch.results import Result
    from mood.batch.sinks import open_sink

    began = time.perf_counter()
    results = start()
    ready = time.perf_counter()
    n_songs = n_failed = 0
    with open_sink(out) as sink:
        for result in results:
            assert isinstance(result, Result)
            sink.write(result)
            n_songs += 1
            n_failed += result.error is not None
    return Run(label, n_songs, n_failed, workers, ready - began, time.perf_counter() - ready)


def single_process(
    paths: list[Path], model: str, weights_dir: Path | None, out: Path, with_descriptors: bool = True
) -> Run:
    """The one-machine path: one Predictor, threads decoding ahead (what `mood analyze` does)."""
    from mood.batch.run import DECODE_WORKERS, run_library
    from mood.engine.inference import Predictor
    from mood.engine.serving import usable_cores

    return timed(
        "1 process",
        usable_cores(),  # the decoders and the networks' forward passes share every core
        lambda: run_library(
            paths, Predictor(model, weights_dir), workers=DECODE_WORKERS, with_descriptors=with_descriptors
        ),
        out,
    )


def local_ray(paths: list[Path], model: str, weights_dir: Path | None, out: Path, with_descriptors: bool = True) -> Run:
    """The Ray path on a local instance: one worker per core (what `mood analyze --ray` does)."""
    from mood.batch.ray import run_on_ray
    from mood.engine.serving import usable_cores

    workers = usable_cores()
    return timed(
        f"local Ray ({workers} workers)",
        workers,
        lambda: run_on_ray(paths, model, weights_dir, with_descriptors=with_descriptors),
        out,
    )


def estimate(per_worker_per_min: float, cores_per_machine: int) -> list[str]:
    """The arithmetic for TARGET_SONGS at a per-core rate, as printed lines."""
    core_hours = TARGET_SONGS / per_worker_per_min / 60
    lines = [
        f"{TARGET_SONGS:,} songs / {per_worker_per_min:.1f} songs per min per core / 60 = {core_hours:,.0f} core-hours",
    ]
    for machines in MACHINE_COUNTS:
        cores = machines * cores_per_machine
        lines.append(f"  {machines:3d} x {cores_per_machine}-core machines: {core_hours:,.0f} / {cores} = "
                     f"{core_hours / cores:,.1f} h")  # fmt: skip
    for deadline_h in DEADLINES_H:
        machines = math.ceil(core_hours / (deadline_h * cores_per_machine))
        lines.append(
            f"  within {deadline_h:g} h: ceil({core_hours:,.0f} / ({deadline_h:g} x {cores_per_machine})) = "
            f"{machines} machine{'s' * (machines != 1)}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=DEFAULT_SONGS, help=f"clips to analyse (default {DEFAULT_SONGS})")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each clip in s")
    parser.add_argument("--model", choices=MODEL_NAMES, default=ENSEMBLE, help="default: ensemble")
    parser.add_argument("--weights-dir", type=Path, default=None, help="default: $MOOD_WEIGHTS_DIR, else shipped")
    parser.add_argument("--cores-per-machine", type=int, default=CORES_PER_MACHINE, help="for the estimate")
    parser.add_argument("--no-descriptors", action="store_true", help="moods only, as mood analyze --no-descriptors")
    args = parser.parse_args()
    with_descriptors = not args.no_descriptors

    with tempfile.TemporaryDirectory(prefix="mood-throughput-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths = write_clips(folder, args.songs, args.seconds)
        print(
            f"{args.songs} clips of {args.seconds:g} s (MP3, 44.1 kHz) written in {time.perf_counter() - started:.0f} s"
        )
        print(f"model: {args.model}; descriptors: {'yes' if with_descriptors else 'no'}\n")
        runs = [
            single_process(paths, args.model, args.weights_dir, folder / "single.jsonl", with_descriptors),
            local_ray(paths, args.model, args.weights_dir, folder / "ray.jsonl", with_descriptors),
        ]

    print(f"{'path':24s} {'songs/min':>10s} {'per core':>9s} {'set-up s':>9s} {'incl. set-up':>13s} {'failed':>7s}")
    for run in runs:
        print(
            f"{run.label:24s} {run.songs_per_min:10.1f} {run.per_worker_per_min:9.1f} {run.setup_s:9.1f} "
            f"{run.overall_per_min:13.1f} {run.n_failed:7d}"
        )
    print(f"\nAt the local Ray rate per core, on {args.cores_per_machine}-core machines (linear scaling):")
    print("\n".join(estimate(runs[1].per_worker_per_min, args.cores_per_machine)))


if __name__ == "__main__":
    main()
