"""Latency and memory of the mood engine on this machine; prints a table beside the figures before.

    .venv/bin/python -m bench.latency [--weights-dir DIR] [--repeats N]

Cold start runs in a fresh interpreter (import + model load + one 30 s clip). Warm figures
are the median of N runs of `Predictor.predict` on a decoded 30 s clip and a 4-minute song
(decoding excluded: it depends on the format; see the decode row). Peak RSS is the process
maximum after everything ran. Targets (issue 13): warm 30 s clip <= 0.10 s per network,
4-minute song <= 1.0 s with the whole ensemble, cold start <= 4 s; a pretrained member adds
<= 0.1 s per 30 s clip.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from mood.constants import SAMPLE_RATE
from mood.engine.weights import WEIGHTS_DIR_ENV
from mood.presentation.model_card import installed_models

# README figures of 2026-12-01 before musicnn's front end pooled first (AMD EPYC, AVX512-BF16):
# cold start s, warm 30 s clip ms, 4-minute song s.
BEFORE = {
    "resnet18": (8.7, 192, 1.48),
    "cldnn": (9.2, 203, 1.69),
    "musicnn": (7.8, 1315, 1.56),
    "ensemble": (9.8, 1959, 4.63),
}

COLD_START = """
import sys, time
t0 = time.perf_counter()
from mood.engine.inference import Predictor
Predictor(sys.argv[1]).predict(sys.argv[2])
print(time.perf_counter() - t0)
"""


def synthetic_song(seconds: float, seed: int = 0) -> np.ndarray:
    """Chords over noise: enough spectral content to be judged, made here, no data needed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    chords = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    return (0.1 * chords + 0.02 * rng.normal(size=t.size)).astype(np.float32)


def median_seconds(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights-dir", default=None, help="default: $MOOD_WEIGHTS_DIR, else the shipped weights")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    env = dict(os.environ)
    if args.weights_dir:
        env[WEIGHTS_DIR_ENV] = os.environ[WEIGHTS_DIR_ENV] = args.weights_dir

    from mood.engine.audio import load_audio
    from mood.engine.inference import Predictor

    clip, song = synthetic_song(30.0), synthetic_song(240.0)
    buffer = io.BytesIO()
    sf.write(buffer, clip, SAMPLE_RATE, format="WAV")
    wav_path = Path("/tmp/mood-bench-30s.wav")
    wav_path.write_bytes(buffer.getvalue())

    print(f"{'model':10s} {'cold start s':>13s} {'warm 30 s clip ms':>18s} {'warm 4 min song s':>18s}  before")
    for name in installed_models():
        command = [sys.executable, "-c", COLD_START, name, str(wav_path)]
        cold = float(subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout)
        predictor = Predictor(name)
        warm_clip = median_seconds(lambda p=predictor: p.predict(clip), args.repeats)
        warm_song = median_seconds(lambda p=predictor: p.predict(song), max(1, args.repeats // 2))
        before = "  {:.1f} s / {:.0f} ms / {:.2f} s".format(*BEFORE[name]) if name in BEFORE else "  (new)"
        print(f"{name:10s} {cold:13.2f} {warm_clip * 1000:18.0f} {warm_song:18.2f}{before}")

    decode = median_seconds(lambda: load_audio(wav_path), args.repeats)
    print(f"\ndecode a 30 s WAV at 22.05 kHz: {decode * 1000:.0f} ms")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (every model loaded, 4-minute song): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
