"""How quick the app's Library tab is with a large results file; prints the figures.

    .venv/bin/python -m bench.library_view [--rows 100000] [--repeats 5]

Writes a synthetic Parquet results file of ``--rows`` songs (the library's own sink, about
1 % failures), then times each step the tab takes: reading it into the frame (once per file:
the app caches it), the cache's copy on every rerun (``st.cache_data`` pickles), filtering,
counting, building the map's spec (what ``st.altair_chart`` serialises), the table as Arrow
(what ``st.dataframe`` sends) and the M3U8 playlist of the filtered songs. Best of
``--repeats`` for the per-rerun steps.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa

from mood.batch.sinks import read_rows
from mood.constants import MOODS
from mood.presentation.charts import mood_map
from mood.presentation.collection import (
    Catalogue,
    Filters,
    catalogue,
    collection_chart,
    mood_counts,
    playlist_bytes,
    table_frame,
)
from tests.library_rows import synthetic_records, write_results

T = TypeVar("T")
FILTERS = {
    "none": Filters(),
    "calm, confident, 60-120 BPM": Filters(moods=("calm",), min_top_probability=0.5, tempo_bpm=(60.0, 120.0)),
    "one key": Filters(keys=("A minor",)),
}


def timed(step: Callable[[], T], repeats: int) -> tuple[T, float]:
    """The step's result and its best wall time over ``repeats`` runs, in ms."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = step()
        best = min(best, time.perf_counter() - start)
    return result, best * 1000


def main(argv: list[str] | None = None) -> None:
    """Write the synthetic file, time each step, print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="songs in the results file")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each per-rerun step (the best is shown)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = write_results(Path(folder) / "results.parquet", synthetic_records(args.rows, Path("/music")))
        size_mb = path.stat().st_size / 1e6
        print(f"wrote {args.rows:,} rows ({size_mb:.1f} MB of Parquet) in {time.perf_counter() - start:.1f} s")
        shelf, load_ms = timed(lambda: catalogue(read_rows(path)), 1)
    counted = f"{len(shelf.songs):,} songs, {len(shelf.failures):,} failed"
    print(f"read into the frame (once per file):  {load_ms:6.0f} ms ({counted})")
    pickled = pickle.dumps(shelf)
    _, copy_ms = timed(lambda: pickle.loads(pickled), args.repeats)
    print(f"the cached frame's copy (each rerun): {copy_ms:6.0f} ms ({len(pickled) / 1e6:.1f} MB pickled)")
    twelve = pd.DataFrame({"song": list("ABCDEFGHIJKL"), "mood": list(MOODS) * 3, "valence": 0.1, "arousal": 0.2})
    _, reference_ms = timed(lambda: mood_map(twelve).to_dict(), args.repeats)
    print(f"for scale, the app's mood map of 12 songs: spec in {reference_ms:.0f} ms")
    for name, filters in FILTERS.items():
        rerun(shelf, name, filters, args.repeats)


def rerun(shelf: Catalogue, name: str, filters: Filters, repeats: int) -> None:
    """Time the per-rerun steps for one set of filters."""
    songs, filter_ms = timed(lambda: filters.apply(shelf.songs), repeats)
    _, count_ms = timed(lambda: mood_counts(songs), repeats)
    spec, chart_ms = timed(lambda: collection_chart(songs).to_dict(), repeats)
    table, table_ms = timed(lambda: pa.Table.from_pandas(table_frame(songs), preserve_index=False), repeats)
    playlist, playlist_ms = timed(lambda: playlist_bytes(songs, None), repeats)
    points = sum(len(rows) for rows in spec["datasets"].values())
    print(f"filters: {name} -> {len(songs):,} songs")
    print(f"  filter {filter_ms:.1f} ms, counts {count_ms:.1f} ms, map spec {chart_ms:.0f} ms ({points:,} data rows)")
    print(f"  table as Arrow {table_ms:.0f} ms ({table.nbytes / 1e6:.1f} MB)")
    print(f"  playlist {playlist_ms:.0f} ms ({len(playlist) / 1e6:.1f} MB; made only when downloaded)")


if __name__ == "__main__":
    main()
