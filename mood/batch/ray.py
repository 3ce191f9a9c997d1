"""A music library beyond one machine: the same analysis on a Ray cluster, with Ray Data.

``mood analyze --ray [ADDRESS]``: the paths become a Ray dataset; a pool of
:class:`PredictorActor` workers (each loads the models once) judges them in batches with
:func:`mood.batch.run.result_of`, the function the one-machine path uses; the results stream
back to the driver in input order and go through the same sinks.

Without an address (and without ``RAY_ADDRESS``) a local Ray instance is started on this
machine for this run only, listening on loopback. On a cluster, every node must have this package installed and
reach the audio files (and any ``--weights-dir``) at the same paths as the driver.

Ray is optional: ``pip install -e '.[scale]'``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Generator, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mood.batch.results import Result
from mood.batch.run import hear, result_of
from mood.engine.serving import usable_cores
from mood.errors import MoodError

RAY_MISSING = "--ray needs Ray, which is not installed: install the scale extra: pip install -e '.[scale]'"
RAY_ADDRESS_ENV = "RAY_ADDRESS"  # Ray's own variable: a cluster to connect to
USAGE_STATS_ENV = "RAY_USAGE_STATS_ENABLED"  # "0": Ray sends no usage statistics anywhere
SONGS_PER_BATCH = 8  # songs one worker judges per call
SONGS_PER_BLOCK = 64  # songs per block of the input dataset (Ray's unit of scheduling)
BLOCKS_PER_WORKER = 2  # at least this many blocks per worker, so small runs use every worker
CPUS_PER_WORKER = 1  # each worker's models run on one core; Ray places one worker per CPU
MULTI_NODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's node address is loopback (local runs)
LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2  # paths and JSON results are small; audio stays in the workers
RAY_LOG_LEVEL = logging.WARNING  # keep Ray's start-up chatter off stderr (the progress bar is there)
WORKER_MOOD_ERROR = re.compile(r"^mood\.errors\.\w+: (.+)$", re.MULTILINE)  # how a worker's MoodError reads


def import_ray(local: bool = False) -> Any:
    """The ``ray`` module with Ray Data, usage statistics off.

    Args:
        local: a local instance will be started: make it listen on loopback only (as Ray
            does on macOS and Windows) rather than on this machine's network address. Ray
            reads this when it is first imported.

    Raises:
        MoodError: Ray is not installed.
    """
    os.environ.setdefault(USAGE_STATS_ENV, "0")
    if local:
        os.environ.setdefault(MULTI_NODE_ENV, "0")
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise MoodError(RAY_MISSING) from e
    return ray


def connect(ray: Any, address: str | None) -> bool:
    """Connect to ``address``, else to ``$RAY_ADDRESS``, else start a local instance.

    Worker output is not forwarded to the driver: stdout carries only the results.

    Returns:
        True if this call connected (the caller shuts down), False if Ray was already up.

    Raises:
        MoodError: the cluster could not be reached.
    """
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": RAY_LOG_LEVEL}
    target = address or os.environ.get(RAY_ADDRESS_ENV)
    try:
        if target:
            ray.init(address=address or None, **options)
        else:
            ray.init(
                address="local",
                num_cpus=usable_cores(),
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                **options,
            )
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise MoodError(
            f"Could not reach the Ray cluster at {target}: {e}. Start one with `ray start --head` "
            f"and pass its address (or set {RAY_ADDRESS_ENV})."
            if target
            else f"Could not start a local Ray instance: {e}"
        ) from e
    return True


class PredictorActor:
    """A Ray Data worker: loads the models once, then judges batches of paths.

    Args:
        model: a model id, e.g. ``"ensemble"``.
        weights_dir: an absolute folder every node can read, or None for each node's
            ``$MOOD_WEIGHTS_DIR`` / shipped weights.
        with_descriptors: measure each song's descriptors too (False: moods only).
    """

    def __init__(self, model: str, weights_dir: str | None, with_descriptors: bool = True) -> None:
        from mood.engine.inference import Predictor

        self.predictor = Predictor(model, Path(weights_dir) if weights_dir else None)
        self.with_descriptors = with_descriptors

    def __call__(self, batch: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """``{"index", "path"}`` columns in (paths as their bytes: any name travels); ``{"index",
        "record"}`` (each result's JSON) out."""
        names = [os.fsdecode(bytes(path)) for path in batch["path"]]
        records = [
            result_of(name, self.predictor, partial(hear, Path(name), self.with_descriptors)).to_json()
            for name in names
        ]
        return {"index": np.asarray(batch["index"], dtype=np.int64), "record": np.asarray(records, dtype=object)}


def worker_weights_dir(weights_dir: Path | None) -> str | None:
    """The folder to hand the workers: an explicit one (argument or ``$MOOD_WEIGHTS_DIR``)
    made absolute; None for the shipped weights, which each node finds beside its own package."""
    from mood.engine.weights import WEIGHTS_DIR_ENV, resolve_weights_dir

    if weights_dir is None and not os.environ.get(WEIGHTS_DIR_ENV):
        return None
    return str(resolve_weights_dir(weights_dir).resolve())


def check_model(model: str, weights_dir: Path | None) -> None:
    """Load the model once on the driver, before any worker starts, so that a wrong model
    fails as it does without Ray (one line, exit 2) rather than in every worker.

    Raises:
        ModelError: an unknown model, an invalid manifest, or weights that fail verification.
    """
    from mood.engine.inference import Predictor

    Predictor(model, weights_dir)


def n_blocks(n_songs: int, n_workers: int) -> int:
    """Blocks to cut the input into: about ``SONGS_PER_BLOCK`` songs each, enough for every worker."""
    return max(1, min(n_songs, max(math.ceil(n_songs / SONGS_PER_BLOCK), n_workers * BLOCKS_PER_WORKER)))


def run_on_ray(
    paths: Sequence[str | Path],
    model: str,
    weights_dir: Path | None = None,
    *,
    address: str | None = None,
    workers: int | None = None,
    batch_size: int = SONGS_PER_BATCH,
    with_descriptors: bool = True,
) -> RayResults:
    """Judge every file on a Ray cluster; the returned iterator yields one :class:`Result`
    per input, in input order, as the workers finish them.

    Ray is imported and reached, and the model loaded once on the driver to check it, before
    this returns (so a missing Ray, a wrong address or a bad model fails before any output is
    opened); iterating runs the analysis, and its end
    (or closing it early) disconnects from Ray, stopping a local instance.

    Args:
        paths: audio files, readable at these paths on every node.
        model: a model id.
        weights_dir: as for :class:`mood.engine.inference.Predictor`.
        address: a Ray cluster (``host:port``, ``ray://host:port``, ``auto``); default
            ``$RAY_ADDRESS``, else a local instance started for this run.
        workers: model replicas (default: one per CPU of the cluster).
        batch_size: songs per worker call.
        with_descriptors: measure each song's descriptors too (False: moods only).

    Raises:
        MoodError: Ray is missing, the cluster cannot be reached, the models fail to load,
            or the run fails (a per-file failure is a result, never an exception).
    """
    ray = import_ray(local=not (address or os.environ.get(RAY_ADDRESS_ENV)))
    check_model(model, weights_dir)
    owns_connection = connect(ray, address)
    try:
        dataset = _dataset(
            ray,
            [os.fsencode(p) for p in paths],
            model,
            worker_weights_dir(weights_dir),
            workers,
            batch_size,
            with_descriptors,
        )
    except BaseException:
        if owns_connection:
            ray.shutdown()
        raise
    return RayResults(ray, dataset, len(paths), owns_connection)


def _dataset(
    ray: Any,
    paths: list[bytes],
    model: str,
    weights_dir: str | None,
    workers: int | None,
    batch_size: int,
    with_descriptors: bool,
) -> Any:
    """The lazy Ray dataset of ``{"index", "record"}`` rows (a ``ray.data.Dataset``)."""
    n_workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1) // CPUS_PER_WORKER))
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True
    logging.getLogger("ray.data").setLevel(RAY_LOG_LEVEL)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled": ours is on
    items = [{"index": i, "path": path} for i, path in enumerate(paths)]
    return ray.data.from_items(items, override_num_blocks=n_blocks(len(paths), n_workers)).map_batches(
        PredictorActor,
        fn_constructor_kwargs={"model": model, "weights_dir": weights_dir, "with_descriptors": with_descriptors},
        compute=ray.data.ActorPoolStrategy(size=n_workers),
        batch_size=batch_size,
        num_cpus=CPUS_PER_WORKER,
    )


