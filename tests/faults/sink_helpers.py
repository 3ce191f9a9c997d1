"""Faults for the result files: a small tmpfs to fill up or make read-only, tiny songs under
awkward names, fake results, and the real CLI run in a child process (to kill it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mood.batch.results import Result
from mood.constants import MOODS
from mood.engine.audio import DecodedAudio
from mood.engine.descriptors import Descriptors
from mood.engine.inference import Prediction, WindowPrediction

SR = 8_000  # tiny songs: decoding and resampling stay quick
SUFFIXES = (".jsonl", ".csv", ".parquet")
DESCRIPTORS = Descriptors(
    tempo_bpm=96.0, key="A", mode="minor", key_confidence=0.2, loudness_dbfs=-15.0,
    energy=0.4, brightness_hz=1800.0, percussiveness=0.2,
)  # fmt: skip
# Names with every kind of byte a Linux file name may hold (not "/" nor NUL).
AWKWARD_NAMES = (
    b"with space.wav",
    b"new\nline.wav",
    b"tab\there.wav",
    b"\"double\" and 'single' quotes.wav",
    b"comma, semicolon; pipe|.wav",
    "caf\u00e9 \u6b4c \U0001f3b5.wav".encode(),
    b"caf\xe9 latin-1.wav",
    b"\xff\xfe not utf-8 at all.wav",
    b"-leading-dash.wav",
    b"--resume.wav",
    b"back\\slash \\xe9.wav",
    b"percent %41 %.wav",
    b"\x01\x1b control.wav",
)


@contextmanager
def tmpfs(folder: Path, size_bytes: int) -> Iterator[Path]:
    """A tmpfs of ``size_bytes`` mounted on ``folder`` (created) while the block lasts (needs root)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def remount_read_only(folder: Path) -> None:
    """Make the tmpfs on ``folder`` read-only (writes then fail with EROFS, even for root)."""
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


def fill(folder: Path, leave_bytes: int) -> None:
    """Take the free space of ``folder``'s file system but about ``leave_bytes``."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with (folder / "filler").open("wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))


def fake_prediction(seed: int = 0, n_windows: int = 4) -> Prediction:
    """A prediction of random numbers (which Parquet cannot squeeze)."""
    rng = np.random.default_rng(seed)

    def shares() -> dict[str, float]:
        return dict(zip(MOODS, (float(p) for p in rng.dirichlet(np.ones(len(MOODS)))), strict=True))

    timeline = tuple(WindowPrediction(3.0 * i, 3.0 * i + 3.0, shares()) for i in range(n_windows))
    return Prediction("fake", shares(), 3.0 * n_windows, timeline)


def fake_result(name: str, seed: int = 0, n_windows: int = 4) -> Result:
    """A judged song's result (about 1 KB as a JSON line)."""
    return Result.of(name, fake_prediction(seed, n_windows), DESCRIPTORS)


class FastPredictor:
    """Stands in for :class:`mood.engine.inference.Predictor`: random numbers at once, seeded by the samples."""

    def __init__(self, model: str, weights_dir: Path | None = None) -> None:
        self.model = model

    def predict(self, source: DecodedAudio) -> Prediction:
        return fake_prediction(seed=int(np.abs(source.samples).sum() * 1000) % 2**32)


def fast_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the CLI decode every file for real but judge and describe it at once (no networks)."""
    import mood.engine.inference

    monkeypatch.setattr(mood.engine.inference, "Predictor", FastPredictor)
    monkeypatch.setattr(mood.batch.run, "describe", lambda samples: DESCRIPTORS)


def write_song(path: Path, seconds: float = 1.0, seed: int = 0) -> Path:
    """A short noisy chord at ``path``, which may name any bytes (a surrogate-escaped str)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    wav = sum(np.sin(2 * np.pi * f * t) for f in (220.0 * (1 + seed % 5), 277.0, 330.0))
    plain = path.with_name(f"song-{seed}.tmp.wav")  # soundfile wants a name it can encode
    sf.write(plain, (0.2 * wav + 0.01 * rng.normal(0, 1, t.size)).astype(np.float32), SR)
    os.rename(plain, path)
    return path


def songs_named(folder: Path, names: Iterator[bytes] | tuple[bytes, ...]) -> list[Path]:
    """A song under each raw name inside ``folder``, in the given order."""
    folder.mkdir(parents=True, exist_ok=True)
    return [write_song(Path(os.fsdecode(os.fsencode(folder) + b"/" + name)), seed=i) for i, name in enumerate(names)]


def start_cli(*args: str) -> subprocess.Popen[bytes]:
    """``python -m mood analyze ARGS`` in a child process, with one torch thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mood", "analyze", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
