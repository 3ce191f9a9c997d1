"""The weights registry: save, verify and load `<name>.pt`, its ONNX export `<name>.onnx` and its typed manifest.

The shipped weights are package data, `mood/weights/` (read through ``importlib.resources``, so an
installed wheel finds its own copy); ``--weights-dir`` or ``$MOOD_WEIGHTS_DIR`` name another folder.

Loading checks the file's sha256 and the labels before the state dict is read
(``weights_only``); loaded networks are cached per process and folder. Serving runs the ONNX
export (:func:`load_onnx_network`, checked against the manifest's ``onnx.sha256``); training and
tests run the torch module (:func:`load_network`).
"""

from __future__ import annotations

import io
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from mood.constants import ENSEMBLE, INFERENCE_BATCH_SIZE, MOODS
from mood.engine.features import FloatArray, FrontEnd
from mood.engine.integrity import sha256_of, verified_bytes
from mood.engine.manifest import (
    EnsembleManifest,
    Manifest,
    NetworkManifest,
    OnnxExport,
    manifest_dict,
    read_manifest_file,
)
from mood.engine.models import build_model, config_of
from mood.engine.onnx_export import ONNX_OPSET, export_network
from mood.engine.onnx_runtime import OnnxNetwork
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


@dataclass(frozen=True, eq=False)
class LoadedNetwork:
    """A verified network in eval mode, with its manifest; ``lock`` serialises its forward passes."""

    manifest: NetworkManifest
    network: nn.Module
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        """The model's id, e.g. ``"resnet18"``."""
        return self.manifest.name

    def logits(self, windows: FloatArray) -> npt.NDArray[np.float32]:
        """:func:`network_logits` of the network, one forward pass at a time."""
        with self.lock:
            return network_logits(self.network, windows)


def network_logits(network: nn.Module, windows: FloatArray) -> npt.NDArray[np.float32]:
    """Logits of an eval-mode network for a stack of windows, in batches of ``INFERENCE_BATCH_SIZE``.

    Args:
        network: a model from :func:`mood.engine.models.build_model`, in eval mode.
        windows: float32, shape ``(n_windows, n_mels, window_frames)``.

    Returns:
        float32, shape ``(n_windows, n_outputs)``.
    """
    batches = []
    with torch.inference_mode():
        for start in range(0, len(windows), INFERENCE_BATCH_SIZE):
            batch = torch.from_numpy(np.ascontiguousarray(windows[start : start + INFERENCE_BATCH_SIZE]))
            batches.append(network(batch).float().numpy())
    return np.concatenate(batches).astype(np.float32)


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


def load_network(name: str, weights_dir: Path | None = None) -> LoadedNetwork:
    """Load, verify and cache one mood network (once per process and folder).

    Raises:
        ModelError: an ensemble name, missing files, a sha256 or label mismatch, or weights that do not fit.
    """
    with _load_lock:
        return _load_network_cached(name, resolve_weights_dir(weights_dir).resolve())


@cache
def _load_network_cached(name: str, weights_dir: Path) -> LoadedNetwork:
    manifest = read_network_manifest(name, weights_dir)
    if manifest.labels != list(MOODS):
        raise ModelError(f"Model {name!r} predicts {manifest.labels} but this version of mood expects {list(MOODS)}.")
    network = build_model(manifest.architecture, manifest.features, len(MOODS), manifest.architecture_config)
    load_verified_state(network, manifest, weights_dir / f"{name}.pt")
    network = network.to(memory_format=torch.channels_last).eval()  # faster fp32 convolutions on CPU
    return LoadedNetwork(manifest=manifest, network=network)


def load_onnx_network(name: str, weights_dir: Path | None = None, threads: int | None = None) -> OnnxNetwork:
    """The network ``name`` served from its ONNX export (cached per process, folder and ``threads``).

    Args:
        name: a network (not the ensemble).
        weights_dir: as :func:`resolve_weights_dir`.
        threads: intra-op threads of its forward passes (None: the process setting,
            :func:`mood.engine.onnx_runtime.set_session_threads`).

    Raises:
        ModelError: an ensemble name, no export recorded, a missing export, a sha256 or label mismatch.
    """
    with _load_lock:
        return _load_onnx_cached(name, resolve_weights_dir(weights_dir).resolve(), threads)


@cache
def _load_onnx_cached(name: str, weights_dir: Path, threads: int | None) -> OnnxNetwork:
    manifest = read_network_manifest(name, weights_dir)
    if manifest.labels != list(MOODS):
        raise ModelError(f"Model {name!r} predicts {manifest.labels} but this version of mood expects {list(MOODS)}.")
    if manifest.onnx is None:
        raise ModelError(
            f"{name}.json records no ONNX export of the network; "
            f"export it with python -m mood.engine.onnx_check {name} --ship --weights-dir {weights_dir}."
        )
    served = OnnxNetwork(manifest, weights_dir / manifest.onnx.file, manifest.onnx.sha256, threads)
    served.session()  # verify and build it now: a bad file fails at load, not at the first song
    return served


def load_verified_state(network: nn.Module, manifest: NetworkManifest, weights_path: Path) -> None:
    """Check ``weights_path`` against the manifest's sha256, then load it into ``network``.

    Raises:
        ModelError: the file is missing, does not match, or does not fit the network.
    """
    data = verified_bytes(weights_path, manifest.sha256)
    try:
        network.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    except (RuntimeError, KeyError, EOFError) as e:
        raise ModelError(f"The weights in {weights_path.name} do not fit the {manifest.architecture} network.") from e


def clear_cache() -> None:
    """Forget every loaded network (after weights on disk changed)."""
    _load_network_cached.cache_clear()
    _load_onnx_cached.cache_clear()


def save_network(
    network: nn.Module,
    name: str,
    weights_dir: Path,
    architecture: str,
    features: FrontEnd,
    **fields: Any,
) -> NetworkManifest:
    """Write `<name>.pt` (state dict), `<name>.onnx` (its export) and `<name>.json` (manifest); return the manifest.

    The manifest records the network's own config (its shape) as ``architecture_config`` and
    the export's file and sha256 as ``onnx``.
    ``fields`` are the manifest's optional fields (``trained_on``, ``cv``, ``recipe``, ...).

    Raises:
        ModelError: the network records no config of ``architecture``.
    """
    config = config_of(network, architecture)
    weights_dir.mkdir(parents=True, exist_ok=True)
    weights_path = weights_dir / f"{name}.pt"
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    torch.save(state, weights_path)
    manifest = NetworkManifest(
        name=name,
        architecture=architecture,
        architecture_config=config,
        labels=list(MOODS),
        features=features,
        params=sum(p.numel() for p in network.parameters()),
        sha256=sha256_of(weights_path),
        created=now_iso(),
        **fields,
        onnx=export_of(network, features, weights_dir / f"{name}.onnx"),
    )
    write_manifest(manifest, weights_dir)
    return manifest


def export_of(network: nn.Module, features: FrontEnd, path: Path) -> OnnxExport:
    """Export ``network`` to ``path`` (:func:`mood.engine.onnx_export.export_network`) and describe the file."""
    export_network(network, features, path)
    return OnnxExport(file=path.name, sha256=sha256_of(path), opset=ONNX_OPSET)


def write_manifest(manifest: Manifest, weights_dir: Path) -> None:
    """Write a manifest as readable JSON to `weights_dir/<name>.json`."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    (weights_dir / f"{manifest.name}.json").write_text(json.dumps(manifest_dict(manifest), indent=2) + "\n")


def now_iso() -> str:
    """The current UTC time, to the second, for manifests."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
