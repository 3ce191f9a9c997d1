"""mood beside a peer, vibenet 0.1.0 (EfficientNet, ONNX Runtime), on the same clips in one run.

    .venv/bin/python -m bench.peers [--engine torch,onnxruntime,f32,bf16] [--clips 20] [--venv DIR]

vibenet is installed with pip into a throwaway venv (``--venv``, reused when present) and run
there with the network cut off: if it reaches for the internet (to fetch weights) it is
skipped with a message. The clips are 30 s MP3s at 128 kb/s made with the ffmpeg binary in a
temporary folder: real songs from the 4Q data set when it is present (``--data``), else
synthetic chords (speed only; the run says so). Each system runs in a fresh interpreter:
cold start is the wall time from starting it to its first answer (interpreter, imports, model
load, one clip); warm is the mean per clip, file to answer (decoding included), after that.
Each system is timed only once the one timed before it has gone idle: ONNX Runtime's threads
keep spinning after an answer (vibenet's used 0.09 CPU-seconds of the 50 ms after each, on both
cores), which would otherwise be charged to whichever system comes next.
``--engine`` picks mood's forward pass (``bench.onnx_path.ENGINES``): ``bf16`` and ``f32`` (as
shipped: ``Predictor``, each network's checked-in export run by OpenVINO at that
``MOOD_PRECISION``; ``bf16`` is the default where the CPU has it), ``torch`` (each network's torch
module, as shipped before issue 20), ``onnxruntime`` (the exports in ONNX Runtime fp32, as first
shipped for issue 20) and ``onnxruntime-int8`` (made by ``python -m bench.onnx_variants``). The
hybrid has no torch or ONNX Runtime row (its head is no network).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.onnx_path import ENGINES, SERVED_ENGINES, has_network_members
from mood.constants import ENSEMBLE, MODEL_NAMES, SAMPLE_RATE
from mood.engine.audio import ffmpeg_executable

PEER = "vibenet==0.1.0"
PEER_SYSTEM = "vibenet 0.1.0 (ONNX Runtime)"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "mood-bench-vibenet"
DATA_4Q = Path("/work/shared/data/4q")
CLIP_S = 30.0
MP3_BITRATE = "128k"
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
INT8_SUFFIX = ".int8"
PIP_TIMEOUT_S = 900
SETTLE_POLL_S = 0.02  # a worker is idle once it used no CPU over this long (the kernel counts in 10 ms ticks)
SETTLE_MAX_S = 1.0  # wait no longer than this for a worker to go idle
RUN_TIMEOUT_S = 1800
REPO = Path(__file__).resolve().parents[1]

# Each worker answers the first clip, prints the wall time it did, then times each path it reads
# from stdin (one per line) and prints the seconds, until stdin closes.
_SERVE = """
predict(sys.argv[-1])
print(time.time(), flush=True)
for line in sys.stdin:
    started = time.perf_counter()
    predict(line.strip())
    print(time.perf_counter() - started, flush=True)
"""

PEER_WORKER = (
    """
import socket, sys, time

def _offline(*args, **kwargs):
    raise OSError("network cut off by bench.peers")

socket.socket.connect = _offline
socket.create_connection = _offline
import vibenet
predict = vibenet.load_model().predict
"""
    + _SERVE
)

MOOD_WORKER = (
    """
import sys, time
engine, model, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
from mood.engine.serving import PRECISION_ENV, SERVED_PRECISIONS
if engine in SERVED_PRECISIONS:  # as shipped: mood's package only (no bench module, no torch)
    import os
    os.environ[PRECISION_ENV] = engine
    from mood.engine.inference import Predictor
    predict = Predictor(model, threads=threads).predict
else:
    from bench.onnx_path import engine_predict
    predict = engine_predict(engine, model, threads)
