"""Serving needs no torch: with torch, torchvision, onnx and onnxruntime unimportable (as in the environment
`make run` installs, requirements.txt), every serving module imports, every shipped model answers
and the CLI writes its JSON; the answers are the ones this process gives with torch installed."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mood
import webapp
from mood.cli import main
from mood.constants import MODEL_NAMES
from mood.engine.inference import Predictor
from tests.helpers import chord_progression, write_audio

TRAINING_ONLY = (  # the modules that may import torch or onnx: training, conversion, export
    "mood.training",
    "mood.engine.models",
    "mood.engine.torch_weights",
    "mood.engine.onnx_export",
    "mood.engine.onnx_check",
    "mood.engine.onnx_quantise",
    "mood.engine.onnx_runtime",  # ONNX Runtime: the float32 reference of checks and benchmarks
)
NOT_INSTALLED = ("torch", "torchvision", "onnx", "onnxruntime")  # not in requirements.txt: OpenVINO serves

SERVE_WITHOUT_TORCH = """
import importlib, importlib.abc, io, json, sys
from contextlib import redirect_stdout

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in NOT_INSTALLED:
            raise ImportError(f"No module named {name!r}")

sys.meta_path.insert(0, NotInstalled())
for module in MODULES:
    importlib.import_module(module)
from mood.cli import main
from mood.engine.inference import Predictor

song, json_out = sys.argv[1], sys.argv[2]
answers = {name: Predictor(name).predict(song).probabilities for name in MODEL_NAMES}
with redirect_stdout(io.StringIO()):
    status = main(["analyze", song, "--json", "--out", json_out])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in NOT_INSTALLED)
print(json.dumps({"answers": answers, "status": status, "loaded": loaded}))
"""


def serving_modules() -> list[str]:
    """Every module of the package and the app but the training-only ones (and ``__main__``)."""
    found = [m.name for pkg in (mood, webapp) for m in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}.")]
    return sorted(m for m in found if not m.startswith(TRAINING_ONLY) and not m.endswith("__main__"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path, Path]:
    folder = tmp_path_factory.mktemp("serving")
    song = write_audio(chord_progression(sr=44_100), folder / "song.wav", sr=44_100)
    json_out = folder / "moods.jsonl"
    preamble = f"NOT_INSTALLED = {NOT_INSTALLED!r}\nMODULES = {serving_modules()!r}\nMODEL_NAMES = {MODEL_NAMES!r}\n"
    done = subprocess.run(
        [sys.executable, "-c", preamble + SERVE_WITHOUT_TORCH, str(song), str(json_out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1]), song, json_out


def test_the_serving_modules_are_found() -> None:
    modules = serving_modules()
    for expected in ("mood.engine.inference", "mood.engine.hybrid", "mood.cli.analyze", "mood.service.analysis"):
        assert expected in modules
    assert "webapp.library_tab" in modules and not any(m.startswith(TRAINING_ONLY) for m in modules)


def test_every_model_answers_and_nothing_of_the_training_side_was_loaded(
    served: tuple[dict[str, object], Path, Path],
) -> None:
    result, _, _ = served
    assert result["loaded"] == []
    assert sorted(result["answers"]) == sorted(MODEL_NAMES)  # type: ignore[call-overload]


def test_the_answers_are_the_ones_given_with_torch_installed(served: tuple[dict[str, object], Path, Path]) -> None:
    result, song, _ = served
    answers: dict[str, dict[str, float]] = result["answers"]  # type: ignore[assignment]
    for name in MODEL_NAMES:
        here = Predictor(name).predict(song).probabilities
        np.testing.assert_allclose([answers[name][m] for m in here], list(here.values()), atol=1e-5)


def test_the_cli_writes_its_json_without_torch(served: tuple[dict[str, object], Path, Path], tmp_path: Path) -> None:
    result, song, json_out = served
    assert result["status"] == 0
    (row,) = [json.loads(line) for line in json_out.read_text().splitlines()]
    main(["analyze", str(song), "--out", str(tmp_path / "here.jsonl")])
    here = json.loads((tmp_path / "here.jsonl").read_text())
    assert row["mood"] == here["mood"] and row["probabilities"] == pytest.approx(here["probabilities"], abs=1e-5)
