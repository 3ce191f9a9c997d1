"""The mood networks as torch modules: load them verified (training, tests), save them with their ONNX export.

Loading checks the `.pt` file's sha256 and the labels before the state dict is read
(``weights_only``); loaded networks are cached per process and folder. Saving writes
`<name>.pt`, its export `<name>.onnx` and the manifest. Serving needs none of this
(:func:`mood.engine.weights.load_onnx_network` runs the export without torch).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from mood.constants import INFERENCE_BATCH_SIZE, MOODS
from mood.engine import weights
from mood.engine.features import FloatArray, FrontEnd
from mood.engine.integrity import sha256_of, verified_bytes
from mood.engine.manifest import NetworkManifest, OnnxExport
from mood.engine.models import build_model, config_of
from mood.engine.onnx_export import ONNX_OPSET, export_network
from mood.engine.weights import now_iso, read_network_manifest, resolve_weights_dir, write_manifest
from mood.errors import ModelError

_load_lock = threading.Lock()


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
    """Forget every loaded network, torch modules and ONNX sessions (after weights on disk changed)."""
    _load_network_cached.cache_clear()
    weights.clear_cache()


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
