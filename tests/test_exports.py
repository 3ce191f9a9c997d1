"""``python -m mood.training export``: the checked-in ONNX graphs are exactly what the code exports
from the shipped weights (so a change to how a network is exported cannot ship without them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mood.engine.weights import SHIPPED_WEIGHTS_DIR
from mood.training.cli import main

REEXPORTED = ("musicnn", "hybrid", "ensemble")  # the graphs that hold musicnn's front ends


def _forget_exports(folder: Path) -> None:
    """Delete each graph of ``REEXPORTED`` and blank the sha256 its manifest records."""
    for name in REEXPORTED:
        manifest_path = folder / f"{name}.json"
        manifest = json.loads(manifest_path.read_text())
        block = manifest["shared_export"] if name == "ensemble" else manifest["onnx"]
        (folder / block["file"]).unlink()
        block["sha256"] = "0" * 64
        manifest_path.write_text(json.dumps(manifest))


def test_exporting_again_reproduces_the_checked_in_graphs_and_manifests(tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    shutil.copytree(SHIPPED_WEIGHTS_DIR, folder)
    _forget_exports(folder)
    assert main(["export", *REEXPORTED, "--weights-dir", str(folder)]) == 0
    for name in REEXPORTED:
        shipped = json.loads((SHIPPED_WEIGHTS_DIR / f"{name}.json").read_text())
        assert json.loads((folder / f"{name}.json").read_text()) == shipped
        graph = (shipped["shared_export"] if name == "ensemble" else shipped["onnx"])["file"]
        assert (folder / graph).read_bytes() == (SHIPPED_WEIGHTS_DIR / graph).read_bytes(), (
            f"{graph} is not what the code exports: run python -m mood.training export"
        )


def test_exporting_an_unknown_model_says_which_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "nonesuch", "--weights-dir", str(SHIPPED_WEIGHTS_DIR)]) == 2
    err = capsys.readouterr().err
    assert "no model nonesuch" in err and "musicnn" in err