class RayResults(Iterator[Result]):
    """The results of a Ray run as they come, in input order; exhausting or closing it
    disconnects from Ray (stopping a local instance) if this run connected."""

    def __init__(self, ray: Any, dataset: Any, n_inputs: int, owns_connection: bool) -> None:
        self.ray = ray
        self.owns_connection = owns_connection
        self.results = in_input_order(dataset.iter_rows(), n_inputs)

    def __next__(self) -> Result:
        try:
            return next(self.results)
        except self.ray.exceptions.RayError as e:
            self.close()
            raise MoodError(f"The Ray run failed: {root_cause(e)}") from e
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the run and disconnect (once)."""
        self.results.close()
        if self.owns_connection:
            self.owns_connection = False
            self.ray.shutdown()


def in_input_order(rows: Iterator[dict[str, Any]], n_inputs: int) -> Generator[Result, None, None]:
    """Results by their ``index`` column, in order (rows that arrive early wait in a buffer).

    Raises:
        MoodError: fewer than ``n_inputs`` results came back.
    """
    waiting: dict[int, Result] = {}
    next_index = 0
    for row in rows:
        waiting[int(row["index"])] = Result.from_json(str(row["record"]))
        while next_index in waiting:
            yield waiting.pop(next_index)
            next_index += 1
    if next_index != n_inputs:
        raise MoodError(
            f"The Ray run returned {next_index} of {n_inputs} results in order; run it again with --out and --resume."
        )


def root_cause(error: BaseException) -> str:
    """The message of the mood error behind a Ray error (e.g. a worker's ModelError), else
    the first line of Ray's own message."""
    text = str(error)
    ours = WORKER_MOOD_ERROR.findall(text)
    if ours:
        return str(ours[-1]).strip()
    first = text.strip().splitlines()[:1] or [""]
    return f"{type(error).__name__}: {first[0]}"
