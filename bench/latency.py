"""Latency and memory of the mood engine on this machine, before and after issue 20, in one run.

    .venv/bin/python -m bench.latency [--weights-dir DIR] [--repeats N] [--models NAME...] [--engines E...]

Each model is timed per engine (``bench.onnx_path.engine_predict``): ``bf16`` and ``f32`` are
`Predictor` as shipped (each network's checked-in export run by OpenVINO at that
``MOOD_PRECISION``; ``bf16`` is the default where the CPU has it), ``torch`` the same engine with
each network's torch module (how `Predictor` ran before issue 20), ``onnxruntime`` the exports in
ONNX Runtime fp32 (as first shipped for issue 20); the hybrid has only the served rows. Cold
start runs in a fresh interpreter (import + model load + one 30 s clip). Warm figures are the
median of N runs on a decoded 30 s clip and a 4-minute song (decoding excluded: it depends on the format; see the decode
row). Peak RSS is the process maximum after everything ran. Targets (issue 20): cold start
<= 3 s; issue 13's warm 30 s clip <= 0.10 s per network, 4-minute song <= 1.0 s with the
whole ensemble. The hybrid's steps are also timed one by one (issue 22's target: <= 0.3 s added
per 30 s clip beside the musicnn member, which hears the same front end).
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

from bench.onnx_path import SERVED_ENGINES, engine_predict, has_network_members
from mood.constants import SAMPLE_RATE
from mood.engine.weights import WEIGHTS_DIR_ENV
from mood.presentation.model_card import installed_models

REPO = Path(__file__).resolve().parents[1]
ENGINES = ("torch", "onnxruntime", "f32", "bf16")  # of bench.onnx_path.ENGINES

COLD_START = """
import sys, time
t0 = time.perf_counter()
from mood.engine.serving import PRECISION_ENV, SERVED_PRECISIONS
if sys.argv[1] in SERVED_PRECISIONS:  # as shipped: no bench or torch imports
    import os
    os.environ[PRECISION_ENV] = sys.argv[1]
    from mood.engine.inference import Predictor
    Predictor(sys.argv[2]).predict(sys.argv[3])
else:
    from bench.onnx_path import engine_predict
    engine_predict(sys.argv[1], sys.argv[2])(sys.argv[3])
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


def hybrid_parts(clip: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds of each step of the hybrid member on a decoded clip (at the served precision)."""
    from mood.engine.features import log_mel, make_windows
    from mood.engine.hybrid import load_hybrid, musicnn_statistics
    from mood.engine.musical import musical_features

    member = load_hybrid("hybrid")
    front_end = member.manifest.features
    mel = log_mel(clip, front_end)
    windows, _ = make_windows(mel, front_end)
    patches = member.patches.outputs(windows)
    x = member.features(mel, clip)[None, :]
    return {
        "musicnn front end (log-mel, shared with musicnn)": median_seconds(lambda: log_mel(clip, front_end), repeats),
        "pretrained backbones' patch outputs": median_seconds(lambda: member.patches.outputs(windows), repeats),
        "statistics": median_seconds(lambda: musicnn_statistics(patches), repeats),
        "musical features": median_seconds(lambda: musical_features(clip, member.manifest.musical), repeats),
        "head + reasons": median_seconds(lambda: member.head.probabilities(x), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights-dir", default=None, help="default: $MOOD_WEIGHTS_DIR, else the shipped weights")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=None, help="default: every installed model")
    parser.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES, help="default: all of them")
    args = parser.parse_args()

    env = dict(os.environ)
    if args.weights_dir:
        env[WEIGHTS_DIR_ENV] = os.environ[WEIGHTS_DIR_ENV] = args.weights_dir

    from mood.engine.audio import load_audio

    clip, song = synthetic_song(30.0), synthetic_song(240.0)
    buffer = io.BytesIO()
    sf.write(buffer, clip, SAMPLE_RATE, format="WAV")
    wav_path = Path("/tmp/mood-bench-30s.wav")
    wav_path.write_bytes(buffer.getvalue())

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average before: {load}; {len(os.sched_getaffinity(0))} usable cores\n")
    print("| model | engine | cold start s | warm 30 s clip ms | warm 4 min song s | clip speed-up |")
    print("|---|---|---|---|---|---|")
    models = args.models or installed_models()
    for name in models:
        torch_clip_s: float | None = None
        for engine in args.engines:
            if engine not in SERVED_ENGINES and not has_network_members(name):
                continue
            command = [sys.executable, "-c", COLD_START, engine, name, str(wav_path)]
            done = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=REPO)
            cold = float(done.stdout.split()[-1])
            predict = engine_predict(engine, name)
            warm_clip = median_seconds(lambda p=predict: p(clip), args.repeats)
            warm_song = median_seconds(lambda p=predict: p(song), max(1, args.repeats // 2))
            torch_clip_s = warm_clip if engine == "torch" else torch_clip_s
            speed_up = f"{torch_clip_s / warm_clip:.1f}x" if engine != "torch" and torch_clip_s else ""
            row = f"| {name} | {engine} | {cold:.2f} | {warm_clip * 1000:.0f} | {warm_song:.2f} | {speed_up} |"
            print(row, flush=True)

    if "hybrid" in models:
        parts = hybrid_parts(clip, args.repeats)
        print("\nthe hybrid's steps on a 30 s clip, ms:")
        for step, seconds in parts.items():
            print(f"  {step:52s} {seconds * 1000:8.0f}")
        added = sum(v for k, v in parts.items() if "shared" not in k)
        print(f"  {'added beside musicnn (which shares the front end)':52s} {added * 1000:8.0f}")

    decode = median_seconds(lambda: load_audio(wav_path), args.repeats)
    print(f"\ndecode a 30 s WAV at 22.05 kHz: {decode * 1000:.0f} ms")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (every model loaded both ways, 4-minute song): {peak_mb:.0f} MB")
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
