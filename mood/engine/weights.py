"""The weights registry: where the shipped weights are, their typed manifests, and the served networks.

The shipped weights are package data, `mood/weights/` (read through ``importlib.resources``, so an
installed wheel finds its own copy); ``--weights-dir`` or ``$MOOD_WEIGHTS_DIR`` name another folder.

Serving runs each network's ONNX export (:func:`load_onnx_network`, checked against the manifest's
``onnx.sha256`` and labels, cached per process and folder). This module imports no torch: the
torch modules (training, tests, exports) are :mod:`mood.engine.torch_weights`.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path

from mood.constants import ENSEMBLE, MOODS
from mood.engine.manifest import (
    EnsembleManifest,
    Manifest,
    NetworkManifest,
    SharedExport,
    manifest_dict,
    read_manifest_file,
)
from mood.engine.serving import OnnxNetwork
from mood.errors import ModelError

WEIGHTS_PACKAGE_DIR = "weights"  # the shipped weights' folder inside the mood package (pyproject.toml's package-data)
# A wheel installs unpacked, so the package's resources are a real folder (torch.load needs a path).
SHIPPED_WEIGHTS_DIR = Path(str(resources.files("mood") / WEIGHTS_PACKAGE_DIR))
BACKBONES_SUBDIR = "backbones"  # sub-folder of converted pretrained networks (not mood models)
WEIGHTS_DIR_ENV = "MOOD_WEIGHTS_DIR"  # overrides the shipped folder (deployments, tests)


def resolve_weights_dir(weights_dir: Path | None = None) -> Path:
    """``weights_dir`` if given, else ``$MOOD_WEIGHTS_DIR`` if set, else the shipped weights."""
    if weights_dir is not None:
        return Path(weights_dir)
    return Path(os.environ.get(WEIGHTS_DIR_ENV) or SHIPPED_WEIGHTS_DIR)


def available_models(weights_dir: Path | None = None) -> list[str]:
    """Names of the mood models whose manifests are in ``weights_dir`` (the ensemble included)."""
    return sorted(p.stem for p in resolve_weights_dir(weights_dir).glob("*.json"))


def read_manifest(name: str, weights_dir: Path | None = None) -> Manifest:
    """The typed manifest `weights_dir/<name>.json`.

    Raises:
        ModelError: no such model (the message lists the available ones), or an invalid manifest.
    """
    folder = resolve_weights_dir(weights_dir)
    path = folder / f"{name}.json"
    if not path.is_file():
        available = ", ".join(available_models(folder)) or "none"
        raise ModelError(f"No model named {name!r} in {folder}. Available: {available}.")
    return read_manifest_file(path)


def read_network_manifest(name: str, weights_dir: Path | None = None) -> NetworkManifest:
    """The manifest of one network (not the ensemble).

    Raises:
        ModelError: as :func:`read_manifest`, or ``name`` is an ensemble.
    """
    manifest = read_manifest(name, weights_dir)
    if not isinstance(manifest, NetworkManifest):
        raise ModelError(
            f"{name!r} combines other models ({', '.join(manifest.members)}); it has no weights of its own."
        )
    return manifest


def read_ensemble_manifest(weights_dir: Path | None = None) -> EnsembleManifest:
    """The ensemble's manifest.

    Raises:
        ModelError: it is missing or invalid.
    """
    manifest = read_manifest(ENSEMBLE, weights_dir)
    if not isinstance(manifest, EnsembleManifest):
        raise ModelError(f"{ENSEMBLE}.json does not list the ensemble's members; restore it from the repository.")
    return manifest


def member_names(name: str, weights_dir: Path | None = None) -> list[str]:
    """The networks behind a model name: the ensemble's members, else the name itself."""
    manifest = read_manifest(name, weights_dir)
    return list(manifest.members) if isinstance(manifest, EnsembleManifest) else [name]


_load_lock = threading.Lock()


def load_onnx_network(name: str, weights_dir: Path | None = None, threads: int | None = None) -> OnnxNetwork:
    """The network ``name`` served from its ONNX export (cached per process, folder and ``threads``).

    Args:
        name: a network (not the ensemble).
        weights_dir: as :func:`resolve_weights_dir`.
        threads: intra-op threads of its forward passes (None: the process setting,
            :func:`mood.engine.serving.set_session_threads`).

    Raises:
        ModelError: an ensemble name, no export recorded, a missing export, a sha256 or label mismatch.
    """
    with _load_lock:
        return _load_onnx_cached(name, resolve_weights_dir(weights_dir).resolve(), threads)


@cache
def _load_onnx_cached(name: str, weights_dir: Path, threads: int | None) -> OnnxNetwork:
    manifest = _servable_manifest(name, weights_dir)
    assert manifest.onnx is not None  # _servable_manifest checked it
    served = OnnxNetwork(manifest, weights_dir / manifest.onnx.file, manifest.onnx.sha256, threads)
    served.compiled()  # verify and build it now: a bad file fails at load, not at the first song
    return served


def _servable_manifest(name: str, weights_dir: Path) -> NetworkManifest:
    """``name``'s manifest, once its labels and its export record are checked.

    Raises:
        ModelError: other labels, or no export recorded.
    """
    manifest = read_network_manifest(name, weights_dir)
    if manifest.labels != list(MOODS):
        raise ModelError(f"Model {name!r} predicts {manifest.labels} but this version of mood expects {list(MOODS)}.")
    if manifest.onnx is None:
        raise ModelError(
            f"{name}.json records no ONNX export of the network; "
            f"export it with python -m mood.engine.onnx_check {name} --ship --weights-dir {weights_dir}."
        )
    return manifest


def load_shared_network(
    shared: SharedExport, weights_dir: Path | None = None, threads: int | None = None
) -> OnnxNetwork:
    """The ensemble's shared export served as its network member (its ``logits``; its
    ``patch_outputs`` are the hybrid member's), cached like :func:`load_onnx_network`.

    Raises:
        ModelError: the two members hear different front ends, a missing export, a sha256 or label mismatch.
    """
    with _load_lock:
        return _load_shared_cached(shared, resolve_weights_dir(weights_dir).resolve(), threads)


@cache
def _load_shared_cached(shared: SharedExport, weights_dir: Path, threads: int | None) -> OnnxNetwork:
    network = _servable_manifest(shared.network, weights_dir)  # its own export is not compiled: this one serves it
    if read_network_manifest(shared.hybrid, weights_dir).features != network.features:
        raise ModelError(f"ensemble.json shares one export between {shared.network} and {shared.hybrid}, "
                         "which hear different front ends; score the ensemble again.")  # fmt: skip
    served = OnnxNetwork(network, weights_dir / shared.file, shared.sha256, threads)
    served.compiled()
    return served


def clear_cache() -> None:
    """Forget every served network (after weights on disk changed)."""
    _load_onnx_cached.cache_clear()
    _load_shared_cached.cache_clear()


def write_manifest(manifest: Manifest, weights_dir: Path) -> None:
    """Write a manifest as readable JSON to `weights_dir/<name>.json`."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = weights_dir / f"{manifest.name}.json"
    partial = path.with_name(path.name + ".partial")  # renamed into place: never a torn manifest
    partial.write_text(json.dumps(manifest_dict(manifest), indent=2) + "\n")
    partial.replace(path)


def now_iso() -> str:
    """The current UTC time, to the second, for manifests."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
