"""A wheel built from the checkout, installed in a clean venv, judges a song with its own weights.

How the clean venv is made, and why:

* The wheel is built with the project venv's pip (``pip wheel --no-deps --no-build-isolation``)
  from a copy of the checkout's build inputs (``pyproject.toml``, the requirements files it
  reads, ``mood/``): setuptools never cleans its ``build/`` folder, so building in the checkout
  itself could ship modules that have since moved, and would leave ``build/`` in the tree.
* The venv is made with ``python -m venv --without-pip`` in a temporary folder, and the wheel is
  installed into it with ``--no-deps`` (``pip --python VENV_PYTHON``), which also writes the
  venv's ``mood`` console script.
* Installing torch and the rest there would copy gigabytes, so the venv gets the dependencies
  through one ``.pth`` file in its site-packages holding a single plain line: the project venv's
  site-packages folder. ``site`` appends such a line to ``sys.path`` after the venv's own
  site-packages, and does not process the ``.pth`` files inside the folder it appends, so the
  project's editable-install finder (``__editable__.mood-*.pth``) never runs. The test checks
  that ``import mood`` resolves to the wheel's copy inside the clean venv.
* Every command runs from a temporary working directory with ``PYTHONPATH`` and
  ``$MOOD_WEIGHTS_DIR`` unset, so neither the source tree nor another weights folder is reachable.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from mood.cli import main
from mood.constants import MOODS
from mood.engine.weights import SHIPPED_WEIGHTS_DIR, WEIGHTS_DIR_ENV
from tests.helpers import chord_progression, write_audio

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = (
    "pyproject.toml",
    "requirements.txt",
    "requirements-scale.txt",
    "requirements-train.txt",
)  # what pyproject.toml reads
COMMAND_TIMEOUT_S = 300
CLIP_SECONDS = 6.0


PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check")  # the project venv's pip


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", WEIGHTS_DIR_ENV, "VIRTUAL_ENV")}
    return env | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1"}


def _run(*argv: str | Path, cwd: Path) -> str:
    """Run ``argv`` in ``cwd`` with the clean environment; its stdout (the test fails on a non-zero exit)."""
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
    )
    assert done.returncode == 0, f"{done.args} failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return done.stdout


@dataclass(frozen=True)
class CleanVenv:
    """A venv holding only the wheel (its dependencies reached through a ``.pth`` line)."""

    root: Path
    wheel: Path
    cwd: Path  # a neutral working directory, outside the checkout

    @property
    def bin(self) -> Path:
        """The venv's scripts folder (its ``python`` and ``mood``)."""
        return self.root / "bin"

    def run(self, *argv: str | Path) -> str:
        """Run ``argv`` from the neutral working directory; its stdout."""
        return _run(*argv, cwd=self.cwd)


def _build_wheel(tmp: Path) -> Path:
    source = tmp / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        shutil.copy2(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "mood", source / "mood", ignore=shutil.ignore_patterns("__pycache__"))
    _run(*PIP, "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", tmp / "dist", ".", cwd=source)
    (wheel,) = (tmp / "dist").glob("mood-*.whl")
    return wheel


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> CleanVenv:
    tmp = tmp_path_factory.mktemp("wheel")
    (tmp / "elsewhere").mkdir()
    clean = CleanVenv(root=tmp / "venv", wheel=_build_wheel(tmp), cwd=tmp / "elsewhere")
    clean.run(sys.executable, "-m", "venv", "--without-pip", clean.root)
    clean.run(*PIP, "--python", clean.bin / "python", "install", "--quiet", "--no-deps", "--no-index", clean.wheel)
    site_packages = clean.run(clean.bin / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    (Path(site_packages.strip()) / "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return clean


def test_the_wheel_holds_every_shipped_weight_and_manifest(venv: CleanVenv) -> None:
    shipped = {f"mood/weights/{p.relative_to(SHIPPED_WEIGHTS_DIR)}" for p in SHIPPED_WEIGHTS_DIR.rglob("*")}
    shipped = {name for name in shipped if name.endswith((".pt", ".onnx", ".json"))}
    assert any(name.startswith("mood/weights/backbones/") for name in shipped)
    with zipfile.ZipFile(venv.wheel) as wheel:
        assert shipped <= set(wheel.namelist())


def test_mood_imports_from_the_clean_venv_not_the_checkout(venv: CleanVenv) -> None:
    probe = "import mood, mood.engine.weights as w; print(mood.__file__); print(w.SHIPPED_WEIGHTS_DIR)"
    module_file, weights_dir = venv.run(venv.bin / "python", "-c", probe).splitlines()
    assert Path(module_file).is_relative_to(venv.root)
    assert Path(weights_dir).is_relative_to(venv.root) and (Path(weights_dir) / "cldnn.pt").is_file()


def test_the_installed_mood_command_judges_a_clip_as_the_checkout_does(
    venv: CleanVenv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = write_audio(chord_progression(seconds=CLIP_SECONDS, seed=3), tmp_path / "clip.wav")
    (line,) = venv.run(venv.bin / "mood", "analyze", "--model", "cldnn", "--json", clip).splitlines()
    record = json.loads(line)
    assert record["model"] == "cldnn" and record["mood"] in MOODS
    assert list(record["probabilities"]) == list(MOODS)
    assert record["duration_s"] == pytest.approx(CLIP_SECONDS, abs=0.1)

    monkeypatch.delenv(WEIGHTS_DIR_ENV, raising=False)
    checkout = io.StringIO()
    assert main(["analyze", "--model", "cldnn", "--json", str(clip)], out=checkout) == 0
    expected = json.loads(checkout.getvalue())
    assert record["mood"] == expected["mood"]
    assert record["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
