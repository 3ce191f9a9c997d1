"""A music library on one machine: decode ahead in threads while the model judges; one file's
failure becomes its error result and never stops the run. :mod:`mood.batch.ray` does the same on a
Ray cluster; both write with :mod:`mood.batch.sinks`."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mood.batch.results import Result
from mood.engine.descriptors import Descriptors, describe
from mood.engine.serving import set_session_threads, usable_cores
from mood.errors import MoodError

if TYPE_CHECKING:
    from mood.engine.audio import DecodedAudio
    from mood.engine.inference import Prediction

log = logging.getLogger(__name__)

DECODE_WORKERS = 2  # threads decoding ahead of the model
DECODE_AHEAD_PER_WORKER = 2  # decoded (or decoding) songs held per thread: memory stays flat
UNEXPECTED = "Unexpected error while analysing this file ({}); the other files are not affected. Please report it."


class SongPredictor(Protocol):
    """What judges a clip: a :class:`mood.engine.inference.Predictor` (or a test's stand-in)."""

    def predict(self, source: DecodedAudio) -> Prediction:
        """The prediction for a decoded song (mono samples at ``SAMPLE_RATE``, and whether it was cut)."""
        ...


@dataclass(frozen=True)
class Heard:
    """What a song gives before any model judges it: its decoded samples and its descriptors
    (None when the run asked for moods only)."""

    decoded: DecodedAudio
    descriptors: Descriptors | None


def hear(path: Path, with_descriptors: bool = True) -> Heard:
    """Decode ``path`` and (unless ``with_descriptors`` is False) measure its descriptors: the work
    of a song that needs no model, which a library run does in its decoding threads while the
    networks judge the song before.

    Raises:
        AudioError: undecodable, too short or silent audio.
    """
    from mood.engine.features import decode

    decoded = decode(path)
    return Heard(decoded, describe(decoded.samples) if with_descriptors else None)


def result_of(path: str | Path, predictor: SongPredictor, load: Callable[[], Heard] | None = None) -> Result:
    """Decode and judge one file; any failure becomes an error result, never an exception.

    Args:
        path: the audio file.
        predictor: loaded once for the whole run.
        load: returns the song as heard (e.g. :func:`hear` already running in a thread:
            ``future.result``); default: :func:`hear` ``path`` now.
    """
    name = str(path)
    try:
        heard = load() if load is not None else hear(Path(path))
        prediction = predictor.predict(heard.decoded)
    except MoodError as e:
        return Result.failed(name, str(e))
    except Exception as e:  # one bad file never stops a library run
        log.exception("unexpected error analysing %s", name)
        return Result.failed(name, UNEXPECTED.format(f"{type(e).__name__}: {e}"))
    return Result.of(name, prediction, heard.descriptors)


@contextmanager
def network_threads(n_threads: int) -> Iterator[None]:
    """Run the networks' forward passes on ``n_threads`` threads (the compiled models that
    follow the process setting: each thread count gets its own, kept), then restore the setting."""
    previous = set_session_threads(n_threads)
    try:
        yield
    finally:
        set_session_threads(previous)


def run_library(
    paths: Iterable[str | Path],
    predictor: SongPredictor,
    *,
    workers: int = DECODE_WORKERS,
    ahead: int | None = None,
    model_threads: int | None = None,
    with_descriptors: bool = True,
) -> Generator[Result, None, None]:
    """Judge every file, in input order, decoding the next ones (and measuring their descriptors,
    :func:`hear`) in threads meanwhile.

    At most ``ahead`` songs are decoded (or decoding) beyond the one being judged, so memory
    stays flat however long the library is.

    Args:
        paths: audio files, consumed lazily.
        predictor: loaded once; judges one song at a time (its networks use every core).
        workers: decoding threads.
        ahead: decodes allowed to run ahead (default ``workers * DECODE_AHEAD_PER_WORKER``).
        model_threads: the networks' threads while the run lasts (default: every core; the
            decoding threads' work, decoding and descriptors, runs beside them: 152 songs/min
            with the ensemble on 2 idle cores, README's library section; when another process
            keeps the cores busy, fewer threads can be faster); the previous setting is restored after.
        with_descriptors: measure each song's descriptors too (False: moods only, about twice
            as many songs a minute).

    Yields:
        One :class:`Result` per input, in input order.
    """
    limit = ahead if ahead is not None else workers * DECODE_AHEAD_PER_WORKER
    remaining = iter(paths)
    pending: deque[tuple[str | Path, Future[Heard]]] = deque()
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="mood-decode")

    def submit_next() -> None:
        for path in remaining:
            pending.append((path, pool.submit(hear, Path(path), with_descriptors)))
            return

    threads = model_threads or usable_cores()
    try:
        for _ in range(max(1, limit)):
            submit_next()
        with network_threads(threads):
            while pending:
                path, hearing = pending.popleft()
                submit_next()
                yield result_of(path, predictor, hearing.result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