"""
    + _SERVE
)


class Worker:
    """A system in its own interpreter, timed from its start to its first answer, then fed clips."""

    def __init__(self, system: str, command: list[str], first_clip: Path, log: Path) -> None:
        self.system = system
        self.log = log
        self.seconds: list[float] = []
        started = time.time()
        with log.open("w") as err:
            self.process = subprocess.Popen(
                [*command, str(first_clip)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                cwd=REPO,
            )  # fmt: skip
        ready = self._reply()
        self.cold_start_s = None if ready is None else ready - started
        self.wait_until_idle()  # before the next system starts

    def _reply(self) -> float | None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        return float(line) if line.strip() else None

    def failure(self) -> str:
        """The last line the worker wrote to stderr (after it stopped)."""
        self.process.wait(timeout=RUN_TIMEOUT_S)
        return (self.log.read_text().strip().splitlines() or ["no output"])[-1]

    def time_clip(self, clip: Path) -> None:
        """Have the worker answer ``clip`` and record its seconds.

        Raises:
            RuntimeError: the worker stopped.
        """
        assert self.process.stdin is not None
        self.process.stdin.write(f"{clip}\n")
        self.process.stdin.flush()
        seconds = self._reply()
        if seconds is None:
            raise RuntimeError(f"{self.system} stopped: {self.failure()}")
        self.seconds.append(seconds)

    def wait_until_idle(self) -> None:
        """Return once the worker's process used no CPU over ``SETTLE_POLL_S`` (at most ``SETTLE_MAX_S``)."""
        deadline = time.monotonic() + SETTLE_MAX_S
        used = cpu_ticks(self.process.pid)
        while time.monotonic() < deadline:
            time.sleep(SETTLE_POLL_S)
            now = cpu_ticks(self.process.pid)
            if now is None or now == used:
                return
            used = now

    def close(self) -> None:
        """End the worker (it exits when its stdin closes)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=RUN_TIMEOUT_S)


def cpu_ticks(pid: int) -> int | None:
    """User and system CPU time a process (all its threads) has used, in clock ticks (None: unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)


