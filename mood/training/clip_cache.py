"""Per-clip caches of what training computes once, filled with each clip decoded once for all of them.

A cache (:class:`ClipCache`) says where a clip's file is and how to write it from the clip's
samples; :func:`fill` decodes each clip that some cache lacks, once, and writes every missing
file from those samples (a clip's musical features, musicnn's frozen patches and its short crops
all come from one decode). Every file is written under a temporary name and renamed once complete
(:func:`written_whole`), so a stopped run leaves no torn file and the next run resumes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from mood.engine.audio import load_audio
from mood.engine.features import FloatArray


class Clip(Protocol):
    """What the caches need of a clip (a :class:`mood.training.dataset.TrainingClip`)."""

    @property
    def song_id(self) -> str: ...

    @property
    def path(self) -> Path: ...


class ClipCache(Protocol):
    """One kind of cached per-clip features."""

    @property
    def label(self) -> str:
        """What the timings call it, e.g. "musical features"."""
        ...

    def path(self, clip: Clip) -> Path:
        """Where ``clip``'s file is kept (it may not exist yet)."""
        ...

    def write(self, clip: Clip, wav: FloatArray) -> None:
        """Compute ``clip``'s features from its samples (mono, ``SAMPLE_RATE``) and write its file."""
        ...


@contextmanager
def written_whole(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to, renamed to ``path`` once the block ends
    without an error: readers see the old file or the whole new one, never a torn one. The name
    is this process's own, so processes writing the same file do not share a partial one."""
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial{path.suffix}")
    yield partial
    partial.replace(path)


def fill(caches: Sequence[ClipCache], clips: Sequence[Clip], desc: str) -> dict[str, list[float]]:
    """Write every cache's missing files, each clip decoded once (``load_audio``) for all of them.

    Returns:
        each cache's ``label`` -> the seconds each file it wrote took (decoding excluded).
    """
    timings: dict[str, list[float]] = {cache.label: [] for cache in caches}
    for clip in tqdm(clips, desc=desc, unit="clip", leave=False, file=sys.stderr):
        missing = [cache for cache in caches if not cache.path(clip).exists()]
        if not missing:
            continue
        wav = load_audio(clip.path)
        for cache in missing:
            started = time.perf_counter()
            cache.write(clip, wav)
            timings[cache.label].append(time.perf_counter() - started)
    return timings
