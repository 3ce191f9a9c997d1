"""Synthetic results files of ``mood analyze --out`` (any size, any of the three formats), written
by the library's own sinks: shared by the Library tab's tests, its browser test and bench.library_view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mood.batch.results import Result
from mood.batch.sinks import open_sink
from mood.constants import MOODS
from mood.engine.descriptors import MODES, PITCH_CLASSES

FAILED_SHARE = 0.01  # of the rows: files that could not be read
SONGS_PER_ALBUM = 12
ALBUMS_PER_ARTIST = 3
NOT_AUDIO = "This file could not be read as audio. Try a wav, mp3, ogg, flac, m4a or webm file."


def synthetic_records(n_rows: int, root: Path, seed: int = 0) -> list[dict[str, Any]]:
    """``n_rows`` result records (docs/DESIGN.md's JSON objects) of songs under ``root/Artist i/Album j``:
    random moods, each pulled towards one quadrant, tempos, keys and lengths; about 1 % failures."""
    rng = np.random.default_rng(seed)
    quadrant = rng.integers(0, len(MOODS), n_rows)
    concentration = np.full((n_rows, len(MOODS)), 1.2)  # songs gather around each quadrant's middle
    concentration[np.arange(n_rows), quadrant] += rng.gamma(2.0, 1.5, n_rows)
    probabilities = np.array([rng.dirichlet(c) for c in concentration])
    failed = rng.random(n_rows) < FAILED_SHARE
    records: list[dict[str, Any]] = []
    for i in range(n_rows):
        album = i // SONGS_PER_ALBUM
        folder = root / f"Artist {album // ALBUMS_PER_ARTIST:04d}" / f"Album {album % ALBUMS_PER_ARTIST}"
        path = str(folder / f"{i % SONGS_PER_ALBUM + 1:02d} Song {i}.mp3")
        if failed[i]:
            records.append({"path": path, "error": NOT_AUDIO})
            continue
        p = dict(zip(MOODS, (float(x) for x in probabilities[i]), strict=True))
        records.append(
            {
                "path": path,
                "model": "ensemble",
                "mood": max(p, key=p.__getitem__),
                "probabilities": p,
                "valence": p["happy"] + p["calm"] - p["angry"] - p["sad"],
                "arousal": p["happy"] + p["angry"] - p["sad"] - p["calm"],
                "duration_s": float(rng.uniform(120.0, 360.0)),
                "descriptors": {
                    "tempo_bpm": float(rng.uniform(60.0, 180.0)),
                    "key": str(rng.choice(PITCH_CLASSES)),
                    "mode": str(rng.choice(MODES)),
                    "key_confidence": float(rng.uniform(0.0, 0.5)),
                    "loudness_dbfs": float(rng.uniform(-30.0, -6.0)),
                    "energy": float(rng.uniform(0.0, 1.0)),
                    "brightness_hz": float(rng.uniform(500.0, 4000.0)),
                    "percussiveness": float(rng.uniform(0.0, 1.0)),
                },
            }
        )
    return records


def write_results(out: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` to the results file ``out`` (.jsonl, .csv or .parquet) as ``mood analyze`` does."""
    with open_sink(out) as sink:
        for record in records:
            sink.write(Result(str(record["path"]), record))
    return out