def peer_python(venv: Path) -> Path | str:
    """The venv's python with vibenet installed (installing it if needed), or why it could not be."""
    python = venv / "bin" / "python"
    if python.is_file() and subprocess.run([python, "-c", "import vibenet"], capture_output=True).returncode == 0:
        return python
    print(f"Installing {PEER} into {venv} (once) ...", flush=True)
    steps = [[sys.executable, "-m", "venv", str(venv)], [str(python), "-m", "pip", "install", "-q", PEER]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
        if done.returncode != 0:
            return (done.stderr.strip().splitlines() or ["unknown error"])[-1]
    return python


def make_clips(folder: Path, n_clips: int, data: Path) -> str:
    """Write ``n_clips`` 30 s MP3s to ``folder``; returns where they came from."""
    ffmpeg = ffmpeg_executable()
    if (data / "metadata.csv").is_file():
        rows = sorted(csv.DictReader((data / "metadata.csv").open()), key=lambda r: r["song_id"])
        per_quadrant = -(-n_clips // len(QUADRANTS))
        picked = [r for q in QUADRANTS for r in [r for r in rows if r["quadrant"] == q][:per_quadrant]][:n_clips]
        sources = [data / r["path"] for r in picked]
        origin = f"{len(sources)} real songs of the 4Q data set ({data}), {per_quadrant} per quadrant"
    else:
        print(f"The 4Q data set is not at {data} (pass --data): timing on synthetic clips instead (speed only).")
        sources = [synthetic_wav(folder / f"synthetic{i:02d}.wav", seed=i) for i in range(n_clips)]
        origin = f"{n_clips} synthetic clips (the 4Q data set was not found)"
    for i, source in enumerate(sources):
        command = [ffmpeg, "-nostdin", "-y", "-loglevel", "error", "-i", str(source), "-t", str(CLIP_S)]
        subprocess.run([*command, "-b:a", MP3_BITRATE, str(folder / f"clip{i:02d}.mp3")], check=True)
    return origin


def synthetic_wav(path: Path, seed: int) -> Path:
    """A 30 s stereo wav of chords over noise, different for each seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(CLIP_S * SAMPLE_RATE)) / SAMPLE_RATE
    root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
    chords = sum(np.sin(2 * np.pi * root * ratio * t) for ratio in (1.0, 1.26, 1.5))
    left = 0.1 * chords + 0.02 * rng.standard_normal(t.size)
    sf.write(path, np.stack([left, left[::-1]], axis=1).astype(np.float32), SAMPLE_RATE)
    return path


def int8_missing() -> str | None:
    """None when the int8 quantisations exist, else what to do."""
    from bench.onnx_path import INT8, onnx_path
    from mood.engine.weights import member_names

    for name in member_names(ENSEMBLE):
        if not (path := onnx_path(name, INT8)).is_file():
            return f"{path} is missing: make it with python -m bench.onnx_variants (needs the 4Q data)."
    return None


def start_workers(args: argparse.Namespace, first_clip: Path, logs: Path) -> list[Worker]:
    """Start vibenet (if it installs and runs offline) and each mood model per engine, one after the other."""
    workers: list[Worker] = []
    python = peer_python(args.venv)
    if isinstance(python, str):
        print(f"vibenet skipped: installing {PEER} failed ({python}).")
    else:
        peer = Worker(PEER_SYSTEM, [str(python), "-c", PEER_WORKER], first_clip, logs / "vibenet.log")
        if peer.cold_start_s is None:
            print(f"vibenet skipped: it failed with the network cut off ({peer.failure()}); it may fetch weights.")
        else:
            workers.append(peer)
    threads = os.cpu_count() or 1
    for engine in args.engine.split(","):
        if engine == "onnxruntime-int8" and (problem := int8_missing()):
            print(f"mood {engine} skipped: {problem}")
            continue
        for model in args.models.split(","):
            if engine not in SERVED_ENGINES and not has_network_members(model):
                continue
            command = [sys.executable, "-c", MOOD_WORKER, engine, model, str(threads)]
            worker = Worker(f"mood {model} ({engine})", command, first_clip, logs / f"{model}-{engine}.log")
            if worker.cold_start_s is None:
                print(f"{worker.system} failed: {worker.failure()}")
            else:
                workers.append(worker)
    return workers


def import_seconds(module: str) -> float:
    """Wall seconds a fresh interpreter takes to import ``module``, beyond starting up."""

    def wall(code: str) -> float:
        started = time.time()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
        return time.time() - started

    return wall(f"import {module}") - wall("pass")


def main() -> None:
    """Make the clips, start every system, time them on each clip in turn, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engine", default="torch,onnxruntime,f32,bf16", help=f"comma-separated, of {', '.join(ENGINES)}"
    )
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--data", type=Path, default=DATA_4Q)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="throwaway venv for the peer")
    parser.add_argument("--models", default=",".join(MODEL_NAMES), help="mood models, comma-separated")
    args = parser.parse_args()
    if unknown := set(args.engine.split(",")) - set(ENGINES):
        sys.exit(f"Unknown engine {', '.join(sorted(unknown))}; choose from {', '.join(ENGINES)}.")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        origin = make_clips(folder, args.clips, args.data)
        clips = sorted(folder.glob("clip*.mp3"))
        print(f"Clips: {origin}; {CLIP_S:.0f} s MP3 at {MP3_BITRATE}b/s.", flush=True)
        workers = start_workers(args, clips[0], folder)
        try:
            for clip in clips:  # every system on each clip in turn: a busy spell hits them all alike
                for worker in workers:
                    worker.time_clip(clip)
                    worker.wait_until_idle()  # so that its leftover work is not charged to the next
        except RuntimeError as e:
            sys.exit(str(e))
        finally:
            for worker in workers:
                worker.close()
    print_table(workers, len(clips))
    print(
        f"\nThe f32 and bf16 rows import no torch (serving does not need it); the torch rows do, and "
        f"importing torch alone takes {import_seconds('torch'):.1f} s, part of their cold start."
    )


def print_table(workers: list[Worker], n_clips: int) -> None:
    """The issue's table, with ratios to vibenet when it ran."""
    peer = next((w for w in workers if w.system == PEER_SYSTEM), None)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nWarm, file to answer (decoding included), mean of {n_clips} clips, each system timed once the one "
        f"before it went idle; load average {load}.\n"
    )
    print("| system | s per clip | vs vibenet | cold start (start to first answer) |")
    print("|---|---|---|---|")
    for w in workers:
        per_clip = float(np.mean(w.seconds))
        ratio = f"{per_clip / np.mean(peer.seconds):.1f}x" if peer else "n/a"
        print(f"| {w.system} | {per_clip:.3f} | {ratio} | {w.cold_start_s:.1f} s |")


if __name__ == "__main__":
    main()
