"""Export shipped models to ONNX again from the weights they already have, training nothing.

    python -m mood.training export [MODEL ...]    # default: every model in the weights folder

What to run after a change to how a network becomes a graph (e.g. musicnn's dead front-end
filters left out of it): each network's `<name>.onnx` (:func:`mood.engine.onnx_check.ship_export`),
the hybrid's frozen backbones (:func:`mood.training.members.hybrid.export_backbones`) and the
ensemble's shared graph (:func:`mood.training.members.ensemble.write_shared_export`), each
recorded in its manifest with its new sha256; nothing else in a manifest changes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mood.engine.manifest import EnsembleManifest, HybridManifest, NetworkManifest
from mood.engine.onnx_check import ship_export
from mood.engine.weights import read_manifest, write_manifest
from mood.training.members.ensemble import write_shared_export
from mood.training.members.hybrid import export_backbones
from mood.training.members.musicnn import pretrained_network


def reexport(name: str, weights_dir: Path) -> str | None:
    """Export model ``name`` of ``weights_dir`` again and record it; the file written, or None
    (an ensemble whose members share no graph).

    Raises:
        ModelError: the model, or the weights it is exported from, cannot be read or verified.
    """
    manifest = read_manifest(name, weights_dir)
    if isinstance(manifest, EnsembleManifest):
        shared = write_shared_export(manifest.members, weights_dir)
        write_manifest(dataclasses.replace(manifest, shared_export=shared), weights_dir)
        return None if shared is None else shared.file
    written: HybridManifest | NetworkManifest
    if isinstance(manifest, HybridManifest):
        written = export_backbones(manifest, pretrained_network(weights_dir)[0], weights_dir)
    else:
        written = ship_export(name, weights_dir)
    return None if written.onnx is None else written.onnx.file
