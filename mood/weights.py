"""The weights registry: save, verify and load `weights/<name>.pt` with its manifest.

A manifest (`weights/<name>.json`, DESIGN.md) says how to rebuild the network and which
features it was trained on; loading checks the file's sha256 and the labels. Loaded models
are cached per process and safe to call from several threads (the app serves many people).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from mood.constants import INFERENCE_BATCH_SIZE, MOODS
from mood.errors import ModelError
from mood.features import FeatureConfig
from mood.models import build_model

SHIPPED_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS_DIR_ENV = "MOOD_WEIGHTS_DIR"  # overrides the shipped folder (deployments, tests)
ENSEMBLE = "ensemble"


def resolve_weights_dir(weights_dir: Path | None = None) -> Path:
    """``weights_dir`` if given, else ``$MOOD_WEIGHTS_DIR`` if set, else the shipped weights."""
    if weights_dir is not None:
        return Path(weights_dir)
    return Path(os.environ.get(WEIGHTS_DIR_ENV) or SHIPPED_WEIGHTS_DIR)


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A verified network in eval mode, with its manifest."""

    name: str
    network: nn.Module
    manifest: dict[str, Any]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def feature_config(self) -> FeatureConfig:
        """The features this model was trained on."""
        return FeatureConfig.from_dict(self.manifest)

    def window_probabilities(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Softmax probabilities for a stack of windows (see :func:`window_probabilities`)."""
        with self._lock:
            return window_probabilities(self.network, windows)


def window_probabilities(network: nn.Module, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Softmax probabilities of an eval-mode network for a stack of windows, in batches.

    Args:
        network: a model from :func:`mood.models.build_model`, in eval mode.
        windows: float32, shape ``(n_windows, n_mels, window_frames)``.

    Returns:
        float32, shape ``(n_windows, len(MOODS))``.
    """
    batches = []
    with torch.inference_mode():
        for start in range(0, len(windows), INFERENCE_BATCH_SIZE):
            batch = torch.from_numpy(np.ascontiguousarray(windows[start : start + INFERENCE_BATCH_SIZE]))
            batches.append(torch.softmax(network(batch).float(), dim=1).numpy())
    return np.concatenate(batches).astype(np.float32)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's contents."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(name: str, weights_dir: Path | None = None) -> dict[str, Any]:
    """The manifest `weights_dir/<name>.json`.

    Raises:
        ModelError: it is missing or not valid JSON; the message lists the available models.
    """
    weights_dir = resolve_weights_dir(weights_dir)
    path = weights_dir / f"{name}.json"
    if not path.is_file():
        available = ", ".join(available_models(weights_dir)) or "none"
        raise ModelError(f"No model named {name!r} in {weights_dir}. Available: {available}.")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"The manifest {path.name} is corrupt ({e}); restore it from the repository.") from e
    return manifest


def available_models(weights_dir: Path | None = None) -> list[str]:
    """Names of the models whose manifests are in ``weights_dir`` (the ensemble included)."""
    return sorted(p.stem for p in resolve_weights_dir(weights_dir).glob("*.json"))


def member_names(name: str, weights_dir: Path | None = None) -> list[str]:
    """The networks behind a model name: itself, or the members of the ensemble."""
    if name == ENSEMBLE:
        return list(read_manifest(ENSEMBLE, weights_dir)["members"])
    return [name]


def load_models(name: str, weights_dir: Path | None = None) -> list[LoadedModel]:
    """Every verified network behind ``name`` (one, or the ensemble's members)."""
    return [load_model(member, weights_dir) for member in member_names(name, weights_dir)]


_load_lock = threading.Lock()


def load_model(name: str, weights_dir: Path | None = None) -> LoadedModel:
    """Load, verify and cache one network (once per process and folder).

    Raises:
        ModelError: missing files, a sha256 or label mismatch, or weights that do not fit.
    """
    with _load_lock:
        return _load_model_cached(name, resolve_weights_dir(weights_dir).resolve())


@cache
def _load_model_cached(name: str, weights_dir: Path) -> LoadedModel:
    manifest = read_manifest(name, weights_dir)
    if list(manifest.get("labels", [])) != list(MOODS):
        raise ModelError(
            f"Model {name!r} predicts {manifest.get('labels')} but this version of mood expects {list(MOODS)}."
        )
    weights_path = weights_dir / f"{name}.pt"
    if not weights_path.is_file():
        raise ModelError(f"The weights file {weights_path.name} is missing; restore it from the repository.")
    actual = sha256_of(weights_path)
    if actual != manifest["sha256"]:
        raise ModelError(
            f"The weights file {weights_path.name} does not match its manifest "
            f"(expected sha256 {manifest['sha256'][:12]}…, found {actual[:12]}…); restore both from the repository."
        )
    network = build_model(manifest["architecture"], manifest["n_mels"], len(MOODS))
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        network.load_state_dict(state)
    except (RuntimeError, KeyError, EOFError) as e:
        raise ModelError(
            f"The weights in {weights_path.name} do not fit the {manifest['architecture']} network."
        ) from e
    network = network.to(memory_format=torch.channels_last).eval()  # ~1.3x faster fp32 convolutions on CPU
    return LoadedModel(name=name, network=network, manifest=manifest)


def clear_cache() -> None:
    """Forget every loaded model (after weights on disk changed)."""
    _load_model_cached.cache_clear()


def save_model(
    network: nn.Module,
    name: str,
    architecture: str,
    config: FeatureConfig,
    weights_dir: Path = SHIPPED_WEIGHTS_DIR,
    **extra: Any,
) -> dict[str, Any]:
    """Write `<name>.pt` (state dict) and `<name>.json` (manifest) and return the manifest.

    ``extra`` adds manifest fields such as ``trained_on``, ``cv`` or ``recipe``.
    """
    weights_dir.mkdir(parents=True, exist_ok=True)
    weights_path = weights_dir / f"{name}.pt"
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    torch.save(state, weights_path)
    manifest = {
        "name": name,
        "architecture": architecture,
        "labels": list(MOODS),
        **config.to_dict(),
        "params": sum(p.numel() for p in network.parameters()),
        "sha256": sha256_of(weights_path),
        **extra,
        "created": now_iso(),
    }
    write_manifest(manifest, name, weights_dir)
    return manifest


def write_manifest(manifest: dict[str, Any], name: str, weights_dir: Path = SHIPPED_WEIGHTS_DIR) -> None:
    """Write a manifest as readable JSON."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    (weights_dir / f"{name}.json").write_text(json.dumps(manifest, indent=2) + "\n")


def now_iso() -> str:
    """The current UTC time, to the second, for manifests."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
